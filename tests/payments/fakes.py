"""Stand-ins for the providers' HTTP APIs: a real local HTTP server per test, so our code
(and the stripe package) talk real HTTP to it. Only that boundary is faked."""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    raw: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.raw or b"{}")

    @property
    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.raw.decode()).items()}


@dataclass
class FakeServer:
    routes: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    down: bool = False

    def route(self, method: str, pattern: str):
        def register(handler):
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))
            return handler

        return register

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers), raw)
                fake.requests.append(request)
                status, body = 404, {"error": "no route"}
                if fake.down:
                    status, body = 503, {"error": "down"}
                else:
                    for method, pattern, handler in fake.routes:
                        match = pattern.match(parts.path)
                        if method == self.command and match:
                            status, body = handler(request, *match.groups())
                            break
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str, path_prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]


def fake_qpay() -> FakeServer:
    server = FakeServer()
    server.invoices = {}
    counter = itertools.count(1)

    @server.route("POST", "/v2/auth/token")
    def token(request):
        if "Authorization" not in request.headers:
            return 401, {"error": "NO_CREDENTIALS"}
        return 200, {"access_token": "qpay-access-token", "expires_in": 3600, "refresh_token": "r"}

    @server.route("POST", "/v2/invoice")
    def create(request):
        body = request.json
        for invoice in server.invoices.values():
            if invoice["sender_invoice_no"] == body["sender_invoice_no"]:
                return 200, invoice["answer"]
        invoice_id = f"qpay-inv-{next(counter)}"
        answer = {
            "invoice_id": invoice_id,
            "qr_text": "qr",
            "qr_image": "iVBOR...",
            "qPay_shortUrl": f"https://s.qpay.test/{invoice_id}",
            "urls": [{"name": "Bank", "link": f"bank://pay/{invoice_id}"}],
        }
        server.invoices[invoice_id] = {
            "sender_invoice_no": body["sender_invoice_no"],
            "amount": body["amount"],
            "rows": [],
            "answer": answer,
            "body": body,
        }
        return 200, answer

    @server.route("POST", "/v2/payment/check")
    def check(request):
        invoice = server.invoices.get(request.json["object_id"])
        if invoice is None:
            return 404, {"error": "INVOICE_NOTFOUND"}
        paid = sum(r["payment_amount"] for r in invoice["rows"] if r["payment_status"] == "PAID")
        return 200, {"count": len(invoice["rows"]), "paid_amount": paid, "rows": invoice["rows"]}

    @server.route("DELETE", "/v2/invoice/([^/]+)")
    def cancel(request, invoice_id):
        invoice = server.invoices.get(invoice_id)
        if invoice is None or invoice["rows"]:
            return 422, {"error": "INVOICE_PAID"}
        invoice["canceled"] = True
        return 200, {}

    def pay(invoice_id: str, amount=None) -> None:
        invoice = server.invoices[invoice_id]
        invoice["rows"].append(
            {
                "payment_id": f"pay-{invoice_id}",
                "payment_status": "PAID",
                "payment_amount": amount if amount is not None else invoice["amount"],
                "payment_date": "2025-01-01",
            }
        )

    server.pay = pay
    return server


