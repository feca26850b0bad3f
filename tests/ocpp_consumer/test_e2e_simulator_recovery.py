"""Simulated chargers keep their transactions as real chargers do (issue 17, finding 5):
over real daphne processes that crash, hang and come back, and a simulator process that is
restarted with its state file.

- our server crashes mid-session: the charger reconnects and the same session goes on;
- transaction messages made while the link is down, or answered with a CALLERROR, are
  delivered after reconnect (or on the next attempt), once, in order; a 1.6 StartTransaction
  sent offline runs under a local id that the answer replaces;
- a simulator restarted with --state-file ends its open sessions as a rebooted charger:
  reason Reboot after a clean exit, PowerLoss after a kill.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager, contextmanager

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from chargepoints.models import ChargePoint, ChargePointEvent, IdToken, OcppMessage
from ocpp_consumer import commands, library
from ocpp_consumer.simulator.runner import ChargerConfig, run_charger
from sessions_app.models import ChargeSession, MeterSample, SessionAnomaly, TransactionEvent
from tests.support.chargers import PASSWORD, eventually, simulated, simulated201
from tests.support.e2e import ROOT, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# (a 2.0.1 station sends Updated every TxUpdatedInterval: whole seconds, at least 1)
SEND_SOMETHING_S = 2.5


@asynccontextmanager
async def running(config: ChargerConfig):
    """The charger as `simulate_chargers` runs it: connect, boot, reconnect."""
    stop = asyncio.Event()
    runner = asyncio.get_running_loop().create_task(run_charger(config, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(runner, 15)


async def down(servers, name: str, charger) -> None:
    """Crash the server and wait until the charger's socket is closed."""
    await sync_to_async(servers.kill)(name)
    await asyncio.wait_for(library.connection_of(charger).wait_closed(), 10)


def frames_in(cp, action: str) -> list:
    return list(OcppMessage.objects.filter(charge_point=cp, action=action, direction="in").order_by("id"))


def remote_start(protocol: str, tag: str) -> tuple[str, dict]:
    return "RemoteStartTransaction", {"connectorId": 1, "idTag": tag}


def remote_stop(protocol: str, session: ChargeSession) -> tuple[str, dict]:
    if protocol == "ocpp1.6":
        return "RemoteStopTransaction", {"transactionId": int(session.transaction_id)}
    return "RequestStopTransaction", {"transactionId": session.transaction_id}


async def new_charger_with_card(make_charge_point, protocol: str, **fields):
    cp = await sync_to_async(make_charge_point)(**fields)
    # On 2.0.1 a remote start carries a Central token, accepted through its request.
    token_type = "Central" if protocol == "ocpp2.0.1" else "ISO14443"
    await sync_to_async(IdToken.objects.create)(uid="CARD-OK", token_type=token_type)
    return cp


def active_session(cp) -> ChargeSession | None:
    return ChargeSession.objects.filter(charge_point=cp, status="active").first()


def completed(session: ChargeSession) -> ChargeSession | None:
    return ChargeSession.objects.filter(pk=session.pk, status="completed").first()


# --- (a) our server crashes mid-session ---------------------------------------------------------


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_charger_goes_on_with_its_session_after_our_server_crashed(
    servers, transactional_db, make_charge_point, protocol
):
    name = f"crash-{protocol}"
    url = servers.get(name)
    cp = await new_charger_with_card(make_charge_point, protocol)
    config = ChargerConfig(
        identity=cp.identity, base_url=url, password=PASSWORD, protocol=protocol, meter_interval=0.3, rfid_every=0
    )
    async with running(config):
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).last_boot_at, timeout=10)
        action, payload = remote_start(protocol, "CARD-OK")
        assert await commands.send_async(cp.identity, action, payload, timeout=10) == {"status": "Accepted"}
        session = await eventually(lambda: active_session(cp), timeout=10)
        await eventually(lambda: MeterSample.objects.filter(session=session, context="Sample.Periodic").exists())
        # The server hangs, so a periodic meter message goes out and waits for its answer;
        # then it dies without an answer and comes back on the same port.
        await sync_to_async(servers.freeze)(name)
        await asyncio.sleep(SEND_SOMETHING_S)
        await sync_to_async(servers.kill)(name)
        restarted_at = timezone.now()
        await sync_to_async(servers.get)(name)

        # The same session goes on: readings after the restart, for that session.
        await eventually(
            lambda: MeterSample.objects.filter(session=session, sampled_at__gt=restarted_at).exists(), timeout=30
        )
        action, payload = remote_stop(protocol, session)
        assert await commands.send_async(cp.identity, action, payload, timeout=10) == {"status": "Accepted"}
        closed = await eventually(lambda: completed(session), timeout=10)

    assert closed.stop_reason == "Remote" and closed.closed_by == "charger"
    assert closed.meter_stop_wh > closed.meter_start_wh
    assert await sync_to_async(ChargeSession.objects.filter(charge_point=cp).count)() == 1
    # Nothing was lost on the way, not even the message that was waiting when we died.
    assert not await sync_to_async(SessionAnomaly.objects.filter(session=session).exists)()
    if protocol == "ocpp2.0.1":
        seq_nos = await sync_to_async(
            lambda: list(TransactionEvent.objects.filter(session=session).values_list("seq_no", flat=True))
        )()
        assert sorted(seq_nos) == list(range(len(seq_nos)))


