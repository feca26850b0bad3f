"""Reads of the payments area."""

from __future__ import annotations

from django.conf import settings

from config.validation import parse_database_id
from payments.models import Payment, Provider, Reservation
from payments.providers import get_provider

# The driver app's option names, in the order we show them.
OPTIONS = ("EVM", "QPAY", "KLARNA", "STRIPE", "SANDBOX")
_TITLES = {
    "EVM": "Wallet balance",
    "QPAY": "QPay (bank app)",
    "KLARNA": "Klarna",
    "STRIPE": "Card (Stripe)",
    "SANDBOX": "Test payment (sandbox)",
}
PROVIDER_OPTION = {
    Provider.WALLET: "EVM",
    Provider.QPAY: "QPAY",
    Provider.KLARNA: "KLARNA",
    Provider.STRIPE: "STRIPE",
    Provider.SANDBOX: "SANDBOX",
}


def option_provider(option: str) -> str | None:
    """The provider that serves an option now, or None when the option is disabled."""
    option = (option or "").upper()
    if option == "EVM":
        return Provider.WALLET
    if option == "QPAY":
        if get_provider(Provider.QPAY).is_configured():
            return Provider.QPAY
        if settings.QPAY_FALLBACK_TO_SANDBOX and get_provider(Provider.SANDBOX).is_configured():
            return Provider.SANDBOX
        return None
    name = {"KLARNA": Provider.KLARNA, "STRIPE": Provider.STRIPE, "SANDBOX": Provider.SANDBOX}.get(option)
    if name is None or not get_provider(name).is_configured():
        return None
    return name


def payment_options(*, user=None) -> list[dict]:
    base = settings.STATIC_URL.rstrip("/")
    return [
        {
            "option": option,
            "icon": f"{base}/payments/{option.lower()}.svg",
            "title": _TITLES[option],
            "disabled": option_provider(option) is None,
        }
        for option in OPTIONS
    ]


def payment_find_for_user(
    *,
    user_id: int,
    invoice_id: str,
    purpose: str,
    purchase_id: int | None = None,
) -> Payment | None:
    """The payment a driver's invoiceId names: our public id, the provider's invoice id, or,
    for wallet payments, the purchase id. With `purchase_id`, only a payment of that
    purchase: an invoice of another purchase is not found."""
    invoice_id = (invoice_id or "").strip()
    mine = Payment.objects.filter(user_id=user_id, purpose=purpose)
    if purchase_id is not None:
        mine = mine.filter(purchase_id=purchase_id)
    if not invoice_id:
        return None
    try:
        import uuid

        return (
            mine.filter(public_id=uuid.UUID(invoice_id)).first() or mine.filter(provider_reference=invoice_id).first()
        )
    except ValueError:
        pass
    found = mine.filter(provider_reference=invoice_id).first()
    invoice_pk = parse_database_id(invoice_id)
    if found is None and invoice_pk is not None and purpose == Payment.Purpose.PURCHASE:
        payments = mine.filter(purchase_id=invoice_pk)
        found = payments.filter(status=Payment.Status.SUCCESS).first() or payments.first()
    return found


def payments_pending(*, providers: list[str] | None = None):
    qs = Payment.objects.filter(status=Payment.Status.PENDING, provider_reference__isnull=False)
    if providers:
        qs = qs.filter(provider__in=providers)
    return qs.order_by("created_at")


def reservation_for_session(*, session_id: int) -> Reservation | None:
    return Reservation.objects.filter(session_id=session_id).first()
