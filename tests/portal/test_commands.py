"""Remote commands from the charger page: the payload sent, the charger's answer or a
clear error shown, CSRF, and operator scoping."""

from __future__ import annotations

import pytest

from chargepoints.models import ChargingProfile
from ocpp_consumer import answers as answer_records
from ocpp_consumer import commands

pytestmark = pytest.mark.django_db


@pytest.fixture
def bus(monkeypatch):
    """Replace the command bus's send with a recorder answering like a charger."""
    calls = []
    answers = {}

    def fake_send(charge_point_id, action, payload, *, timeout=None, source=""):
        calls.append((charge_point_id, action, payload))
        outcome = answers.get(action, {"status": "Accepted"})
        if isinstance(outcome, Exception):
            raise outcome
        # Like the real bus: what the answer tells is recorded in one place.
        answer_records.record_sync(charge_point_id, action, payload, outcome, source=source)
        return outcome

    monkeypatch.setattr(commands, "send", fake_send)
    return calls, answers


def post(client, command, **fields):
    return client.post("/chargers/Alpha-CP-0/command/", {"command": command, **fields}, follow=True)


def test_a_reset_shows_the_chargers_answer(alpha_client, bus):
    calls, _ = bus
    response = post(alpha_client, "reset", type="Hard", confirm="yes")
    assert calls == [("Alpha-CP-0", "Reset", {"type": "Hard"})]
    page = response.content.decode()
    assert "Reset (Reset)" in page and "data-answer-status>Accepted<" in page


@pytest.mark.parametrize(
    "command,fields,action,payload",
    [
        ("unlock", {"connectorId": "1"}, "UnlockConnector", {"connectorId": 1}),
        (
            "availability",
            {"connectorId": "0", "type": "Inoperative"},
            "ChangeAvailability",
            {"connectorId": 0, "type": "Inoperative"},
        ),
        (
            "trigger",
            {"requestedMessage": "StatusNotification", "connectorId": "1"},
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "connectorId": 1},
        ),
        (
            "get-configuration",
            {"key": "HeartbeatInterval, MeterValueSampleInterval"},
            "GetConfiguration",
            {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]},
        ),
        ("get-configuration", {"key": ""}, "GetConfiguration", {}),
        (
            "change-configuration",
            {"key": "HeartbeatInterval", "value": "60"},
            "ChangeConfiguration",
            {"key": "HeartbeatInterval", "value": "60"},
        ),
        (
            "remote-start",
            {"connectorId": "1", "idTag": "CARD-1"},
            "RemoteStartTransaction",
            {"connectorId": 1, "idTag": "CARD-1"},
        ),
        ("remote-stop", {"transactionId": "42"}, "RemoteStopTransaction", {"transactionId": 42}),
        ("diagnostics", {"location": "ftp://example.com/"}, "GetDiagnostics", {"location": "ftp://example.com/"}),
        ("clear-cache", {}, "ClearCache", {}),
        ("clear-limit", {"connectorId": "1"}, "ClearChargingProfile", {"id": 901}),
    ],
)
def test_each_command_sends_its_payload(alpha_client, bus, command, fields, action, payload):
    calls, _ = bus
    post(alpha_client, command, **fields)
    assert calls == [("Alpha-CP-0", action, payload)]


