"""A charger registered by a web process that crashed is offline for commands; a charger's
password check is cached in-process for a reconnect storm, safely."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from chargepoints import services
from chargepoints.services import charge_point_add, charge_point_connect, charge_point_set_password
from ocpp_consumer import commands, registry
from tests.support.chargers import simulated


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_a_command_to_a_charger_whose_process_died_answers_offline_not_timeout(servers, make_charge_point):
    crashy = servers.get("crashy", OCPP_PROCESS_TTL="1.5")
    cp = await sync_to_async(make_charge_point)()
    async with simulated(crashy, cp.identity):
        answer = await commands.send_async(cp.identity, "GetConfiguration", {"key": ["NumberOfConnectors"]}, timeout=10)
        assert answer["configurationKey"][0]["value"] == "2"
        await sync_to_async(servers.kill)("crashy", OCPP_PROCESS_TTL="1.5")
        # No disconnect handler ran: the registration outlives the process, until the
        # process's liveness key expires.
        await asyncio.sleep(2.0)
        started = time.monotonic()
        with pytest.raises(commands.ChargerOffline):
            await commands.send_async(cp.identity, "ClearCache", {}, timeout=10)
        assert time.monotonic() - started < 2
    # The dead registration was removed on the way.
    assert await sync_to_async(registry.lookup)(cp.identity) is None


def test_a_live_process_keeps_its_registrations(settings):
    identity = "LIVENESS-1"
    registration = registry.Registration(channel_name="specific.test!x", protocol="ocpp1.6", process="p-live")
    registry.register(identity, registration)
    try:
        assert registry.lookup(identity) == registration
        registry.mark_dead("p-live")
        assert registry.lookup(identity) is None
        registry.register(identity, registration)  # registering marks the process alive
        assert registry.lookup(identity) == registration
    finally:
        registry.forget(identity)
        registry.mark_dead("p-live")


@pytest.fixture
def counted_hasher(monkeypatch):
    calls = []
    real = services.charge_point_password_matches

    def counting(**kwargs):
        calls.append(kwargs["password"])
        return real(**kwargs)

    monkeypatch.setattr(services, "charge_point_password_matches", counting)
    monkeypatch.setattr(services, "_password_cache", {})
    return calls


@pytest.mark.django_db
def test_a_successful_password_check_is_cached_and_a_wrong_password_still_fails(counted_hasher, settings):
    settings.OCPP_PASSWORD_CACHE_SECONDS = 60
    charge_point_add(identity="STORM-1", password="right")
    assert charge_point_connect(identity="STORM-1", password="right", protocol="ocpp1.6") is not None
    assert charge_point_connect(identity="STORM-1", password="right", protocol="ocpp1.6") is not None
    assert counted_hasher == ["right"]  # the second connect skipped the slow hasher
    assert charge_point_connect(identity="STORM-1", password="wrong", protocol="ocpp1.6") is None
    assert charge_point_connect(identity="STORM-1", password="", protocol="ocpp1.6") is None
    assert charge_point_connect(identity="STORM-1", password=None, protocol="ocpp1.6") is None
    assert "wrong" in counted_hasher
    assert not any(b"right" in digest for digest, _ in services._password_cache.values())


@pytest.mark.django_db
def test_a_changed_password_is_not_served_from_the_cache(counted_hasher, settings):
    settings.OCPP_PASSWORD_CACHE_SECONDS = 60
    charge_point = charge_point_add(identity="STORM-2", password="old")
    assert charge_point_connect(identity="STORM-2", password="old", protocol="ocpp1.6") is not None
    charge_point_set_password(charge_point=charge_point, password="new")
    assert charge_point_connect(identity="STORM-2", password="old", protocol="ocpp1.6") is None
    assert charge_point_connect(identity="STORM-2", password="new", protocol="ocpp1.6") is not None


@pytest.mark.django_db
def test_a_cached_check_expires(counted_hasher, settings, monkeypatch):
    settings.OCPP_PASSWORD_CACHE_SECONDS = 5
    charge_point_add(identity="STORM-3", password="pw")
    charge_point_connect(identity="STORM-3", password="pw", protocol="ocpp1.6")
    now = time.monotonic()
    monkeypatch.setattr(services, "_clock", lambda: now + 6)
    charge_point_connect(identity="STORM-3", password="pw", protocol="ocpp1.6")
    assert counted_hasher == ["pw", "pw"]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_frames_and_heartbeats_keep_last_seen_current_and_restore_a_lost_registration(servers, make_charge_point):
    from chargepoints.models import ChargePoint

    touchy = servers.get("touchy", OCPP_TOUCH_EVERY_SECONDS="0")
    cp = await sync_to_async(make_charge_point)()
    async with simulated(touchy, cp.identity) as charger:
        forget_seen = sync_to_async(ChargePoint.objects.filter(pk=cp.pk).update)
        # Any frame (here a StatusNotification) records the charger as seen and online, in
        # the same commit as the frame, so it is visible as soon as the answer arrives.
        await forget_seen(last_seen_at=None, is_online=False)
        await sync_to_async(registry.forget)(cp.identity)  # as if Redis had lost the entry
        await charger.send_status(1, "Available")
        seen = await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)
        assert seen.is_online and seen.last_seen_at is not None
        # The registry entry comes back in the background, and commands reach the charger.
        for _ in range(50):
            if await sync_to_async(registry.lookup)(cp.identity) is not None:
                break
            await asyncio.sleep(0.1)
        answer = await commands.send_async(cp.identity, "GetConfiguration", {"key": ["NumberOfConnectors"]}, timeout=10)
        assert answer["configurationKey"][0]["value"] == "2"
        # A Heartbeat always counts.
        await forget_seen(last_seen_at=None)
        await charger.heartbeat()
        assert (await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)).last_seen_at is not None