# --- (b) messages made while the link is down, or refused, are delivered once ----------------------


async def test_16_transaction_messages_made_while_the_link_is_down_are_delivered_once_after_reconnect(
    servers, transactional_db, make_charge_point
):
    url = servers.get("down-16")
    cp = await new_charger_with_card(make_charge_point, "ocpp1.6")
    async with simulated(url, cp.identity) as charger:
        started = await charger.start_transaction(1, "CARD-OK", meter_loop=False)
        await down(servers, "down-16", charger)
        charger.state.meters[1] += 1500
        assert await charger.send_meter_values(1) is None  # queued, not lost
        assert await charger.stop_transaction(1) is None
        state = charger.state
    assert [type(r).__name__ for r in state.queue] == ["MeterValues", "StopTransaction"]
    session = await sync_to_async(ChargeSession.objects.get)(transaction_id=str(started.transaction_id))
    assert session.status == "active"

    url = await sync_to_async(servers.get)("down-16")
    async with simulated(url, cp.identity, state=state) as charger:
        await charger.deliver_queue()
    assert state.queue == []
    session = await sync_to_async(ChargeSession.objects.get)(pk=session.pk)
    assert session.status == "completed" and session.closed_by == "charger" and session.energy_wh == 1500
    assert len(await sync_to_async(frames_in)(cp, "MeterValues")) == 1
    assert len(await sync_to_async(frames_in)(cp, "StopTransaction")) == 1


async def test_a_16_start_sent_offline_runs_under_a_local_id_that_the_answer_replaces(
    servers, transactional_db, make_charge_point
):
    url = servers.get("down-16")
    cp = await new_charger_with_card(make_charge_point, "ocpp1.6")
    async with simulated(url, cp.identity) as charger:
        await down(servers, "down-16", charger)
        assert await charger.start_transaction(1, "CARD-OK", meter_loop=False) is None
        local_id = charger.transactions[1].transaction_id
        assert local_id < 0 and charger.transactions[1].authorised_locally
        charger.state.meters[1] += 700
        await charger.send_meter_values(1)
        await charger.stop_transaction(1)
        state = charger.state
    assert [type(r).__name__ for r in state.queue] == ["StartTransaction", "MeterValues", "StopTransaction"]
    assert state.queue[1].transaction_id == state.queue[2].transaction_id == local_id

    url = await sync_to_async(servers.get)("down-16")
    async with simulated(url, cp.identity, state=state) as charger:
        await charger.deliver_queue()
    assert state.queue == [] and state.pending_starts == []
    session = await sync_to_async(ChargeSession.objects.get)(charge_point=cp)
    assert int(session.transaction_id) > 0
    assert session.status == "completed" and session.energy_wh == 700
    # The readings and the stop reached that session: 7 sampled values plus the stop's.
    assert await sync_to_async(MeterSample.objects.filter(session=session).count)() == 7 + 1
    assert not await sync_to_async(
        ChargePointEvent.objects.filter(charge_point=cp).filter(kind="stop_unknown_transaction").exists
    )()
    (meter_values,) = await sync_to_async(frames_in)(cp, "MeterValues")
    assert meter_values.payload["transactionId"] == int(session.transaction_id)


