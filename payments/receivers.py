"""How payments reacts to other areas' signals."""
from __future__ import annotations

from django.dispatch import receiver

from billing.signals import purchase_priced


@receiver(purchase_priced, dispatch_uid="payments-settle-reservation")
def settle_reservation_when_priced(sender, *, session_id: int, **kwargs) -> None:
    # The task finds the session's reservation (if any) and captures what the purchase
    # costs; without one it does nothing, so it is safe for every finished session.
    from payments.tasks import settle_reservation_for_session

    settle_reservation_for_session.delay(session_id)
