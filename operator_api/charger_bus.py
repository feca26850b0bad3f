"""The one door from the operator APIs to a charger: `ocpp_consumer.commands.send`.

`send` returns the charger's answer or raises one of the command bus errors; here each
outcome becomes a `Reply` with a plain `kind`, so every API decides its own HTTP answer
from one table instead of catching exceptions in each view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from chargepoints.models import ChargePoint
from ocpp_consumer import commands

logger = logging.getLogger(__name__)

OK = "ok"
TIMEOUT = "timeout"
OFFLINE = "offline"
CALL_ERROR = "call_error"
INVALID = "invalid"
UNSUPPORTED = "unsupported"
UNAVAILABLE = "unavailable"
BAD_ANSWER = "bad_answer"


@dataclass(frozen=True)
class Reply:
    kind: str
    payload: dict = field(default_factory=dict)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == OK

    @property
    def status(self) -> str | None:
        return self.payload.get("status") if self.ok else None


def _bus():
    return commands


SOURCE = "api"


def call(
    charge_point: ChargePoint, action: str, payload: dict, *, timeout: float | None = None, source: str = SOURCE
) -> Reply:
    """Send `action` to the charger and wait for its answer (the bus's default timeout,
    60 s, unless `timeout` is given). The bus records what the answer tells (a charging
    profile row with `source`, configuration keys): see ocpp_consumer.answers."""
    return reply_of(
        lambda: _bus().send(charge_point.identity, action, payload, timeout=timeout, source=source),
        identity=charge_point.identity,
        action=action,
    )


def reply_of(send: Callable[[], dict], *, identity: str, action: str) -> Reply:
    """Run one command (`send`: a call of the command bus or of ocpp_consumer.remote_control)
    and turn its answer or error into a Reply: the operator APIs' one mapping of the bus's
    errors."""
    bus = _bus()
    try:
        answer = send()
    except bus.CommandUnavailable as exc:
        return Reply(UNAVAILABLE, {"status": "Unavailable"}, str(exc))
    except bus.CommandTimeout:
        return Reply(TIMEOUT, {"status": "Timeout"}, "The charger did not answer in time.")
    except bus.ChargerOffline as exc:
        return Reply(OFFLINE, detail=str(exc) or f"Charge point {identity} is not connected.")
    except bus.CallErrorReceived as exc:
        error = {
            "errorCode": getattr(exc, "error_code", None) or getattr(exc, "code", None) or "",
            "errorDescription": getattr(exc, "description", None) or str(exc),
        }
        return Reply(CALL_ERROR, error, f"The charger answered with a CALLERROR: {str(exc) or error['errorCode']}")
    except bus.InvalidAnswer as exc:
        return Reply(BAD_ANSWER, detail=str(exc))
    except bus.InvalidPayload as exc:
        return Reply(INVALID, detail=str(exc) or "The payload does not match the OCPP schema.")
    except bus.UnknownAction as exc:
        return Reply(UNSUPPORTED, detail=str(exc) or f"{action} is not supported for this charger.")
    except bus.CommandError as exc:
        return Reply(CALL_ERROR, detail=str(exc) or "The command failed.")
    return Reply(OK, dict(answer or {}))
