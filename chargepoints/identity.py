"""The one rule for a charge point identity (the OCPP charge point id), used everywhere an
identity comes in: the OCPP URL, Pending registration, the operator API, the admin (the
model's clean()) and the Blue Current API.

An identity is 1-48 printable ASCII characters without "/", whitespace or control
characters, and not "." or ".." (it is the last segment of the charger's URL and of the
portal's). The OCPP URL is percent-decoded once, by the server (daphne's scope["path"]);
nothing decodes it again, so "..%252F" stays the literal "..%2F".
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

MAX_LENGTH = 48
_IDENTITY = re.compile(r"[!-.0-~]{1,48}")  # 0x21-0x7E without "/" (0x2F)
RULE = "1-48 printable ASCII characters without '/', whitespace or control characters"


def identity_is_valid(identity: object) -> bool:
    return isinstance(identity, str) and _IDENTITY.fullmatch(identity) is not None and identity not in (".", "..")


def validate_identity(identity: object) -> None:
    """A Django/DRF validator."""
    if not identity_is_valid(identity):
        raise ValidationError(f"A charge point id is {RULE}.", code="invalid_identity")
