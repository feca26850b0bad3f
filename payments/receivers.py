"""How payments reacts to other areas' signals."""

from __future__ import annotations

from django.dispatch import receiver

from billing.signals import purchase_priced
from payments.signals import sandbox_invoice_decided


@receiver(purchase_priced, dispatch_uid="payments-settle-reservation")
def settle_reservation_when_priced(sender, *, session_id: int, **kwargs) -> None:
    # The task finds the session's reservation (if any) and captures what the purchase
    # costs; without one it does nothing, so it is safe for every finished session.
    from payments.tasks import settle_reservation_for_session

    settle_reservation_for_session.delay(session_id)


@receiver(sandbox_invoice_decided, dispatch_uid="payments-sandbox-notify")
def notify_sandbox_decision(sender, *, reference: str, event_id: str, **kwargs) -> None:
    # The sandbox "provider" calls us back like a real provider's webhook would.
    from payments.tasks import sandbox_notify

    sandbox_notify.delay(reference, event_id)
