"""The WebSocket endpoint at /haserver.

Two kinds of connections, as the client makes them:
- one-shot: VALIDATE_API_TOKEN or GET_ACCOUNT, one answer, no greeting (the client reads the
  first frame only);
- long: HELLO, then requests, each with "Authorization: Token <session token>"; answers and
  pushes (a fresh CH_STATUS when a charger's state changes) arrive in any order.

Every authenticated request counts against the API token's daily limit. Over the limit the
client gets ERROR 42 and the socket closes with 4001; both make it raise RequestLimitReached.
Only one long connection per API token: the second gets an ERROR "Already connected" and is
closed (the client's AlreadyConnected exception needs an HTTP reject header, which an ASGI
server cannot send, and the token is not known before the first frame anyway).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from accounts.channel_layer import ResilientChannelsMixin
from accounts.models import User
from bluecurrent import frames, limits, selectors, services, smart, snapshots, tokens
from chargepoints.fanout import group_name
from chargepoints.models import ChargePoint, ChargingProfile

logger = logging.getLogger(__name__)

ALREADY_CONNECTED = 8  # not in the client's table, so it shows our message
PUSH_DEBOUNCE_SECONDS = 0.3

ACTIONS = {
    "SOFT_RESET": ("Reset", {"type": "Soft"}),
    "REBOOT": ("Reset", {"type": "Hard"}),
}


@database_sync_to_async
def _validate(raw: str) -> tuple[int | None, str | None, str | None]:
    api_token = tokens.api_token_check(raw=raw)
    if api_token is None:
        return None, None, None
    return api_token.pk, tokens.session_token_issue(api_token=api_token), str(api_token.user_id)


class BlueCurrentConsumer(ResilientChannelsMixin, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.claimed_token_id: int | None = None
        self.tasks: set[asyncio.Task] = set()
        self.pending_pushes: set[str] = set()
        self.user_id: int | None = None
        # Smart-charging changes run as tasks; one at a time, so a "save settings" and the
        # "switch on" right after it apply in the order the client sent them.
        self.smart_lock = asyncio.Lock()
        await self.accept()

    async def disconnect(self, code) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.leave_all_groups()
        if self.claimed_token_id is not None:
            await database_sync_to_async(limits.connection_release)(
                api_token_id=self.claimed_token_id, channel_name=self.channel_name
            )

    # --- plumbing ---------------------------------------------------------------------

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame))

    def spawn(self, coroutine) -> None:
        # Charger answers can take a while; never hold up the next request waiting for one.
        task = asyncio.create_task(self._logged(coroutine))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    async def _logged(coroutine) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Blue Current API background work failed")

    async def receive(self, text_data=None, bytes_data=None) -> None:
        try:
            message = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError):
            await self.send_frame(frames.error(frames.UNKNOWN_ERROR, "Malformed frame: not JSON"))
            return
        if not isinstance(message, dict) or not isinstance(message.get("command"), str):
            await self.send_frame(frames.error(frames.UNKNOWN_COMMAND, "Unknown command"))
            return
        command = message["command"]
        try:
            if command == "VALIDATE_API_TOKEN":
                await self.validate_api_token(message)
                return
            session = await database_sync_to_async(tokens.session_resolve)(authorization=message.get("Authorization"))
            if session is None:
                await self.send_frame(frames.error(frames.INVALID_AUTH_TOKEN, "Invalid Auth Token"))
                return
            within = await database_sync_to_async(limits.request_count_hit)(api_token_id=session.api_token_id)
            if not within:
                await self.send_frame(frames.error(frames.REQUEST_LIMIT_REACHED, "Request limit reached"))
                await self.close(code=frames.CLOSE_REQUEST_LIMIT, reason="Request limit reached")
                return
            user = await database_sync_to_async(User.objects.get)(pk=session.user_id)
            self.user_id = user.pk
            await self.dispatch_command(command, message, user, session)
        except Exception:
            logger.exception("Blue Current API command %s failed", command)
            await self.send_frame(frames.error(frames.UNKNOWN_ERROR, "Unknown error"))

    async def dispatch_command(self, command: str, message: dict, user: User, session: tokens.HomeSession) -> None:
        if command == "HELLO":
            await self.hello(user, session)
        elif command == "GET_ACCOUNT":
            await self.send_frame(await database_sync_to_async(snapshots.account_frame)(user=user))
        elif command == "GET_CHARGE_POINTS":
            await self.send_frame(await database_sync_to_async(snapshots.charge_points_frame)(user=user))
        elif command == "GET_CHARGE_CARDS":
            limit = message.get("limit") if isinstance(message.get("limit"), int) else 100
            await self.send_frame(await database_sync_to_async(snapshots.cards_frame)(user=user, limit=limit))
        elif command == "LIST_OVERRIDE_CURRENT":
            schedules = await database_sync_to_async(selectors.override_schedules_for_driver)(user=user)
            await self.send_frame(frames.override_list(schedules))
        elif command in ("POST_SET_OVERRIDE_CURRENT", "POST_EDIT_OVERRIDE_CURRENT"):
            await self.override_set(command, message, user)
        elif command == "POST_CLEAR_OVERRIDE_CURRENT":
            await self.override_clear(message, user)
        elif command in CHARGER_COMMANDS:
            evse_id = message.get("evse_id") or message.get("evseid")
            charge_point = await database_sync_to_async(selectors.charge_point_for_driver)(user=user, evse_id=evse_id)
            if charge_point is None:
                await self.send_frame(frames.not_authorized(command, evse_id=evse_id))
                return
            handler = getattr(self, CHARGER_COMMANDS[command])
            await handler(command, message, user, charge_point)
        else:
            await self.send_frame(frames.error(frames.UNKNOWN_COMMAND, "Unknown command"))

    # --- one-shot and session ------------------------------------------------------------

    async def validate_api_token(self, message: dict) -> None:
        token_id, session_token, customer_id = await _validate(message.get("token"))
        if token_id is None:
            await self.send_frame({"object": "VALIDATE_API_TOKEN", "success": False, "error": "Invalid API token"})
            return
        if not await database_sync_to_async(limits.request_count_hit)(api_token_id=token_id):
            await self.send_frame(frames.error(frames.REQUEST_LIMIT_REACHED, "Request limit reached"))
            await self.close(code=frames.CLOSE_REQUEST_LIMIT, reason="Request limit reached")
            return
        await self.send_frame(
            {
                "object": "VALIDATE_API_TOKEN",
                "success": True,
                "token": session_token,
                "customer_id": customer_id,
                "error": "",
            }
        )

    async def hello(self, user: User, session: tokens.HomeSession) -> None:
        if self.claimed_token_id is None:
            claimed = await database_sync_to_async(limits.connection_claim)(
                api_token_id=session.api_token_id, channel_name=self.channel_name
            )
            if not claimed:
                await self.send_frame(frames.error(ALREADY_CONNECTED, "Already connected"))
                await self.close(code=frames.CLOSE_ALREADY_CONNECTED, reason="Already connected")
                return
            self.claimed_token_id = session.api_token_id
            self.spawn(self.keep_claim())
        identities = await database_sync_to_async(
            lambda: list(selectors.charge_points_for_driver(user=user).values_list("identity", flat=True))
        )()
        for identity in identities:
            group = group_name(identity)
            if group not in self.joined_groups:
                await self.join_group(group)
        await self.send_frame({"object": "HELLO", "success": True, "error": ""})

    async def keep_claim(self) -> None:
        interval = max(1.0, settings.BLUECURRENT_CONNECTION_CLAIM_SECONDS / 3)
        while True:
            await asyncio.sleep(interval)
            await database_sync_to_async(limits.connection_refresh)(
                api_token_id=self.claimed_token_id, channel_name=self.channel_name
            )

    # --- pushes -----------------------------------------------------------------------

    async def cp_state(self, event: dict) -> None:
        identity = event.get("identity")
        if not identity or identity in self.pending_pushes or self.user_id is None:
            return
        self.pending_pushes.add(identity)
        self.spawn(self.push_status(identity))

    async def push_status(self, identity: str) -> None:
        # A burst of state changes (status + meter values) becomes one CH_STATUS.
        await asyncio.sleep(PUSH_DEBOUNCE_SECONDS)
        self.pending_pushes.discard(identity)
        user = await database_sync_to_async(User.objects.get)(pk=self.user_id)
        charge_point = await database_sync_to_async(selectors.charge_point_for_driver)(user=user, evse_id=identity)
        if charge_point is not None:
            await self.send_status(charge_point)

    async def send_status(self, charge_point: ChargePoint) -> None:
        await self.send_frame(await database_sync_to_async(snapshots.status_frame)(charge_point=charge_point))

    async def send_settings(self, charge_point_id: int) -> None:
        charge_point = await database_sync_to_async(ChargePoint.objects.select_related("site").get)(pk=charge_point_id)
        await self.send_frame(await database_sync_to_async(snapshots.settings_frame)(charge_point=charge_point))

    # --- reads ------------------------------------------------------------------------

    async def get_status(self, command, message, user, charge_point) -> None:
        await self.send_status(charge_point)

    async def get_settings(self, command, message, user, charge_point) -> None:
        await self.send_settings(charge_point.pk)

    async def get_grid(self, command, message, user, charge_point) -> None:
        await self.send_frame(await database_sync_to_async(snapshots.grid_frame)(charge_point=charge_point))

    # --- settings -----------------------------------------------------------------------

    async def set_flag(self, command, message, user, charge_point) -> None:
        value = message.get("value")
        field = "public_charging" if command == "SET_PUBLIC_CHARGING" else "plug_and_charge"
        if not isinstance(value, bool):
            await self.send_frame(
                frames.received(command, evse_id=charge_point.identity, error_text="value must be true or false")
            )
            await self.send_frame(
                frames.setting_status(
                    command,
                    evse_id=charge_point.identity,
                    value=getattr(charge_point, field),
                    error_text="INVALID_VALUE",
                )
            )
            return
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        updated = await database_sync_to_async(services.flag_set)(
            charge_point_id=charge_point.pk, field=field, value=value
        )
        await self.send_frame(
            frames.setting_status(command, evse_id=charge_point.identity, value=getattr(updated, field))
        )

    async def set_operative(self, command, message, user, charge_point) -> None:
        operative = command == "SET_OPERATIVE"
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        self.spawn(self._set_operative(command, charge_point, operative))

    async def _set_operative(self, command: str, charge_point: ChargePoint, operative: bool) -> None:
        reason, _ = await services.command(
            charge_point.identity,
            "ChangeAvailability",
            {"connectorId": 0, "type": "Operative" if operative else "Inoperative"},
        )
        if reason == "":
            charge_point = await database_sync_to_async(services.flag_set)(
                charge_point_id=charge_point.pk, field="is_operative", value=operative
            )
        await self.send_frame(frames.action_status(command, evse_id=charge_point.identity, error_text=reason))
        await self.send_status(charge_point)

    # --- actions ------------------------------------------------------------------------

    async def reset(self, command, message, user, charge_point) -> None:
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        action, payload = ACTIONS[command]
        self.spawn(self._run_action(command, charge_point, action, payload))

    async def _run_action(self, command: str, charge_point: ChargePoint, action: str, payload: dict) -> None:
        await self._report(command, charge_point, services.command(charge_point.identity, action, payload))

    async def _report(self, command: str, charge_point: ChargePoint, outcome: Awaitable[tuple[str, dict]]) -> None:
        reason, _ = await outcome
        await self.send_frame(frames.action_status(command, evse_id=charge_point.identity, error_text=reason))

    async def start_session(self, command, message, user, charge_point) -> None:
        card = await database_sync_to_async(selectors.charge_card_for_driver)(
            user=user, uid=message.get("session_token") or message.get("card_uid") or ""
        )
        if card is None:
            await self.send_frame(
                frames.received(
                    command,
                    evse_id=charge_point.identity,
                    error_text=f"unknown charge card for chargepoint: {charge_point.identity}",
                )
            )
            return
        connector = await database_sync_to_async(services.free_connector)(charge_point=charge_point)
        if connector is None:
            await self.send_frame(
                frames.received(
                    command,
                    evse_id=charge_point.identity,
                    error_text=f"no free connector on chargepoint: {charge_point.identity}",
                )
            )
            return
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        self.spawn(self._start(command, charge_point, connector, card.uid))

    async def _start(self, command: str, charge_point: ChargePoint, connector, id_tag: str) -> None:
        """Report the charger's answer; then, if it accepted, a refusal of the transaction it
        starts (we answer its StartTransaction with e.g. ConcurrentTx and it stops at once)."""
        since = timezone.now()
        reason, _ = await services.session_start(charge_point=charge_point, connector=connector, id_tag=id_tag)
        await self.send_frame(frames.action_status(command, evse_id=charge_point.identity, error_text=reason))
        if reason:
            return
        refusal = await services.start_refusal(connector=connector, id_tag=id_tag, since=since)
        if refusal:
            await self.send_frame(frames.action_status(command, evse_id=charge_point.identity, error_text=refusal))

    async def stop_session(self, command, message, user, charge_point) -> None:
        session = await database_sync_to_async(services.active_session)(charge_point=charge_point)
        if session is None or not session.transaction_id:
            await self.send_frame(
                frames.received(
                    command,
                    evse_id=charge_point.identity,
                    error_text=f"no active session for chargepoint: {charge_point.identity}",
                )
            )
            return
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        self.spawn(
            self._report(command, charge_point, services.session_stop(session=session, identity=charge_point.identity))
        )

    # --- smart charging -----------------------------------------------------------------

    async def _smart_result(self, command: str, charge_point: ChargePoint, reason: str) -> None:
        await self.send_frame(frames.action_status(command, evse_id=charge_point.identity, error_text=reason))
        await self.send_settings(charge_point.pk)

    async def set_smart_profile(self, command, message, user, charge_point) -> None:
        """SET_DELAYED_CHARGING / SET_PRICE_BASED_CHARGING {value}: switch that profile on or off."""
        value = message.get("value")
        if not isinstance(value, bool):
            await self.send_frame(
                frames.received(command, evse_id=charge_point.identity, error_text="value must be true or false")
            )
            return
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        kind = "delayed" if command == "SET_DELAYED_CHARGING" else "price"
        self.spawn(self._switch_profile(command, charge_point, kind, value))

    async def _switch_profile(
        self, command: str, charge_point: ChargePoint, kind: str, enabled: bool | None, schedule: dict | None = None
    ) -> None:
        """enabled None: keep the profile on or off as it is, with the new schedule."""
        async with self.smart_lock:
            await self._switch_profile_locked(command, charge_point, kind, enabled, schedule)

    async def _switch_profile_locked(
        self, command: str, charge_point: ChargePoint, kind: str, enabled: bool | None, schedule: dict | None
    ) -> None:
        latest = await database_sync_to_async(selectors.home_profile_latest)(charge_point=charge_point, kind=kind)
        if enabled is None:
            enabled = selectors.home_profile_enabled(latest)
        params = (latest.schedule or {}).get("customData", {}) if latest else {}
        if schedule is None:
            schedule = await database_sync_to_async(self._build_schedule)(charge_point, kind, params)
        profile = await database_sync_to_async(services.profile_save)(
            charge_point=charge_point, kind=kind, schedule=schedule, enabled=enabled
        )
        if enabled:
            profile.charge_point = charge_point
            reason = await services.profile_send(profile)
        elif selectors.home_profile_enabled(latest):
            reason = await services.profile_clear(identity=charge_point.identity, profile_id=profile.profile_id)
        else:
            reason = ""  # settings saved while the profile is off: nothing on the charger to change
        await self._smart_result(command, charge_point, reason)

    @staticmethod
    def _build_schedule(charge_point: ChargePoint, kind: str, params: dict) -> dict:
        if kind == "delayed":
            return smart.delayed_schedule(
                charge_point,
                days=params.get("days", []),
                start_time=params.get("startTime") or "00:00",
                end_time=params.get("endTime") or "00:00",
            )
        return smart.price_schedule(charge_point, params={k: params.get(k) for k in smart.PRICE_DEFAULTS})

    async def save_delayed_schedule(self, command, message, user, charge_point) -> None:
        try:
            days = smart.parse_day_numbers(message.get("days"))
            smart.parse_time(message.get("start_time"))
            smart.parse_time(message.get("end_time"))
        except smart.ScheduleError as exc:
            await self.send_frame(frames.received(command, evse_id=charge_point.identity, error_text=str(exc)))
            return
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        schedule = await database_sync_to_async(smart.delayed_schedule)(
            charge_point, days=days, start_time=message["start_time"], end_time=message["end_time"]
        )
        self.spawn(self._switch_profile(command, charge_point, "delayed", None, schedule))

    async def patch_price_settings(self, command, message, user, charge_point) -> None:
        updates = {key: message.get(key) for key in smart.PRICE_DEFAULTS if message.get(key) is not None}
        try:
            if "expected_departure_time" in updates:
                smart.parse_time(updates["expected_departure_time"])
            for key in ("current_battery_pct", "minimum_pct"):
                if key in updates and not (isinstance(updates[key], (int, float)) and 0 <= updates[key] <= 100):
                    raise smart.ScheduleError(f"{key} must be 0 to 100")
            if "battery_size_kwh" in updates and not (
                isinstance(updates["battery_size_kwh"], (int, float)) and 0 < updates["battery_size_kwh"] <= 500
            ):
                raise smart.ScheduleError("battery_size_kwh must be 1 to 500")
        except smart.ScheduleError as exc:
            await self.send_frame(frames.received(command, evse_id=charge_point.identity, error_text=str(exc)))
            return
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        latest = await database_sync_to_async(selectors.home_profile_latest)(charge_point=charge_point, kind="price")
        params = {
            k: v
            for k, v in ((latest.schedule or {}).get("customData", {}) if latest else {}).items()
            if k in smart.PRICE_DEFAULTS
        }
        schedule = await database_sync_to_async(smart.price_schedule)(charge_point, params={**params, **updates})
        self.spawn(self._switch_profile(command, charge_point, "price", None, schedule))

    async def override_profile(self, command, message, user, charge_point) -> None:
        """OVERRIDE_CHARGING_PROFILES (price-based) / OVERRIDE_DELAYED_CHARGING_TIMEOUT {value}:
        true = charge now, lifting the profile on the charger while the setting stays on;
        false = put the profile back."""
        value = message.get("value")
        if not isinstance(value, bool):
            await self.send_frame(
                frames.received(command, evse_id=charge_point.identity, error_text="value must be true or false")
            )
            return
        kind = "price" if command == "OVERRIDE_CHARGING_PROFILES" else "delayed"
        latest = await database_sync_to_async(selectors.home_profile_latest)(charge_point=charge_point, kind=kind)
        if latest is None or latest.status == ChargingProfile.Status.CLEARED:
            await self.send_frame(
                frames.received(
                    command, evse_id=charge_point.identity, error_text="smart charging profile is not enabled"
                )
            )
            return
        await self.send_frame(frames.received(command, evse_id=charge_point.identity))
        self.spawn(self._override(command, charge_point, latest, value))

    async def _override(self, command: str, charge_point: ChargePoint, profile: ChargingProfile, lift: bool) -> None:
        async with self.smart_lock:
            await self._override_locked(command, charge_point, profile, lift)

    async def _override_locked(
        self, command: str, charge_point: ChargePoint, profile: ChargingProfile, lift: bool
    ) -> None:
        profile.charge_point = charge_point
        if lift:
            reason = await services.profile_clear(identity=charge_point.identity, profile_id=profile.profile_id)
            if reason == "":
                # Still enabled, but not on the charger: "pending" until put back.
                await database_sync_to_async(services.profile_mark)(
                    profile_pk=profile.pk, status=ChargingProfile.Status.PENDING
                )
        else:
            reason = await services.profile_send(profile)
        await self._smart_result(command, charge_point, reason)

    async def override_set(self, command: str, message: dict, user: User) -> None:
        try:
            evse_ids = message.get("chargepoints")
            if not isinstance(evse_ids, list) or not evse_ids:
                raise smart.ScheduleError("chargepoints must be a non-empty list")
            start_days = smart.parse_day_codes(message.get("overridestartdays"))
            stop_days = smart.parse_day_codes(message.get("overridestopdays"))
            smart.parse_time(message.get("overridestarttime"))
            smart.parse_time(message.get("overridestoptime"))
            current = message.get("overridevalue")
            if not isinstance(current, (int, float)) or isinstance(current, bool) or not 0 <= current <= 1000:
                raise smart.ScheduleError("overridevalue must be a current in amperes")
        except smart.ScheduleError as exc:
            await self.send_frame(frames.received(command, error_text=str(exc)))
            return
        charge_points = []
        for evse_id in evse_ids:
            cp = await database_sync_to_async(selectors.charge_point_for_driver)(user=user, evse_id=evse_id)
            if cp is None:
                await self.send_frame(frames.not_authorized(command, evse_id=evse_id))
                return
            charge_points.append(cp)
        schedule_id = message.get("schedule_id")
        if command == "POST_EDIT_OVERRIDE_CURRENT":
            try:
                schedule_id = int(schedule_id)
            except (TypeError, ValueError):
                await self.send_frame(frames.received(command, error_text="unknown schedule"))
                return
            old_rows = await database_sync_to_async(
                lambda: list(services.override_rows(user=user, schedule_id=schedule_id))
            )()
            if not old_rows:
                await self.send_frame(frames.received(command, error_text="unknown schedule"))
                return
            # Chargers dropped from the schedule get the limit lifted.
            kept = {cp.identity for cp in charge_points}
            for row in old_rows:
                if row.charge_point.identity not in kept:
                    await services.profile_clear(identity=row.charge_point.identity, profile_id=schedule_id)
                    await database_sync_to_async(services.profile_mark)(
                        profile_pk=row.pk, status=ChargingProfile.Status.CLEARED
                    )
        else:
            schedule_id = await database_sync_to_async(services.override_next_id)()
        await self.send_frame(frames.received(command))
        for cp in charge_points:
            schedule = await database_sync_to_async(smart.override_schedule)(
                cp,
                start_days=start_days,
                start_time=message["overridestarttime"],
                stop_days=stop_days,
                stop_time=message["overridestoptime"],
                current=current,
                schedule_id=schedule_id,
            )
            profile = await database_sync_to_async(services.profile_save)(
                charge_point=cp, kind="override", schedule=schedule, enabled=True, profile_id=schedule_id
            )
            profile.charge_point = cp
            self.spawn(services.profile_send(profile))
        schedule = selectors.OverrideSchedule(
            schedule_id=schedule_id,
            charge_points=[cp.identity for cp in charge_points],
            start_time=message["overridestarttime"],
            stop_time=message["overridestoptime"],
            start_days=start_days,
            stop_days=stop_days,
            current=current,
        )
        await self.send_frame(frames.override_result(command, schedule))

    async def override_clear(self, message: dict, user: User) -> None:
        command = "POST_CLEAR_OVERRIDE_CURRENT"
        try:
            schedule_id = int(message.get("schedule_id"))
        except (TypeError, ValueError):
            await self.send_frame(frames.received(command, error_text="unknown schedule"))
            return
        rows = await database_sync_to_async(lambda: list(services.override_rows(user=user, schedule_id=schedule_id)))()
        for row in rows:
            await database_sync_to_async(services.profile_mark)(
                profile_pk=row.pk, status=ChargingProfile.Status.CLEARED
            )
            self.spawn(services.profile_clear(identity=row.charge_point.identity, profile_id=schedule_id))
        await self.send_frame(frames.override_cleared(schedule_id))


CHARGER_COMMANDS = {
    "GET_CH_STATUS": "get_status",
    "GET_CH_SETTINGS": "get_settings",
    "GET_GRID_STATUS": "get_grid",
    "SET_PUBLIC_CHARGING": "set_flag",
    "SET_PLUG_AND_CHARGE": "set_flag",
    "SET_OPERATIVE": "set_operative",
    "SET_INOPERATIVE": "set_operative",
    "SOFT_RESET": "reset",
    "REBOOT": "reset",
    "START_SESSION": "start_session",
    "STOP_SESSION": "stop_session",
    "SET_DELAYED_CHARGING": "set_smart_profile",
    "SET_PRICE_BASED_CHARGING": "set_smart_profile",
    "SAVE_SCHEDULE_DELAYED_CHARGING": "save_delayed_schedule",
    "PATCH_PRICE_BASED_CHARGING_SETTINGS": "patch_price_settings",
    "OVERRIDE_CHARGING_PROFILES": "override_profile",
    "OVERRIDE_DELAYED_CHARGING_TIMEOUT": "override_profile",
}
