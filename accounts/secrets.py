"""Secrets we hand out (API keys, tokens, OTP codes) are stored only as hashes.

Tokens carry 256 bits of randomness, so a fast SHA-256 lookup is safe: nobody can
brute-force the preimage, and lookups by hash never compare secrets byte by byte.
Short secrets (OTP codes) are salted and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def short_secret_hash(raw: str, *, salt: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{salt}:{raw}".encode(), hashlib.sha256).hexdigest()


def matches(raw: str, *, stored_hash: str, salt: str) -> bool:
    return hmac.compare_digest(short_secret_hash(raw, salt=salt), stored_hash)
