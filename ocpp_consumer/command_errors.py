"""The command bus's errors: what can go wrong when the central system sends a command.

They live apart from ocpp_consumer.commands so that the translation layer it uses can raise
them without importing the bus (no import cycle). Callers catch them as
`commands.CommandError` and its subclasses; commands re-exports every name."""

from __future__ import annotations


class CommandError(Exception):
    """A command could not be carried out."""


class ChargerOffline(CommandError):
    """The charger has no live connection."""


class CommandUnavailable(CommandError):
    """The command bus cannot reach chargers now (Redis is down); nothing was sent."""


class CommandTimeout(CommandError):
    """The charger did not answer in time (OCPP status `Timeout`)."""


class CallErrorReceived(CommandError):
    """The charger answered with a CALLERROR."""

    def __init__(self, code: str, description: str = "", details: dict | None = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details or {}


class InvalidAnswer(CommandError):
    """The charger answered with a payload that breaks the action's response schema
    (e.g. {"status": "Bogus"}): what it did is unknown, so it is not passed on as an answer."""


class InvalidPayload(CommandError):
    """The payload breaks the action's request schema (nothing was sent)."""


class UnknownAction(CommandError):
    """Not an action the central system can send to this charger."""
