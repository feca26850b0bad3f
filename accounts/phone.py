"""Phone numbers are stored and compared in E.164 only."""

from __future__ import annotations

import phonenumbers
from django.conf import settings

from accounts.errors import InvalidRequest


def phone_normalise(raw: str) -> str:
    """'+976 8666 1488' -> '+97686661488'; anything that is not a valid number is refused."""
    region = settings.DRIVERS_DEFAULT_PHONE_REGION
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidRequest(
            "Not a phone number; use the international format, e.g. +976 8666 1488.",
            code="invalid_phone",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRequest(
            "This phone number does not exist; check the country code and digits.",
            code="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
