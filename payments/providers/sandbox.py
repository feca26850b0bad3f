"""The sandbox provider: our own hosted pay page, so every flow runs offline.

Its "remote side" is the SandboxInvoice table; the pay page (payments/views.py) moves those
rows and then notifies us like a real provider's webhook would.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from payments.errors import ProviderError
from payments.models import Payment, SandboxInvoice

from .base import Checked, Created, HoldChecked, Provider, public_url

_INVOICE_STATUS = {
    SandboxInvoice.Status.PENDING: Payment.Status.PENDING,
    SandboxInvoice.Status.PAID: Payment.Status.SUCCESS,
    SandboxInvoice.Status.DECLINED: Payment.Status.ERROR,
    SandboxInvoice.Status.CANCELED: Payment.Status.CANCELED,
}


CHECKOUT_SESSION_ID = "{CHECKOUT_SESSION_ID}"


def pay_page_url(reference) -> str:
    return public_url(reverse("payments:sandbox-pay", args=[reference]))


def _answer(invoice: SandboxInvoice) -> dict:
    return {
        "reference": str(invoice.reference),
        "kind": invoice.kind,
        "status": invoice.status,
        "amount": str(invoice.amount),
        "currency": invoice.currency,
    }


class SandboxProvider(Provider):
    name = "sandbox"
    supports_holds = True

    def is_configured(self) -> bool:
        return settings.PAYMENTS_SANDBOX_ENABLED

    def _open(
        self,
        *,
        idempotency_key: str,
        kind: str,
        amount: Decimal,
        currency: str,
        description: str,
        success_url: str = "",
        cancel_url: str = "",
    ) -> Created:
        invoice, created = SandboxInvoice.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={"kind": kind, "amount": amount, "currency": currency, "description": description[:200]},
        )
        if created and (success_url or cancel_url):
            # Stripe fills {CHECKOUT_SESSION_ID} in the success URL; the sandbox's session id
            # is the invoice reference.
            invoice.return_url = success_url.replace(CHECKOUT_SESSION_ID, str(invoice.reference))
            invoice.cancel_url = cancel_url.replace(CHECKOUT_SESSION_ID, str(invoice.reference))
            invoice.save(update_fields=["return_url", "cancel_url"])
        return Created(reference=str(invoice.reference), url=pay_page_url(invoice.reference), answer=_answer(invoice))

    def _get(self, reference) -> SandboxInvoice:
        invoice = SandboxInvoice.objects.filter(reference=reference).first()
        if invoice is None:
            raise ProviderError(f"sandbox invoice {reference} not found", retryable=False)
        return invoice

    def invoice_create(self, payment, *, description: str) -> Created:
        return self._open(
            idempotency_key=payment.idempotency_key,
            kind=SandboxInvoice.Kind.INVOICE,
            amount=payment.amount,
            currency=payment.currency,
            description=description,
        )

    def invoice_check(self, payment) -> Checked:
        invoice = self._get(payment.provider_reference)
        status = _INVOICE_STATUS.get(invoice.status, Payment.Status.PENDING)
        paid = invoice.amount if status == Payment.Status.SUCCESS else None
        return Checked(status=status, paid_amount=paid, answer=_answer(invoice))

    def invoice_cancel(self, payment) -> dict:
        SandboxInvoice.objects.filter(
            reference=payment.provider_reference, status=SandboxInvoice.Status.PENDING
        ).update(status=SandboxInvoice.Status.CANCELED)
        return _answer(self._get(payment.provider_reference))

    def hold_create(self, reservation, *, success_url: str, cancel_url: str) -> Created:
        return self._open(
            idempotency_key=f"reservation-{reservation.pk}",
            kind=SandboxInvoice.Kind.HOLD,
            amount=reservation.max_amount,
            currency=reservation.currency,
            description=f"Charging at {reservation.charge_point_id}",
            success_url=success_url,
            cancel_url=cancel_url,
        )

    def hold_check(self, reservation) -> HoldChecked:
        invoice = self._get(reservation.checkout_session_id)
        return HoldChecked(
            authorized=invoice.status in (SandboxInvoice.Status.AUTHORIZED, SandboxInvoice.Status.CAPTURED),
            failed=invoice.status
            in (SandboxInvoice.Status.DECLINED, SandboxInvoice.Status.CANCELED, SandboxInvoice.Status.RELEASED),
            payment_intent_id=f"sbx_{invoice.reference.hex}",
            answer=_answer(invoice),
        )

    def hold_capture(self, reservation, *, amount: Decimal) -> dict:
        invoice = self._get(reservation.checkout_session_id)
        if amount > invoice.amount:
            raise ProviderError("cannot capture more than authorised", retryable=False)
        updated = SandboxInvoice.objects.filter(pk=invoice.pk, status=SandboxInvoice.Status.AUTHORIZED).update(
            status=SandboxInvoice.Status.CAPTURED, captured_amount=amount
        )
        invoice.refresh_from_db()
        if not updated and not (invoice.status == SandboxInvoice.Status.CAPTURED and invoice.captured_amount == amount):
            raise ProviderError(f"sandbox hold is {invoice.status}, cannot capture", retryable=False)
        return _answer(invoice) | {"captured_amount": str(invoice.captured_amount)}

    def hold_release(self, reservation) -> dict:
        SandboxInvoice.objects.filter(
            reference=reservation.checkout_session_id,
            status__in=[SandboxInvoice.Status.PENDING, SandboxInvoice.Status.AUTHORIZED],
        ).update(status=SandboxInvoice.Status.RELEASED)
        return _answer(self._get(reservation.checkout_session_id))
