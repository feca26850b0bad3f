"""The wallet ("EVM" in the driver app): pays at once from the ledger in billing.wallet.

It has no remote side, so it implements neither invoices nor holds; services.purchase_pay
debits it inside the same transaction that marks the purchase paid.
"""

from __future__ import annotations

from .base import Provider


class WalletProvider(Provider):
    name = "wallet"
    supports_invoices = False

    def is_configured(self) -> bool:
        return True
