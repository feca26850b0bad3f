"""Sending SMS through a pluggable provider.

`console` writes the message to the log, for development and tests (the run command's
default; production refuses it without ALLOW_CONSOLE_SMS). `disabled`, or nothing
configured, turns phone (OTP) login off with a clear error. `http` posts JSON {"to", "from", "text"} to SMS_HTTP_URL with a bearer token: the shape most
SMS gateways (or a small adapter in front of one) accept.
"""

from __future__ import annotations

import logging
from typing import Protocol

import requests
from django.conf import settings

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The provider did not take the message."""


class SmsProvider(Protocol):
    def send(self, *, to: str, text: str) -> None: ...


class ConsoleSmsProvider:
    def send(self, *, to: str, text: str) -> None:
        logger.warning("SMS to %s: %s", to, text)


class HttpSmsProvider:
    def __init__(self, *, url: str, token: str, sender: str, timeout: float):
        self.url = url
        self.token = token
        self.sender = sender
        self.timeout = timeout

    def send(self, *, to: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = requests.post(
                self.url,
                json={"to": to, "from": self.sender, "text": text},
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise SmsError(f"SMS provider unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise SmsError(f"SMS provider answered HTTP {response.status_code}")


SMS_DISABLED = ("", "disabled")


def sms_enabled() -> bool:
    return settings.SMS_PROVIDER not in SMS_DISABLED


def get_sms_provider() -> SmsProvider:
    name = settings.SMS_PROVIDER
    if name in SMS_DISABLED:
        raise SmsError("no SMS provider is configured (SMS_PROVIDER)")
    if name == "console":
        return ConsoleSmsProvider()
    if name == "http":
        if not settings.SMS_HTTP_URL:
            raise SmsError("SMS_PROVIDER=http needs SMS_HTTP_URL")
        return HttpSmsProvider(
            url=settings.SMS_HTTP_URL,
            token=settings.SMS_HTTP_TOKEN,
            sender=settings.SMS_HTTP_SENDER,
            timeout=settings.SMS_HTTP_TIMEOUT,
        )
    raise SmsError(f"unknown SMS_PROVIDER {name!r}")
