"""Pages of the payments area: the sandbox pay page, the Klarna widget page, return pages."""

from __future__ import annotations

from csp.decorators import csp_update
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import DomainError
from payments import services
from payments.models import Payment, Provider, SandboxInvoice


@require_http_methods(["GET", "POST"])
def sandbox_pay(request: HttpRequest, reference) -> HttpResponse:
    invoice = SandboxInvoice.objects.filter(reference=reference).first()
    if invoice is None:
        raise Http404("No such sandbox invoice.")
    if request.method == "POST":
        try:
            invoice = services.sandbox_invoice_decide(reference=reference, outcome=request.POST.get("outcome", ""))
        except DomainError as exc:
            return render(request, "payments/sandbox_pay.html", {"invoice": invoice, "error": exc.message}, status=400)
        # Back to the client, as Stripe Checkout does: the success URL (with the session id)
        # once authorised or paid, the cancel URL otherwise; without them, this page again.
        succeeded = invoice.status in (SandboxInvoice.Status.AUTHORIZED, SandboxInvoice.Status.PAID)
        target = invoice.return_url if succeeded else invoice.cancel_url
        if target:
            return redirect(target)
        return redirect("payments:sandbox-pay", reference=invoice.reference)
    return render(request, "payments/sandbox_pay.html", {"invoice": invoice})


# Klarna's widget: its script, its iframes and their calls (config/settings/parts/security.py
# has the site-wide policy).
@csp_update(
    {
        "script-src": ["https://x.klarnacdn.net"],
        "frame-src": ["https://*.klarna.com", "https://*.klarnacdn.net"],
        "connect-src": ["https://*.klarna.com"],
        "img-src": ["https://*.klarnacdn.net"],
    }
)
@require_http_methods(["GET", "POST"])
def klarna_pay(request: HttpRequest, public_id) -> HttpResponse:
    payment = Payment.objects.filter(public_id=public_id, provider=Provider.KLARNA).first()
    if payment is None:
        raise Http404("No such invoice.")
    context = {"payment": payment}
    if request.method == "POST":
        token = request.POST.get("authorization_token", "").strip()
        if not token:
            context["error"] = "Klarna did not authorise the payment."
        else:
            try:
                services.klarna_authorize(invoice_id=str(payment.public_id), authorization_token=token)
            except DomainError as exc:
                context["error"] = exc.message
            payment.refresh_from_db()
    return render(request, "payments/klarna_pay.html", context)


def payment_return(request: HttpRequest) -> HttpResponse:
    return render(request, "payments/return.html", {"params": request.GET})


def reservation_return(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "payments/reservation_return.html",
        {
            "reservation_id": request.GET.get("reservationId", ""),
            "checkout_session_id": request.GET.get("session_id", ""),
            "canceled": bool(request.GET.get("canceled")),
        },
    )
