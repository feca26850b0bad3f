"""The one interface every payment provider implements.

Two capabilities:
- invoices: ask for an amount now (a URL the driver opens, or a widget token) and learn
  the result by webhook or polling;
- holds (pre-authorisation): reserve a maximum, later capture at most that and release
  the rest.

Providers translate between our rows and the provider's API and nothing more: they never
change our state; services.py does that, once, from what the provider answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "secret",
        "password",
        "authorization_token",
        "client_token",
        "api_key",
        "token",
    }
)


def scrub(value):
    """A copy of a provider answer without secrets, safe to store and log."""
    if isinstance(value, dict):
        return {key: ("[removed]" if key.lower() in SECRET_KEYS else scrub(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass
class Created:
    reference: str
    url: str = ""
    client_token: str = ""
    answer: dict = field(default_factory=dict)


@dataclass
class Checked:
    status: str  # one of Payment.Status
    paid_amount: Decimal | None = None
    answer: dict = field(default_factory=dict)


@dataclass
class HoldChecked:
    authorized: bool
    failed: bool = False
    payment_intent_id: str = ""
    answer: dict = field(default_factory=dict)


class Provider:
    name = ""
    supports_invoices = True
    supports_holds = False

    def is_configured(self) -> bool:
        raise NotImplementedError

    # invoices
    def invoice_create(self, payment, *, description: str) -> Created:
        raise NotImplementedError

    def invoice_check(self, payment) -> Checked:
        raise NotImplementedError

    def invoice_cancel(self, payment) -> dict:
        raise NotImplementedError

    # holds
    def hold_create(self, reservation, *, success_url: str, cancel_url: str) -> Created:
        raise NotImplementedError

    def hold_check(self, reservation) -> HoldChecked:
        raise NotImplementedError

    def hold_capture(self, reservation, *, amount: Decimal) -> dict:
        raise NotImplementedError

    def hold_release(self, reservation) -> dict:
        raise NotImplementedError


def public_url(path: str) -> str:
    return settings.PAYMENTS_PUBLIC_BASE_URL.rstrip("/") + path
