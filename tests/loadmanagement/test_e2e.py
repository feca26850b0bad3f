"""Load management end to end: a real daphne, a real Celery worker (both on the test
database and Redis), simulated chargers over real sockets on a site with a 32 A
connection. Sessions start and stop; a watcher checks, every few milliseconds, that the
limits the chargers follow and what the simulated cars draw never add up to more than
32 A on any phase, and the test waits for each car to get its share."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import IdToken
from loadmanagement import profiles
from loadmanagement.models import ConnectorAllocation, LimitStatus, LoadSettingsChange
from loadmanagement.selectors import site_allocation_rows
from loadmanagement.services import site_load_settings_update
from ocpp_consumer.simulator.base import PHASES, VOLTAGE
from tests.factories import SiteFactory
from tests.support.chargers import charge_point_add_for_e2e, eventually, simulated, simulated201
from tests.support.e2e import ROOT, processes_stop, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAPACITY = 32.0
FAIL_SAFE = Decimal("4")
CARDS = ["LM-CARD-A", "LM-CARD-B", "LM-CARD-C"]


@pytest.fixture
def worker_env(transactional_db):
    """Server and worker settings: tasks go through a queue of this test's own."""
    return {
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": f"lm-{uuid.uuid4().hex[:8]}",
        "LOADMANAGEMENT_TRIGGER_DELAY_SECONDS": "0.1",
        "LOADMANAGEMENT_COMMAND_TIMEOUT": "10",
    }


@pytest.fixture
def celery_worker(worker_env):
    env = server_env(**worker_env)
    log_path = ROOT / "var" / f"e2e-celery-{worker_env['CELERY_TASK_DEFAULT_QUEUE']}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                "-Q",
                worker_env["CELERY_TASK_DEFAULT_QUEUE"],
                "-P",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield process
    processes_stop([process])


def limit_amps(charger) -> float:
    """The limit per phase the charger's profiles set on connector 1 now."""
    return charger.power_limit_w(1) / (VOLTAGE * PHASES)


class Watcher:
    """Sums, over the chargers with a transaction, the limit each follows and what each car
    draws, per phase, as often as it can; remembers the highest sums seen."""

    def __init__(self, chargers) -> None:
        self.chargers = chargers
        self.highest_limits = 0.0
        self.highest_draw = [0.0, 0.0, 0.0]
        self.checks = 0

    async def run(self) -> None:
        while True:
            charging = [c for c in self.chargers if 1 in c.transactions]
            self.highest_limits = max(self.highest_limits, sum(limit_amps(c) for c in charging))
            for phase in range(PHASES):
                drawn = sum(c.draw_amps(1)[phase] for c in charging)
                self.highest_draw[phase] = max(self.highest_draw[phase], drawn)
            self.checks += 1
            await asyncio.sleep(0.005)


def draws(chargers, expected: list[float]):
    def check():
        return all(abs(c.draw_amps(1)[0] - amps) < 0.05 for c, amps in zip(chargers, expected))

    check.__qualname__ = f"draws == {expected}"
    return check


def measured_near(site, amps: float):
    def check():
        draws = [row["draw_amps"] for row in site_allocation_rows(site_id=site.pk)]
        return len(draws) == 3 and all(len(d) == 3 and all(abs(a - amps) < 0.5 for a in d) for d in draws)

    return check


def accepted(count: int):
    def check():
        return ConnectorAllocation.objects.filter(session__isnull=False, status=LimitStatus.ACCEPTED).count() == count

    return check


