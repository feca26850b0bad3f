"""The simulated chargers' state as JSON and in the state file (ocpp_consumer/simulator/
persist.py, runner.StateKeeper): everything a reconnect or a restart keeps comes back
equal, and reading the file of a previous run is a reboot of its chargers."""

from __future__ import annotations

import json

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ocpp_consumer.simulator import persist
from ocpp_consumer.simulator.runner import ChargerConfig, StateKeeper
from ocpp_consumer.simulator.v16 import SimState, Transaction, default_configuration
from ocpp_consumer.simulator.v201 import SimState201, Transaction201, default_variables

AT = "2024-05-01T10:00:00.000Z"


def state16() -> SimState:
    """A 1.6 charger mid-session, offline: its StartTransaction not answered yet (a local id)."""
    config = ChargerConfig(identity="CP-16", base_url="ws://x/")
    state = SimState(
        meters={1: 1_234_567.5, 2: 42.0},
        soc={1: 55.0},
        status={1: "Charging", 2: "Available"},
        configuration=default_configuration(config),
        local_list_version=3,
        local_list={"CARD-1": {"status": "Accepted"}},
        profiles={7: {"connector_id": 1, "cs_charging_profiles": {"charging_profile_id": 7, "stack_level": 1}}},
        reservations={12: 2},
    )
    local_id = state.new_local_id()
    state.transactions[1] = Transaction(1, local_id, "CARD-1", 1_230_000, ends_at=1_700_000_000.5)
    state.pending_starts.append(local_id)
    state.queue += [
        call16.StartTransaction(connector_id=1, id_tag="CARD-1", meter_start=1_230_000, timestamp=AT),
        call16.MeterValues(
            connector_id=1,
            transaction_id=local_id,
            meter_value=[{"timestamp": AT, "sampled_value": [{"value": "1234567", "unit": "Wh"}]}],
        ),
    ]
    state.queue_attempts = 2
    return state


def state201() -> SimState201:
    config = ChargerConfig(identity="CS-201", base_url="ws://x/", protocol="ocpp2.0.1")
    state = SimState201(
        meters={1: 5000.0},
        status={1: "Occupied"},
        variables=default_variables(config),
        profiles={3: {"evse_id": 1, "profile": {"id": 3}}},
        costs={"TX-1": 1.25},
    )
    state.transactions[1] = Transaction201(1, "TX-1", {"id_token": "CARD-1", "type": "ISO14443"}, 17, seq_no=4)
    state.queue.append(
        call201.TransactionEvent(
            event_type="Updated",
            timestamp=AT,
            trigger_reason="MeterValuePeriodic",
            seq_no=3,
            transaction_info={"transaction_id": "TX-1"},
            offline=True,
        )
    )
    return state


def through_json(state):
    return type(state).from_json(json.loads(json.dumps(state.to_json())))


def test_a_16_state_comes_back_equal_from_json():
    state = state16()
    again = through_json(state)
    assert again == state
    assert isinstance(again.queue[0], call16.StartTransaction) and again.queue[1].transaction_id < 0
    assert again.new_local_id() == state.new_local_id()  # local ids never repeat after a restart


def test_a_201_state_comes_back_equal_from_json():
    state = state201()
    again = through_json(state)
    assert again == state
    assert again.variables[("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent")]["value"] == "3"
    assert isinstance(again.queue[0], call201.TransactionEvent) and again.queue[0].offline


def test_an_unknown_queued_message_is_a_clear_error():
    with pytest.raises(persist.StateFileError, match="unknown queued message 'Teleport'"):
        persist.calls_from_json([{"action": "Teleport", "payload": {}}], call16)


def configs() -> list[ChargerConfig]:
    return [
        ChargerConfig(identity="CP-16", base_url="ws://x/"),
        ChargerConfig(identity="CS-201", base_url="ws://x/", protocol="ocpp2.0.1"),
    ]