def test_a_limit_becomes_a_charging_profile(alpha_client, bus):
    calls, _ = bus
    post(alpha_client, "limit", connectorId="0", limit="7400", unit="W")
    ((_, action, payload),) = calls
    assert action == "SetChargingProfile"
    profile = payload["csChargingProfiles"]
    assert payload["connectorId"] == 0 and profile["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 7400.0}]
    assert profile["chargingSchedule"]["chargingRateUnit"] == "W"
    row = ChargingProfile.objects.get(charge_point__identity="Alpha-CP-0")
    assert (row.profile_id, row.status, row.source) == (900, "active", "portal")


def test_firmware_update_sends_a_retrieve_date(alpha_client, bus):
    calls, _ = bus
    post(alpha_client, "firmware", location="https://example.com/fw.bin")
    assert calls[0][2]["location"] == "https://example.com/fw.bin" and calls[0][2]["retrieveDate"].endswith("Z")


@pytest.mark.parametrize(
    "error,shown",
    [
        (commands.ChargerOffline("Charge point Alpha-CP-0 is not connected"), "The charger is offline"),
        (commands.CommandTimeout("no answer in 20 s"), "No answer from the charger in time"),
        (
            commands.CallErrorReceived("NotSupported", "Reset is not supported"),
            "CALLERROR: NotSupported: Reset is not supported",
        ),
    ],
)
def test_errors_are_shown_clearly(alpha_client, bus, error, shown):
    _, answers = bus
    answers["Reset"] = error
    page = post(alpha_client, "reset", type="Soft").content.decode()
    assert shown in page and "data-answer-error" in page


def test_a_rejection_is_shown_as_the_chargers_answer(alpha_client, bus):
    _, answers = bus
    answers["UnlockConnector"] = {"status": "UnlockFailed"}
    page = post(alpha_client, "unlock", connectorId="1").content.decode()
    assert "data-answer-status>UnlockFailed<" in page


def test_bad_input_is_not_sent(alpha_client, bus):
    calls, _ = bus
    page = post(alpha_client, "unlock", connectorId="zero").content.decode()
    assert calls == [] and "Not sent: connectorId must be a whole number." in page


def test_commands_need_csrf(world, bus):
    from django.test import Client

    from tests.factories import StaffFactory

    client = Client(enforce_csrf_checks=True)
    client.force_login(StaffFactory(operator=world["alpha"][0]))
    response = client.post("/chargers/Alpha-CP-0/command/", {"command": "reset", "type": "Hard"})
    assert response.status_code == 403 and bus[0] == []


def test_commands_to_another_operators_charger_are_refused(alpha_client, bus):
    response = alpha_client.post("/chargers/Beta-CP-0/command/", {"command": "reset", "type": "Hard"})
    assert response.status_code == 404 and bus[0] == []


def test_commands_are_post_only(alpha_client, bus):
    assert alpha_client.get("/chargers/Alpha-CP-0/command/").status_code == 405


def test_a_remote_stop_on_an_ocpp_2_0_1_charger_sends_its_string_transaction_id(alpha_client, bus):
    from chargepoints.models import ChargePoint

    ChargePoint.objects.filter(identity="Alpha-CP-0").update(protocol="ocpp2.0.1")
    calls, _ = bus
    response = post(alpha_client, "remote-stop", transactionId="tx-7f3a")
    assert calls == [("Alpha-CP-0", "RequestStopTransaction", {"transactionId": "tx-7f3a"})]
    assert "whole number" not in response.content.decode()


def test_a_remote_stop_with_a_non_numeric_id_on_a_1_6_charger_is_refused_clearly(alpha_client, bus):
    calls, _ = bus
    page = post(alpha_client, "remote-stop", transactionId="tx-7f3a").content.decode()
    assert calls == [] and "not an OCPP 1.6 transaction id" in page


# --- issue 18: confirmation, card picker, stop from the sessions list ---------------------


def test_a_hard_reset_is_not_sent_without_its_confirmation(alpha_client, bus):
    calls, _ = bus
    page = post(alpha_client, "reset", type="Hard").content.decode()
    assert calls == []
    assert "Not sent: a hard reset restarts the charger at once and ends its sessions" in page
    post(alpha_client, "reset", type="Soft")
    assert calls == [("Alpha-CP-0", "Reset", {"type": "Soft"})]  # a soft reset needs none


def test_the_remote_start_form_offers_the_operators_accepted_cards(alpha_client, world):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import IdTokenFactory

    alpha, beta = world["alpha"][0], world["beta"][0]
    IdTokenFactory(uid="ALPHA-CARD-1", name="Fleet van 1", operator=alpha)
    IdTokenFactory(uid="ALPHA-BLOCKED", operator=alpha, status="Blocked")
    IdTokenFactory(uid="ALPHA-EXPIRED", operator=alpha, expires_at=timezone.now() - timedelta(days=1))
    IdTokenFactory(uid="BETA-CARD-1", operator=beta)
    page = alpha_client.get("/chargers/Alpha-CP-0/").content.decode()
    picker = page[page.index('<select id="rs-t" name="idTag"') :]
    picker = picker[: picker.index("</select>")]
    assert '<option value="ALPHA-CARD-1">Fleet van 1 · ALPHA-CARD-1' in picker
    for refused in ("ALPHA-BLOCKED", "ALPHA-EXPIRED", "BETA-CARD-1"):
        assert refused not in picker


def test_the_sessions_list_shows_the_stop_reason_and_stops_a_running_session(alpha_client, bus, world):
    from sessions_app.models import ChargeSession

    _, _, finished, active = world["alpha"]
    ChargeSession.objects.filter(pk=finished[0].pk).update(stop_reason="EVDisconnected")
    ChargeSession.objects.filter(pk=active.pk).update(transaction_id="77")
    page = alpha_client.get("/sessions/").content.decode()
    assert '<th scope="col">Stop reason</th>' in page
    assert 'data-field="stop-reason">EVDisconnected<' in page
    assert f'action="/sessions/{active.pk}/stop/"' in page
    assert f'action="/sessions/{finished[0].pk}/stop/"' not in page  # only running ones

    calls, _ = bus
    response = alpha_client.post(f"/sessions/{active.pk}/stop/", {"next": "/sessions/?status=active"}, follow=True)
    assert calls == [("Alpha-CP-1", "RemoteStopTransaction", {"transactionId": 77})]
    assert response.redirect_chain[-1][0] == "/sessions/?status=active"
    assert "the charger accepted the stop" in response.content.decode()


def test_a_refused_stop_says_what_the_charger_answered(alpha_client, bus, world):
    active = world["alpha"][3]
    _, answers = bus
    answers["RemoteStopTransaction"] = {"status": "Rejected"}
    page = alpha_client.post(f"/sessions/{active.pk}/stop/", follow=True).content.decode()
    assert "the charger answered Rejected" in page


def test_stopping_needs_the_send_commands_permission_and_the_operators_session(world, bus, client):
    from tests.factories import StaffFactory

    active_alpha, active_beta = world["alpha"][3], world["beta"][3]
    client.force_login(StaffFactory(operator=world["alpha"][0], role="Operator viewer"))
    assert client.post(f"/sessions/{active_alpha.pk}/stop/").status_code == 403
    assert "Stop</button>" not in client.get("/sessions/").content.decode()
    client.force_login(StaffFactory(operator=world["alpha"][0]))
    assert client.post(f"/sessions/{active_beta.pk}/stop/").status_code == 404
    assert bus[0] == []
