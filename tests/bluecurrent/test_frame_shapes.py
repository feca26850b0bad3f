"""Every frame we build survives the client's own handlers (which raise on missing keys,
null numbers and unparseable times), in the states a charger can be in."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta

import pytest
from bluecurrent_api.websocket import Websocket
from django.utils import timezone

from bluecurrent import frames, snapshots
from bluecurrent.consumer import CHARGER_COMMANDS
from bluecurrent.selectors import OverrideSchedule
from tests.factories import ChargePointFactory, ChargeSessionFactory, ConnectorFactory, IdTokenFactory, SiteFactory

pytestmark = pytest.mark.django_db


def through_client(frame: dict) -> dict:
    """Run a frame through the client's message handler; return what its receiver got."""
    got: list[dict] = []

    async def receiver(message):
        got.append(message)

    asyncio.run(Websocket()._message_handler(copy.deepcopy(frame), receiver))
    return got[0] if got else {}


@pytest.fixture
def driver_cp():
    site = SiteFactory()
    cp = ChargePointFactory(site=site, model="", vendor="", name="")
    card = IdTokenFactory(operator=site.operator)
    return card.user, cp


@pytest.mark.parametrize("state", ["no-connector", "idle-offline", "charging", "finished", "faulted"])
def test_status_frames_survive_the_client(driver_cp, state):
    user, cp = driver_cp
    if state != "no-connector":
        connector = ConnectorFactory(charge_point=cp)
    if state == "idle-offline":
        cp.is_online, cp.last_seen_at = False, timezone.now() - timedelta(hours=1)
    else:
        cp.is_online = True
    cp.save()
    if state == "charging":
        connector.status, connector.power_w = "Charging", 7400
        connector.save()
        ChargeSessionFactory(connector=connector, user=user, meter_start_wh=0, meter_last_wh=1234, power_w=7400)
    if state == "finished":
        ChargeSessionFactory(
            connector=connector, user=user, status="completed", stopped_at=timezone.now(), meter_stop_wh=5000
        )
    if state == "faulted":
        connector.status = "Faulted"
        connector.save()
    message = through_client(snapshots.status_frame(charge_point=cp))
    data = message["data"]
    assert data["vehicle_status"] in {"standby", "vehicle_detected", "ready", "no_power", "vehicle_error"}
    if state == "charging":
        assert data["activity"] == "charging" and data["total_kw"] > 0 and data["actual_kwh"] == 1.23
        assert data["start_datetime"] is not None and data["stop_datetime"] is None
    if state == "finished":
        assert data["stop_datetime"] >= data["start_datetime"]
    if state == "idle-offline":
        assert data["activity"] == "offline" and data["offline_since"] is not None


def test_settings_grid_points_and_cards_survive_the_client(driver_cp):
    user, cp = driver_cp
    ConnectorFactory(charge_point=cp)
    settings = through_client(snapshots.settings_frame(charge_point=cp))
    assert settings["data"]["linked_charge_cards_only"] is False
    grid = through_client(snapshots.grid_frame(charge_point=cp))
    assert grid["data"]["grid_max_current"] == 0
    points = through_client(snapshots.charge_points_frame(user=user))
    assert points["data"][0]["evse_id"] == cp.identity
    cards = through_client(snapshots.cards_frame(user=user, limit=100))
    assert len(cards["data"]) == 1


def test_action_and_setting_answers_survive_the_client():
    ok = through_client(frames.action_status("REBOOT", evse_id="CP1"))
    assert ok == {"object": "REBOOT", "success": True, "evse_id": "CP1", "result": {}, "error": ""}
    failed = through_client(frames.action_status("START_SESSION", evse_id="CP1", error_text="REJECTED"))
    assert failed["error"] == "start_session rejected for chargepoint: CP1"
    refused = through_client(frames.received("STOP_SESSION", evse_id="CP1", error_text="no active session"))
    assert refused["object"] == "STOP_SESSION" and refused["success"] is False
    assert through_client(frames.received("SOFT_RESET", evse_id="CP1")) == {}  # ignored by design
    public = through_client(frames.setting_status("SET_PUBLIC_CHARGING", evse_id="CP1", value=False))
    assert public["object"] == "LINKED_CHARGE_CARDS_ONLY" and public["result"] is True
    pnc = through_client(frames.setting_status("SET_PLUG_AND_CHARGE", evse_id="CP1", value=True))
    assert pnc["object"] == "PLUG_AND_CHARGE" and pnc["result"] is True


@pytest.mark.parametrize("command", [*CHARGER_COMMANDS, "POST_SET_OVERRIDE_CURRENT", "POST_EDIT_OVERRIDE_CURRENT"])
def test_a_refusal_for_a_foreign_charger_never_ends_the_clients_connection(command):
    """The client raises (and drops its connection) on an ERROR frame and on a frame its
    handlers cannot parse; a refused request must be neither."""
    message = through_client(frames.not_authorized(command, evse_id="CP-OTHER"))
    if message:
        assert message["error"] == "not authorized for chargepoint: CP-OTHER"
        assert message.get("success") is False


def test_override_frames_survive_the_client():
    schedule = OverrideSchedule(
        schedule_id=9200,
        charge_points=["CP1"],
        start_time="17:00",
        stop_time="21:00",
        start_days=["MO", "TU"],
        stop_days=["MO", "TU"],
        current=10,
    )
    assert through_client(frames.override_list([schedule]))["data"][0]["override_end_days"] == ["MO", "TU"]
    assert through_client(frames.override_result("POST_SET_OVERRIDE_CURRENT", schedule))["data"]["schedule_id"] == 9200
    assert through_client(frames.override_cleared(9200))["schedule_id"] == 9200


def test_timestamps_are_offset_aware_with_a_plus_sign():
    from bluecurrent_api.utils import create_datetime

    moment = timezone.now().replace(microsecond=0)
    assert create_datetime(frames.timestamp(moment)) == moment
    assert frames.timestamp(None) == ""


@pytest.mark.parametrize(
    "code, exception",
    [(0, "WebsocketError"), (1, "WebsocketError"), (2, "WebsocketError"), (42, "RequestLimitReached")],
)
def test_error_frames_raise_the_clients_exceptions(code, exception):
    with pytest.raises(Exception) as raised:
        through_client(frames.error(code, "x"))
    assert type(raised.value).__name__ == exception
