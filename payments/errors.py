"""Errors of the payments area. A refused or failed payment request is one of the domain
error kinds of accounts.errors, with a stable code: not_found, already_paid, not_payable,
insufficient_balance, option_disabled, invalid_amount, invalid, provider_error,
invalid_state, payment_pending, charger_offline, command_error, not_configured,
bad_signature, bad_payload. A provider's own failure is a ProviderError, handled inside
this app."""

from __future__ import annotations


class ProviderError(Exception):
    """The provider could not be reached, timed out or refused the call."""

    def __init__(self, message: str, *, answer: dict | None = None, retryable: bool = True):
        super().__init__(message)
        self.answer = answer or {}
        self.retryable = retryable