async def test_a_16_session_started_offline_with_a_card_refused_later_is_stopped_as_deauthorized(
    servers, transactional_db, make_charge_point
):
    url = servers.get("down-16")
    cp = await sync_to_async(make_charge_point)()
    async with simulated(url, cp.identity) as charger:
        await down(servers, "down-16", charger)
        assert await charger.start_transaction(1, "UNKNOWN-CARD", meter_loop=False) is None
        state = charger.state

    url = await sync_to_async(servers.get)("down-16")
    async with simulated(url, cp.identity, state=state) as charger:
        await charger.deliver_queue()
        session = await eventually(lambda: ChargeSession.objects.filter(charge_point=cp, status="completed").first())
        assert charger.transactions == {}
    assert session.stop_reason == "DeAuthorized" and session.closed_by == "charger"


async def test_a_201_event_made_while_the_link_is_down_is_replayed_once(servers, transactional_db, make_charge_point):
    url = servers.get("down-201")
    cp = await new_charger_with_card(make_charge_point, "ocpp2.0.1")
    async with simulated201(url, cp.identity, meter_interval=600) as station:
        tx = await station.start_transaction(1, "CARD-OK", meter_loop=False)
        await down(servers, "down-201", station)
        assert await station.meter_update(1, seconds=600) is None
        assert await station.stop_transaction(1, "Local") is None
        state = station.state
    assert [(r.event_type, r.offline) for r in state.queue] == [("Updated", True), ("Ended", True)]

    url = await sync_to_async(servers.get)("down-201")
    async with simulated201(url, cp.identity, state=state) as station:
        replayed = await station.replay_queue()
    assert [r.seq_no for r, _ in replayed] == [2, 3] and all(answer is not None for _, answer in replayed)
    session = await sync_to_async(ChargeSession.objects.get)(transaction_id=tx.transaction_id)
    assert session.status == "completed" and session.stop_reason == "Local" and session.offline
    assert len(await sync_to_async(frames_in)(cp, "TransactionEvent")) == 4  # Started, Charging, Updated, Ended
    assert not await sync_to_async(SessionAnomaly.objects.filter(session=session).exists)()


@contextmanager
def sessions_refuse_updates():
    """Fault injection in the real database: every UPDATE of a charge session fails, so
    the server answers a stop with a CALLERROR (InternalError) and stores nothing."""
    table = ChargeSession._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE OR REPLACE FUNCTION e2e_refuse() RETURNS trigger AS $$"
                " BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER e2e_refuse BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION e2e_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER e2e_refuse BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS e2e_refuse ON {table}")
                cursor.execute("DROP FUNCTION IF EXISTS e2e_refuse()")
            else:
                cursor.execute("DROP TRIGGER IF EXISTS e2e_refuse")


async def refusing_stop(charger, stop) -> None:
    """Send the stop while the database refuses it; it comes back a CALLERROR and is kept."""
    refusal = sessions_refuse_updates()
    await sync_to_async(refusal.__enter__)()
    try:
        assert await stop() is None
        assert len(charger.state.queue) == 1 and charger.state.queue_attempts == 1
    finally:
        await sync_to_async(refusal.__exit__)(None, None, None)


def answers_to(cp, action: str) -> list[str]:
    """The message types of our answers to `action` (3 CALLRESULT, 4 CALLERROR), in order."""
    return [
        m.message_type
        for m in OcppMessage.objects.filter(charge_point=cp, action=action, direction="out").order_by("id")
    ]


async def test_a_16_stop_answered_with_a_callerror_is_sent_again_and_stored_once(server, make_charge_point):
    cp = await new_charger_with_card(make_charge_point, "ocpp1.6")
    async with simulated(server, cp.identity) as charger:
        charger.state.configuration["TransactionMessageRetryInterval"] = {"value": "1", "readonly": False}
        started = await charger.start_transaction(1, "CARD-OK", meter_loop=False)
        charger.state.meters[1] += 900
        await refusing_stop(charger, lambda: charger.stop_transaction(1))
        await eventually(lambda: charger.state.queue == [], timeout=10)  # the next attempt got through
        assert charger.state.queue_attempts == 0
    session = await sync_to_async(ChargeSession.objects.get)(transaction_id=str(started.transaction_id))
    assert session.status == "completed"
    assert session.energy_wh == 900 and session.closed_by == "charger"
    assert await sync_to_async(answers_to)(cp, "StopTransaction") == [4, 3]


