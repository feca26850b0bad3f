"""The bridge between a Channels consumer and the `ocpp` package's ChargePoint.

The package's ChargePoint reads from and writes to a connection it owns; here the
consumer owns the socket, so frames are fed in with `route_frame()` and answers go out
through `consumer.send()`. The routing is our own, around the package's route map and
@on handlers, because we must (a) journal every frame before answering it, (b) answer
every bad frame with the right CALLERROR (the package only logs unparseable ones), and
(c) validate fast (compiled fastjsonschema validators instead of jsonschema in a thread).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    InternalError,
    NotSupportedError,
    OCPPError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)
from ocpp.exceptions import (
    NotImplementedError as OcppNotImplemented,
)
from ocpp.messages import CallError, CallResult

from accounts.outages import database_outage, is_database_unavailable
from chargepoints.services import charge_point_touch_many, ocpp_message_store_many
from ocpp_consumer import library, limits, schemas
from ocpp_consumer.batching import committer


class FrameTransport(Protocol):
    """What the protocol needs from the socket's owner (the Channels consumer): send a text
    frame, close, and re-check the charger's registration. A protocol of its own so this
    module does not import the consumer that imports it."""

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None: ...

    async def close(self, code: int | None = None, reason: str | None = None) -> None: ...

    def restore_registration_soon(self) -> None: ...


logger = logging.getLogger(__name__)

_UNIQUE_ID = re.compile(r'^\s*\[\s*\d+\s*,\s*"([^"\\]{1,64})"')
CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4
CLOSE_TOO_LARGE = 4009


@lru_cache(maxsize=4096)
def _snake_key(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


@lru_cache(maxsize=4096)
def _camel_key(key: str) -> str:
    return next(iter(snake_to_camel_case({key: None})))


def to_snake(data: Any) -> Any:
    """camelCase -> snake_case keys, as the `ocpp` package does, with the key conversion cached."""
    if isinstance(data, dict):
        return {_snake_key(k): to_snake(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_snake(v) for v in data]
    return data


def to_camel(data: Any) -> Any:
    if isinstance(data, dict):
        return {_camel_key(k): to_camel(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_camel(v) for v in data]
    return data


def dumps(frame: list) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _frames_flush(batch: list[tuple[list[dict], tuple]]) -> None:
    """One transaction for a batch of answers: the domain writes staged by their handlers
    (MeterValues samples, grouped per flush function) and the journal rows of every frame."""
    rows: list[dict] = []
    staged: dict[Callable, list] = {}
    for journal_rows, staged_writes in batch:
        rows += journal_rows
        for flush, item in staged_writes:
            staged.setdefault(flush, []).append(item)
    with transaction.atomic():
        for flush, items in staged.items():
            flush(items)
        ocpp_message_store_many(rows=rows)


def _touch_flush(charge_point_ids: list[int]) -> None:
    charge_point_touch_many(charge_point_ids=charge_point_ids)


def journal_write(rows: list[dict], staged: tuple = ()) -> Any:
    """Store journal rows (and the staged domain writes of the same frame) with the next
    group commit; resolves once that transaction committed."""
    return committer("frames", _frames_flush).submit((rows, tuple(staged)))


def journal_write_command(rows: list[dict]) -> Any:
    """Journal a command we send, or the charger's answer to it, in a lane of its own: an
    operator's command is still journalled before it is sent and before its answer is
    handed back, but no longer waits behind the fleet's frames in their group commit
    (issue 20: a command's round trip was two of those batches, 0.9 s p99 under load)."""
    return committer("commands", _frames_flush, own_thread=True).submit((rows, ()))


class CsmsChargePoint:
    """Mixin for the version-specific ChargePoint classes (ocpp.v16.ChargePoint, later
    ocpp.v201.ChargePoint): routing, journalling and outgoing calls."""

    protocol: str = ""
    # Actions a charger may send that are OCPP actions of this version (NotSupported if we
    # have no handler); anything else is NotImplemented (unknown to us), per OCPP-J 1.6 4.2.3.
    known_actions: frozenset[str] = frozenset()
    formation_error: type[OCPPError] = FormationViolationError

    def __init__(self, identity: str, consumer: FrameTransport, charge_point_pk: int, registration_status: str) -> None:
        super().__init__(identity, consumer, response_timeout=settings.OCPP_COMMAND_TIMEOUT)
        self.consumer = consumer
        self.pk = charge_point_pk
        self.registration_status = registration_status
        self._last_touch = time.monotonic()
        self._staged: list = []
        # The unique id of our CALL awaiting its answer (one at a time, see call_action).
        self._awaiting: str | None = None
        self._awaiting_action = ""
        self._strays = 0

    # --- journal -----------------------------------------------------------------------

    def _row(
        self,
        direction: str,
        message_type: int,
        unique_id: str = "",
        action: str = "",
        payload: Any = None,
        raw: str = "",
    ) -> dict:
        return {
            "charge_point_id": self.pk,
            "charge_point_identity": self.id,
            "direction": direction,
            "message_type": message_type,
            "unique_id": unique_id[:64],
            "action": action[:64],
            "payload": payload,
            "raw": raw,
            "created_at": timezone.now(),
        }

    # --- frames in ---------------------------------------------------------------------

    async def route_frame(self, text: str) -> None:
        limit = settings.OCPP_MAX_FRAME_CHARS
        if len(text) > limit:
            await self._too_large(text, limit)
            return
        try:
            frame = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
        except NumberOutOfRange:
            # (1e309 parses as infinity, which the journal could not store either)
            await self._reject_unparsed(
                text,
                sniff_unique_id(text) or "-1",
                TypeConstraintViolationError(description="A number is out of range"),
            )
            return
        except ValueError:
            await self._reject_unparsed(text, "-1", self.formation_error(description="Frame is not valid JSON"))
            return
        except RecursionError:
            await self._reject_unparsed(text, "-1", self.formation_error(description="Frame is nested too deeply"))
            return
        if not isinstance(frame, list) or len(frame) < 3 or not isinstance(frame[1], str) or not frame[1]:
            unique_id = (
                frame[1]
                if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str) and frame[1]
                else "-1"
            )
            await self._reject_unparsed(
                text,
                unique_id,
                self.formation_error(description="Frame is not an OCPP-J message: [MessageTypeId, UniqueId, ...]"),
            )
            return
        message_type, unique_id = frame[0], frame[1]
        if message_type == CALL:
            if len(frame) != 4 or not isinstance(frame[2], str):
                await self._reject_unparsed(
                    text, unique_id, self.formation_error(description="A CALL is [2, UniqueId, Action, Payload]")
                )
                return
            await self._handle_call_frame(unique_id, frame[2], frame[3])
        elif message_type in (CALL_RESULT, CALL_ERROR):
            # The answer's row names the action of the call it answers (a stray one: none).
            action = self._awaiting_action if unique_id == self._awaiting else ""
            await self._journal_or_log(
                [
                    self._row(
                        "in",
                        message_type,
                        unique_id,
                        action,
                        payload=frame[2] if message_type == CALL_RESULT else frame[2:],
                    )
                ],
                write=journal_write_command if unique_id == self._awaiting else journal_write,
            )
            if unique_id != self._awaiting:
                # A reply to nothing we are waiting for (never sent, or already timed out):
                # journaled above and dropped. Queued, it would stay there for good (issue 16:
                # memory growth, then RecursionError in the library's response matching).
                self._strays += 1
                if self._strays in (1, 10, 100) or self._strays % 1000 == 0:
                    logger.warning(
                        "%s: dropped %d repl%s matching no pending call (latest %r)",
                        self.id,
                        self._strays,
                        "y" if self._strays == 1 else "ies",
                        unique_id[:64],
                    )
                return
            if message_type == CALL_RESULT:
                library.deliver_reply(self, CallResult(unique_id, frame[2]))
            else:
                code, description, details = (list(frame[2:]) + ["", "", {}])[:3]
                library.deliver_reply(self, CallError(unique_id, code, description, details))
        else:
            await self._reject_unparsed(
                text,
                unique_id,
                PropertyConstraintViolationError(description=f"MessageTypeId {message_type!r} is not 2, 3 or 4"),
            )

    async def _too_large(self, text: str, limit: int) -> None:
        match = _UNIQUE_ID.match(text[:200])
        row = self._row(
            "in",
            0,
            match.group(1) if match else "",
            raw=text[:2000] + f"... [{len(text)} characters, over the {limit} limit]",
        )
        if match:
            await self._answer(
                row,
                match.group(1),
                error=self.formation_error(description=f"Frame of {len(text)} characters exceeds the limit of {limit}"),
            )
        else:
            await self._journal_or_log([row])
            # Nothing to address a CALLERROR to: close. 4009 mirrors 1009 (message too big),
            # which daphne does not let applications send.
            await self.consumer.close(code=CLOSE_TOO_LARGE, reason=f"Frame exceeds {limit} characters")

    async def _reject_unparsed(self, text: str, unique_id: str, error: OCPPError) -> None:
        await self._answer(
            self._row("in", 0, unique_id if unique_id != "-1" else "", raw=text[:10000]), unique_id, error=error
        )

    def stage(self, flush: Callable[[list], Any], item: Any) -> None:
        """Have `flush([item, ...])` run in the same transaction as the journal rows of the
        frame being handled, before its answer leaves. For writes whose outcome the answer
        does not depend on (MeterValues): one database hop per batch instead of two."""
        self._staged.append((flush, item))

    async def _handle_call_frame(self, unique_id: str, action: str, payload: Any) -> None:
        in_row = self._row("in", CALL, unique_id, action, payload)
        # The consumer hands us one frame at a time (receive is awaited), so this is the
        # current frame's list.
        self._staged: list = []
        try:
            result = await self._dispatch(unique_id, action, payload)
        except OCPPError as error:
            await self._answer(in_row, unique_id, error=error)
        except RecursionError:
            # Parsed, but too deep for the handlers (or the journal's encoder): keep a note.
            in_row.update(payload=None, raw=f"[{action} payload nested too deeply]")
            await self._answer(
                in_row, unique_id, error=self.formation_error(description="Payload is nested too deeply")
            )
        except Exception as error:
            if is_database_unavailable(error):
                database_outage.failed(error)  # (one log line per outage, not a traceback per frame)
            else:
                logger.exception("%s: handler for %s failed", self.id, action)
            await self._answer(in_row, unique_id, error=InternalError(description=f"{action} could not be processed"))
        else:
            if self._staged:
                await self._answer(in_row, unique_id, action=action, result=result, staged=self._staged)
            else:  # (nothing staged: the keyword left out, for subclasses' _answer overrides)
                await self._answer(in_row, unique_id, action=action, result=result)
        finally:
            self._staged = []

    async def _dispatch(self, unique_id: str, action: str, payload: Any) -> dict:
        handler = library.handler_for(self, action)
        if handler is None:
            if action in self.known_actions:
                raise NotSupportedError(description=f"{action} is not supported by this central system")
            raise OcppNotImplemented(description=f"Unknown action {action}")
        schemas.check(self.protocol, action, payload)
        limits.check(payload)
        if action != "BootNotification" and self.registration_status != "Accepted":
            self._refuse_before_acceptance()
        kwargs = to_snake(payload)
        response = await handler(**kwargs)
        answer = to_camel(remove_nones(serialize_as_dict(response)))
        schemas.check(self.protocol, action, answer, response=True)
        if action != "Heartbeat" and time.monotonic() - self._last_touch > settings.OCPP_TOUCH_EVERY_SECONDS:
            self.touch()
        return answer

    def _refuse_before_acceptance(self) -> None:
        """Only BootNotification is answered until the charger is Accepted (OCPP 1.6 4.2.1)."""
        from ocpp.exceptions import SecurityError

        raise SecurityError(
            description=f"Charge point is {self.registration_status}; send BootNotification and wait for Accepted"
        )

    def touch(self) -> None:
        """Keep last-seen current (a Heartbeat, or any frame once per OCPP_TOUCH_EVERY_SECONDS):
        staged into the current frame's group commit, so one UPDATE covers every charger of
        the batch and the answer still leaves only after it is stored. The registry entry
        is re-asserted in the background (it matters only if Redis lost it)."""
        self._last_touch = time.monotonic()
        self.stage(_touch_flush, self.pk)
        self.consumer.restore_registration_soon()

    def _answer_frame(
        self, in_row: dict, unique_id: str, action: str, result: dict | None, error: OCPPError | None
    ) -> tuple[list, dict]:
        if error is not None:
            frame = [CALL_ERROR, unique_id, error.code, error.description or "", _plain(error.details or {})]
            return frame, self._row("out", CALL_ERROR, unique_id, action=in_row["action"], payload=frame[2:])
        frame = [CALL_RESULT, unique_id, result]
        return frame, self._row("out", CALL_RESULT, unique_id, action=action, payload=result)

    async def _answer(
        self,
        in_row: dict,
        unique_id: str,
        *,
        action: str = "",
        result: dict | None = None,
        error: OCPPError | None = None,
        staged: list | tuple = (),
    ) -> None:
        frame, out_row = self._answer_frame(in_row, unique_id, action, result, error)
        # The incoming frame, our answer and the handler's staged writes are stored (and
        # committed) before the answer leaves.
        try:
            await journal_write([in_row, out_row], staged)
        except Exception as failure:
            # Nothing that was not stored is acknowledged: the charger gets an InternalError
            # (OCPP chargers resend transaction-related messages answered with an error),
            # the socket stays open, and the frame is journalled if the database allows.
            if not is_database_unavailable(failure):
                logger.exception("%s: storing %s failed", self.id, in_row["action"] or "a frame")
            if error is None:
                frame, out_row = self._answer_frame(
                    in_row,
                    unique_id,
                    action,
                    None,
                    InternalError(description=f"{in_row['action']} could not be processed; please retry"),
                )
                if staged and not is_database_unavailable(failure):
                    # (the staged write failed on its own: the frame itself can be stored)
                    await self._journal_or_log([in_row, out_row])
        await self.consumer.send(text_data=dumps(frame))

    async def _journal_or_log(self, rows: list[dict], *, write: Callable = journal_write) -> None:
        """Journal rows whose storing nothing else depends on: a failure is logged (once per
        database outage) and the frame goes on being handled."""
        try:
            await write(rows)
        except Exception as failure:
            if is_database_unavailable(failure):
                database_outage.failed(failure)
            else:
                logger.exception("%s: could not journal a frame", self.id)

    # --- calls out (commands) ------------------------------------------------------------

    async def call_action(self, action: str, payload: dict, timeout: float) -> CallResult | CallError:
        """Send one CALL and wait for its answer. OCPP allows one outstanding CALL per
        direction, so commands to the same charger queue on the lock (within the timeout)."""
        unique_id = str(uuid.uuid4())
        async with asyncio.timeout(timeout):
            async with library.call_lock(self):
                # An answer that came after its call's caller gave up must not answer this one.
                library.drop_stale_replies(self)
                frame = [CALL, unique_id, action, payload]
                await journal_write_command([self._row("out", CALL, unique_id, action, payload)])
                self._awaiting, self._awaiting_action = unique_id, action
                try:
                    await self.consumer.send(text_data=dumps(frame))
                    return await library.wait_for_reply(self, unique_id, timeout)
                finally:
                    self._awaiting, self._awaiting_action = None, ""


class NumberOutOfRange(ValueError):
    pass


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise NumberOutOfRange(text[:40])
    return number


def _no_constant(text: str) -> float:
    raise NumberOutOfRange(text)  # NaN, Infinity: not JSON, and not storable either


def _plain(details: Any) -> Any:
    """errorDetails must be a JSON object of plain values."""
    try:
        return json.loads(json.dumps(details, default=str))
    except (TypeError, ValueError):
        return {}


def sniff_unique_id(text: str) -> str | None:
    match = _UNIQUE_ID.match(text[:200])
    return match.group(1) if match else None


__all__ = ["CsmsChargePoint", "FormatViolationError", "to_snake", "to_camel", "dumps"]
