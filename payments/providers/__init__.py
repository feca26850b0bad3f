"""Payment providers behind one interface (see base.Provider)."""

from __future__ import annotations

from .base import Checked, Created, HoldChecked, Provider
from .klarna import KlarnaProvider
from .qpay import QPayProvider
from .sandbox import SandboxProvider
from .stripe_checkout import StripeProvider
from .wallet import WalletProvider

_PROVIDERS: dict[str, Provider] = {
    p.name: p for p in (WalletProvider(), SandboxProvider(), QPayProvider(), StripeProvider(), KlarnaProvider())
}


def get_provider(name: str) -> Provider:
    return _PROVIDERS[name]


__all__ = ["Checked", "Created", "HoldChecked", "Provider", "get_provider"]