async def test_a_201_event_answered_with_a_callerror_is_sent_again_and_stored_once(server, make_charge_point):
    cp = await new_charger_with_card(make_charge_point, "ocpp2.0.1")
    async with simulated201(server, cp.identity, meter_interval=600) as station:
        station.state.variables[("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent")]["value"] = "1"
        tx = await station.start_transaction(1, "CARD-OK", meter_loop=False)
        await refusing_stop(station, lambda: station.stop_transaction(1, "Local"))
        await eventually(lambda: station.state.queue == [], timeout=10)
    session = await sync_to_async(ChargeSession.objects.get)(transaction_id=tx.transaction_id)
    assert session.status == "completed"
    assert session.stop_reason == "Local" and not session.offline
    assert (await sync_to_async(answers_to)(cp, "TransactionEvent"))[-2:] == [4, 3]
    assert not await sync_to_async(SessionAnomaly.objects.filter(session=session).exists)()


# --- (c) a simulator restarted with its state file ---------------------------------------------------


def simulator_start(url: str, prefix: str, protocol: str, state_file) -> subprocess.Popen:
    """`manage.py simulate_chargers` as dev.py runs it, for one charger <prefix>1."""
    argv = [
        sys.executable,
        str(ROOT / "manage.py"),
        "simulate_chargers",
        *("--count", "1", "--prefix", prefix, "--url", url, "--password", PASSWORD, "--protocol", protocol),
        *("--rfid-every", "0", "--meter-interval", "0.5", "--state-file", str(state_file)),
    ]
    with open(ROOT / "var" / f"e2e-simulator-{prefix}.log", "a") as log:
        return subprocess.Popen(argv, env=server_env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def saved_transaction_ids(state_file, identity: str) -> list:
    try:
        data = json.loads(state_file.read_text())
    except (FileNotFoundError, ValueError):
        return []
    charger = data["chargers"].get(identity)
    return [t["transaction_id"] for t in charger["state"]["transactions"]] if charger else []


@pytest.mark.parametrize(
    ("protocol", "ending", "reason"),
    [
        ("ocpp1.6", "stop", "Reboot"),
        ("ocpp1.6", "kill", "PowerLoss"),
        ("ocpp2.0.1", "stop", "Reboot"),
        ("ocpp2.0.1", "kill", "PowerLoss"),
    ],
)
async def test_a_restarted_simulator_ends_its_sessions_as_a_rebooted_charger(
    server, make_charge_point, tmp_path, protocol, ending, reason
):
    prefix = f"E2E-{uuid.uuid4().hex[:8]}-"
    cp = await new_charger_with_card(make_charge_point, protocol, identity=f"{prefix}1")
    state_file = tmp_path / "chargers.json"
    simulator = simulator_start(server, prefix, protocol, state_file)
    try:
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).last_boot_at, timeout=30)
        action, payload = remote_start(protocol, "CARD-OK")
        assert await commands.send_async(cp.identity, action, payload, timeout=10) == {"status": "Accepted"}
        session = await eventually(lambda: active_session(cp), timeout=10)
        expected = int(session.transaction_id) if protocol == "ocpp1.6" else session.transaction_id
        await eventually(lambda: saved_transaction_ids(state_file, cp.identity) == [expected])

        if ending == "stop":
            simulator.send_signal(signal.SIGTERM)
        else:
            simulator.kill()
        assert await asyncio.get_running_loop().run_in_executor(None, lambda: simulator.wait(20)) == (
            0 if ending == "stop" else -signal.SIGKILL
        )
        assert json.loads(state_file.read_text())["clean_exit"] is (ending == "stop")
        assert (await sync_to_async(ChargeSession.objects.get)(pk=session.pk)).status == "active"

        simulator = simulator_start(server, prefix, protocol, state_file)
        closed = await eventually(lambda: completed(session), timeout=30)
        assert await eventually(lambda: saved_transaction_ids(state_file, cp.identity) == [] and state_file.exists())
    finally:
        simulator.terminate()
        await asyncio.get_running_loop().run_in_executor(None, lambda: simulator.wait(20))

    assert closed.stop_reason == reason and closed.closed_by == "charger"
    if protocol == "ocpp2.0.1":
        ended = await sync_to_async(TransactionEvent.objects.get)(session=session, event_type="Ended")
        assert ended.trigger_reason == "AbnormalCondition"
    assert await sync_to_async(ChargeSession.objects.filter(charge_point=cp).count)() == 1
