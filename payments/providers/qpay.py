"""QPay (merchant API v2): an invoice with a payment URL, paid in the driver's bank app.

QPay works in whole units of the invoice currency (tögrög), so an amount with a fraction
is refused rather than silently rounded. Callbacks carry nothing we trust: on a callback
we ask QPay's payment/check, the same call the poller makes.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from payments.errors import ProviderError
from payments.models import Payment

from . import http
from .base import Checked, Created, Provider, public_url, scrub

TOKEN_CACHE_KEY = "payments:qpay:token"


def whole_units(amount: Decimal) -> int:
    if amount != amount.to_integral_value():
        raise ProviderError(f"QPay invoices are in whole units; {amount} has a fraction", retryable=False)
    return int(amount)


class QPayProvider(Provider):
    name = "qpay"

    def is_configured(self) -> bool:
        return bool(settings.QPAY_CLIENT_ID and settings.QPAY_CLIENT_SECRET and settings.QPAY_INVOICE_CODE)

    def _url(self, path: str) -> str:
        return settings.QPAY_BASE_URL.rstrip("/") + path

    def _token(self) -> str:
        token = cache.get(TOKEN_CACHE_KEY)
        if token:
            return token
        answer = http.call(
            "POST", self._url("/v2/auth/token"), auth=(settings.QPAY_CLIENT_ID, settings.QPAY_CLIENT_SECRET)
        )
        token = answer.get("access_token")
        if not token:
            raise ProviderError("QPay gave no access token")
        lifetime = int(answer.get("expires_in") or 3600)
        # QPay's expires_in is sometimes an absolute epoch; keep the cache short either way.
        cache.set(TOKEN_CACHE_KEY, token, timeout=max(60, min(lifetime, 3600) - 60))
        return token

    def _call(self, method: str, path: str, *, body: dict | None = None, idempotency_key: str = "") -> dict:
        headers = {"Authorization": f"Bearer {self._token()}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            return http.call(method, self._url(path), body=body, headers=headers)
        except ProviderError as exc:
            if exc.answer.get("error") in ("NO_CREDENDIALS", "NO_CREDENTIALS", "TOKEN_EXPIRED"):
                cache.delete(TOKEN_CACHE_KEY)
            raise

    def invoice_create(self, payment, *, description: str) -> Created:
        body = {
            "invoice_code": settings.QPAY_INVOICE_CODE,
            # Our payment's key doubles as QPay's per-merchant invoice number, so a retried
            # create cannot open a second invoice.
            "sender_invoice_no": payment.idempotency_key[:45],
            "invoice_receiver_code": str(payment.user_id),
            "invoice_description": description[:255],
            "amount": whole_units(payment.amount),
            "callback_url": public_url(reverse("payments-api:webhook-qpay", args=[payment.public_id])),
        }
        answer = self._call("POST", "/v2/invoice", body=body, idempotency_key=payment.idempotency_key)
        invoice_id = answer.get("invoice_id")
        if not invoice_id:
            raise ProviderError("QPay answered without an invoice_id", answer=scrub(answer))
        url = answer.get("qPay_shortUrl") or next(
            (u.get("link") for u in answer.get("urls") or [] if u.get("link")), ""
        )
        # qr_image is a large base64 blob: not worth storing.
        kept = {k: v for k, v in answer.items() if k in ("invoice_id", "qPay_shortUrl", "qr_text")}
        return Created(reference=str(invoice_id), url=url, answer=kept)

    def invoice_check(self, payment) -> Checked:
        body = {
            "object_type": "INVOICE",
            "object_id": payment.provider_reference,
            "offset": {"page_number": 1, "page_limit": 100},
        }
        answer = self._call("POST", "/v2/payment/check", body=body)
        rows = answer.get("rows") or []
        paid = sum(
            (Decimal(str(r.get("payment_amount") or 0)) for r in rows if r.get("payment_status") == "PAID"), Decimal(0)
        )
        if paid and paid >= payment.amount:
            status = Payment.Status.SUCCESS
        elif rows and all(r.get("payment_status") in ("FAILED",) for r in rows):
            status = Payment.Status.ERROR
        else:
            status = Payment.Status.PENDING
        kept = {
            "count": answer.get("count"),
            "paid_amount": str(paid),
            "rows": [
                {k: r.get(k) for k in ("payment_id", "payment_status", "payment_amount", "payment_date")} for r in rows
            ],
        }
        return Checked(status=status, paid_amount=paid, answer=scrub(kept))

    def invoice_cancel(self, payment) -> dict:
        return scrub(self._call("DELETE", f"/v2/invoice/{payment.provider_reference}"))