def saved_run(path, *, clean_exit: bool) -> None:
    """The file a run with these chargers (mid-session) leaves behind."""
    keeper = StateKeeper(path, configs())
    keeper.states["CP-16"], keeper.states["CS-201"] = state16(), state201()
    keeper.others["SOMEONE-ELSE"] = {"protocol": "ocpp1.6", "state": {"meters": {"1": 9.0}}}
    keeper.save(clean_exit=clean_exit)


@pytest.mark.parametrize(("clean_exit", "reason"), [(True, "Reboot"), (False, "PowerLoss")])
def test_reading_the_file_reboots_the_chargers(tmp_path, clean_exit, reason):
    path = tmp_path / "chargers.json"
    saved_run(path, clean_exit=clean_exit)
    saved_at = json.loads(path.read_text())["saved_at"]

    keeper = StateKeeper(path, configs())

    charger = keeper.states["CP-16"]
    assert charger.transactions == {} and charger.status[1] == "Available"
    # What was queued goes first, then the stop of the open transaction (still under its
    # local id: the queued StartTransaction's answer maps it).
    start, meter_values, stop = charger.queue
    assert isinstance(start, call16.StartTransaction) and isinstance(meter_values, call16.MeterValues)
    assert isinstance(stop, call16.StopTransaction)
    assert (stop.reason, stop.timestamp, stop.meter_stop) == (reason, saved_at, 1_234_567)
    assert stop.transaction_id == meter_values.transaction_id == charger.pending_starts[0]
    assert charger.queue_attempts == 2 and charger.meters[1] == 1_234_567.5

    station = keeper.states["CS-201"]
    assert station.transactions == {} and station.status[1] == "Available"
    updated, ended = station.queue
    assert (ended.event_type, ended.seq_no, ended.trigger_reason) == ("Ended", 4, "AbnormalCondition")
    assert ended.transaction_info == {"transaction_id": "TX-1", "stopped_reason": reason}
    assert ended.timestamp == saved_at
    assert ended.meter_value[0]["sampled_value"][0]["value"] == 5000.0
    assert updated.seq_no == 3

    # A charger this run does not simulate stays in the file as it was.
    keeper.save()
    assert json.loads(path.read_text())["chargers"]["SOMEONE-ELSE"] == {
        "protocol": "ocpp1.6",
        "state": {"meters": {"1": 9.0}},
    }


def test_a_running_simulator_marks_the_file_as_not_cleanly_ended_and_writes_it_whole(tmp_path):
    path = tmp_path / "chargers.json"
    keeper = StateKeeper(path, configs())
    keeper.save()
    data = json.loads(path.read_text())
    assert data["clean_exit"] is False and data["format"] == persist.FORMAT
    assert set(data["chargers"]) == {"CP-16", "CS-201"}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it
    keeper.save(clean_exit=True)
    assert json.loads(path.read_text())["clean_exit"] is True


def test_no_file_yet_means_new_chargers(tmp_path):
    keeper = StateKeeper(tmp_path / "missing.json", configs())
    assert keeper.states["CP-16"] == SimState() and keeper.states["CS-201"] == SimState201()


def test_a_charger_saved_with_another_protocol_starts_afresh(tmp_path):
    path = tmp_path / "chargers.json"
    saved_run(path, clean_exit=True)
    swapped = [
        ChargerConfig(identity="CP-16", base_url="ws://x/", protocol="ocpp2.0.1"),
        ChargerConfig(identity="CS-201", base_url="ws://x/"),
    ]
    keeper = StateKeeper(path, swapped)
    assert keeper.states["CP-16"] == SimState201() and keeper.states["CS-201"] == SimState()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"format": 99, "chargers": {}}', "is not a simulator state file"),
        ('{"format": 1, "chargers": {"CP-16": {"protocol": "ocpp1.6"}}}', "the state of CP-16 is not readable"),
    ],
)
def test_a_bad_file_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "chargers.json"
    path.write_text(text)
    with pytest.raises(persist.StateFileError, match=message):
        StateKeeper(path, configs())