def fake_stripe() -> FakeServer:
    server = FakeServer()
    server.sessions, server.intents, server.idempotent = {}, {}, {}
    counter = itertools.count(1)

    def _session_view(session, expand):
        view = dict(session)
        if expand and session["payment_intent"]:
            view["payment_intent"] = server.intents[session["payment_intent"]]
        return view

    @server.route("POST", "/v1/checkout/sessions")
    def create(request):
        key = request.headers.get("Idempotency-Key")
        if key in server.idempotent:
            return 200, server.idempotent[key]
        form = request.form
        n = next(counter)
        session = {
            "id": f"cs_test_{n}",
            "object": "checkout.session",
            "status": "open",
            "payment_status": "unpaid",
            "url": f"https://checkout.stripe.test/c/pay/cs_test_{n}",
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "metadata": {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")},
            "capture_method": form.get("payment_intent_data[capture_method]", "automatic"),
            "payment_intent": None,
            "success_url": form["success_url"],
        }
        server.sessions[session["id"]] = session
        server.idempotent[key] = session
        return 200, session

    @server.route("GET", "/v1/checkout/sessions/([^/]+)")
    def retrieve(request, session_id):
        session = server.sessions.get(session_id)
        if session is None:
            return 404, {
                "error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such session"}
            }
        return 200, _session_view(session, "payment_intent" in request.query.get("expand[0]", []))

    @server.route("POST", "/v1/checkout/sessions/([^/]+)/expire")
    def expire(request, session_id):
        session = server.sessions[session_id]
        if session["status"] != "open":
            return 400, {
                "error": {"type": "invalid_request_error", "code": "checkout_session_not_open", "message": "not open"}
            }
        session["status"] = "expired"
        return 200, session

    @server.route("POST", "/v1/payment_intents/([^/]+)/capture")
    def capture(request, intent_id):
        key = request.headers.get("Idempotency-Key")
        if key in server.idempotent:
            return 200, server.idempotent[key]
        intent = server.intents[intent_id]
        amount = int(request.form.get("amount_to_capture", intent["amount_capturable"]))
        if intent["status"] != "requires_capture" or amount > intent["amount_capturable"]:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "amount_too_large"
                    if intent["status"] == "requires_capture"
                    else "payment_intent_unexpected_state",
                    "message": "no",
                }
            }
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        server.idempotent[key] = dict(intent)
        return 200, intent

    @server.route("POST", "/v1/payment_intents/([^/]+)/cancel")
    def cancel(request, intent_id):
        intent = server.intents[intent_id]
        if intent["status"] == "succeeded":
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "payment_intent_unexpected_state",
                    "message": "captured",
                }
            }
        intent.update(status="canceled", amount_capturable=0)
        return 200, intent

    def complete(session_id: str) -> dict:
        """The customer finishes the checkout."""
        session = server.sessions[session_id]
        intent_id = f"pi_test_{session_id}"
        manual = session["capture_method"] == "manual"
        server.intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "status": "requires_capture" if manual else "succeeded",
            "amount_capturable": session["amount_total"] if manual else 0,
            "amount_received": 0 if manual else session["amount_total"],
            "metadata": session["metadata"],
        }
        session.update(status="complete", payment_status="unpaid" if manual else "paid", payment_intent=intent_id)
        return session

    server.complete = complete
    return server


def fake_klarna() -> FakeServer:
    server = FakeServer()
    server.orders = {}
    counter = itertools.count(1)

    @server.route("POST", "/payments/v1/sessions")
    def session(request):
        n = next(counter)
        server.last_session_body = request.json
        return 200, {
            "session_id": f"klarna-session-{n}",
            "client_token": f"client-token-{n}",
            "payment_method_categories": [],
        }

    @server.route("POST", "/payments/v1/authorizations/([^/]+)/order")
    def order(request, token):
        if token != "good-authorization-token":
            return 400, {"error_code": "NOT_FOUND"}
        order_id = f"klarna-order-{next(counter)}"
        server.orders[order_id] = {
            "order_id": order_id,
            "status": "AUTHORIZED",
            "fraud_status": "ACCEPTED",
            "order_amount": request.json["order_amount"],
            "captured_amount": 0,
        }
        return 200, {"order_id": order_id, "fraud_status": "ACCEPTED", "redirect_url": "https://klarna.test/r"}

    server.failing_captures = 0  # the next this many captures answer 503
    server.capture_keys = set()

    @server.route("POST", "/ordermanagement/v1/orders/([^/]+)/captures")
    def capture(request, order_id):
        if server.failing_captures:
            server.failing_captures -= 1
            return 503, {"error_code": "TEMPORARILY_UNAVAILABLE"}
        key = request.headers.get("Klarna-Idempotency-Key")
        if key and key in server.capture_keys:  # Klarna answers a repeated key without a second capture
            return 201, {}
        server.capture_keys.add(key)
        order = server.orders[order_id]
        order["captured_amount"] += request.json["captured_amount"]
        order["status"] = "CAPTURED"
        return 201, {}

    @server.route("GET", "/ordermanagement/v1/orders/([^/]+)")
    def get(request, order_id):
        return 200, server.orders[order_id]

    return server
