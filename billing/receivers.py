"""How billing reacts to sessions_app (which may not import billing: it sits below it)."""

from __future__ import annotations

from django.dispatch import receiver

from billing import selectors, services
from sessions_app.signals import register_running_cost, session_completed


@receiver(session_completed, dispatch_uid="billing-price-completed-session")
def price_completed_session(sender, *, session_id: int, **kwargs) -> None:
    services.purchase_create_for_session(session_id=session_id)


def connect() -> None:
    register_running_cost(lambda *, session: selectors.session_running_cost(session=session))