async def test_a_32_a_site_shares_its_connection_and_a_leaving_car_frees_its_share(servers, worker_env, celery_worker):
    url = servers.get("loadmanagement", **worker_env)
    site = await sync_to_async(SiteFactory)(grid_capacity_amps=32)
    await sync_to_async(site_load_settings_update)(
        site=site, changes={"enabled": True, "fail_safe_amps": FAIL_SAFE}, source="test"
    )
    for card in CARDS:
        await sync_to_async(IdToken.objects.create)(uid=card)
    identities = []
    for _ in range(3):
        cp = await sync_to_async(charge_point_add_for_e2e)(connectors=1, site=site)
        identities.append(cp.identity)
    config = {"connectors": 1, "power_w": 22080, "meter_interval": 0.5, "extra": {"car_max_amps": 32}}
    async with contextlib.AsyncExitStack() as stack:
        chargers = [await stack.enter_async_context(simulated(url, identity, **config)) for identity in identities]
        for charger in chargers:
            await charger.send_status(1, "Available")
        # Each charger got its fail-safe default on boot: a car starting now draws 4 A.
        await eventually(lambda: all(profiles.FAIL_SAFE_PROFILE_ID in c.state.profiles for c in chargers), 15)
        assert [limit_amps(c) for c in chargers] == pytest.approx([4.0] * 3)
        watcher = Watcher(chargers)
        watch = asyncio.get_running_loop().create_task(watcher.run())
        try:
            a, b, c = chargers
            await a.start_transaction(1, CARDS[0])
            # 4 A stay free for each of the two idle connectors: 32 - 8.
            await eventually(draws([a], [24.0]), 15)
            await b.start_transaction(1, CARDS[1])
            await eventually(draws([a, b], [14.0, 14.0]), 15)
            await c.start_transaction(1, CARDS[2])
            await eventually(draws([a, b, c], [10.6, 10.6, 10.6]), 15)
            await eventually(accepted(3), 15)
            # What the cars draw reaches the back office (MeterValues, Current.Import per phase).
            await eventually(measured_near(site, 10.6), 15)
            await b.stop_transaction(1)
            # The car that left frees its share (less the 4 A its connector keeps).
            await eventually(draws([a, c], [14.0, 14.0]), 15)
            await a.stop_transaction(1)
            await eventually(draws([c], [24.0]), 15)
            # Turned off: our profiles leave the chargers; the car draws what it can.
            await sync_to_async(site_load_settings_update)(site=site, changes={"enabled": False}, source="test")
            await eventually(lambda: not any(profiles.FAIL_SAFE_PROFILE_ID in x.state.profiles for x in chargers), 15)
            await eventually(draws([c], [32.0]), 15)
        finally:
            watch.cancel()
    assert watcher.checks > 100
    assert watcher.highest_limits <= CAPACITY + 1e-6
    assert max(watcher.highest_draw) <= CAPACITY + 1e-6
    # Turned off, the site keeps no allocation (cleared by the worker's run, which may end
    # just after the chargers saw their profiles go).
    assert await eventually(lambda: not ConnectorAllocation.objects.filter(session__isnull=False).exists(), 15)
    assert await sync_to_async(LoadSettingsChange.objects.filter(site=site).count)() == 2


async def test_a_2_0_1_station_and_a_1_6_charger_share_a_site(servers, worker_env, celery_worker):
    """The 2.0.1 station gets its TxProfile on the EVSE, naming its transaction."""
    url = servers.get("loadmanagement", **worker_env)
    site = await sync_to_async(SiteFactory)(grid_capacity_amps=32)
    await sync_to_async(site_load_settings_update)(site=site, changes={"enabled": True}, source="test")
    for card in CARDS[:2]:
        await sync_to_async(IdToken.objects.create)(uid=card)
    old = await sync_to_async(charge_point_add_for_e2e)(connectors=1, site=site)
    new = await sync_to_async(charge_point_add_for_e2e)(connectors=1, site=site)
    config = {"connectors": 1, "power_w": 22080, "meter_interval": 0.5, "extra": {"car_max_amps": 32}}
    async with simulated(url, old.identity, **config) as charger, simulated201(url, new.identity, **config) as station:
        for sim in (charger, station):
            await eventually(lambda sim=sim: profiles.FAIL_SAFE_PROFILE_ID in sim.state.profiles, 15)
        # The fail-safe default of 0 A: a car waits for its share.
        assert station.power_limit_w(1) == 0 and charger.power_limit_w(1) == 0
        transaction = await station.start_transaction(1, CARDS[0])
        await eventually(lambda: abs(station.draw_amps(1)[0] - 31.9) < 0.05, 15)  # 22 kW connector: 31.9 A
        await charger.start_transaction(1, CARDS[1])
        await eventually(
            lambda: [round(station.draw_amps(1)[0], 1), round(charger.draw_amps(1)[0], 1)] == [16.0, 16.0], 15
        )
        tx_profile = station.state.profiles[profiles.tx_profile_id(1)]
        assert tx_profile["evse_id"] == 1
        assert tx_profile["profile"]["transaction_id"] == transaction.transaction_id
        assert tx_profile["profile"]["charging_profile_purpose"] == "TxProfile"
        await station.stop_transaction(1)
        await eventually(lambda: abs(charger.draw_amps(1)[0] - 31.9) < 0.05, 15)
