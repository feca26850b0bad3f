"""HTTP to providers: JSON in and out, Decimal for numbers, errors as ProviderError.

Headers (which carry credentials) are never logged or stored.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import requests
from django.conf import settings

from payments.errors import ProviderError

logger = logging.getLogger(__name__)


def _default(value):
    if isinstance(value, Decimal):
        raise TypeError("send amounts to providers as integer minor units, not Decimal")
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def call(method: str, url: str, *, body: dict | None = None, headers: dict | None = None, auth=None) -> dict:
    data = None if body is None else json.dumps(body, default=_default)
    all_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    try:
        response = requests.request(
            method,
            url,
            data=data,
            headers=all_headers,
            auth=auth,
            timeout=settings.PAYMENTS_HTTP_TIMEOUT,
        )
    except requests.Timeout as exc:
        raise ProviderError(f"{method} {url} timed out") from exc
    except requests.RequestException as exc:
        raise ProviderError(f"{method} {url} failed: {exc.__class__.__name__}") from exc
    try:
        answer = json.loads(response.text, parse_float=Decimal) if response.text.strip() else {}
    except ValueError:
        answer = {"raw": response.text[:500]}
    if not isinstance(answer, dict):
        answer = {"data": answer}
    if response.status_code >= 400:
        logger.warning("%s %s answered %s", method, url, response.status_code)
        raise ProviderError(
            f"{method} {url} answered HTTP {response.status_code}",
            answer=answer,
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    return answer
