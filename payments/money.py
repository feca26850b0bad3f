"""Decimal amounts inside, integer minor units at provider boundaries. Never floats."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 currencies without a minor unit (as Stripe treats them).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)


def exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Exact conversion; an amount finer than the currency's minor unit is a bug upstream."""
    if not isinstance(amount, Decimal):
        raise TypeError("amounts must be Decimal")
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is finer than the currency's minor unit")
    return int(scaled)


def from_minor_units(units: int, currency: str) -> Decimal:
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError("minor units must be an integer")
    return (Decimal(units).scaleb(-exponent(currency))).quantize(Decimal(1).scaleb(-exponent(currency)))
