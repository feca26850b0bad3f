from __future__ import annotations


class PaymentError(Exception):
    """A payment request we refuse or could not carry out, with a stable machine code.

    Codes: not_found, already_paid, not_payable, insufficient_balance, option_disabled,
    invalid_amount, provider_error, invalid_state, charger_offline.
    """

    def __init__(self, code: str, message: str, *, http_status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class ProviderError(Exception):
    """The provider could not be reached, timed out or refused the call."""

    def __init__(self, message: str, *, answer: dict | None = None, retryable: bool = True):
        super().__init__(message)
        self.answer = answer or {}
        self.retryable = retryable
