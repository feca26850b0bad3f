from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chargepoints import selectors, services
from chargepoints.models import ChargePoint, Connector, IdToken, OcppMessage
from sessions_app.models import ChargeSession

pytestmark = pytest.mark.django_db


def test_charge_point_add_hashes_the_password_and_creates_available_connectors():
    cp = services.charge_point_add(identity="CP-A", password="s3cret-pass", connector_count=2)
    assert cp.password_hash and "s3cret-pass" not in cp.password_hash
    assert selectors.charge_point_password_matches(charge_point=cp, password="s3cret-pass")
    assert not selectors.charge_point_password_matches(charge_point=cp, password="wrong")
    assert [c.status for c in selectors.connector_list(identity="CP-A")] == ["Available", "Available"]


def test_seed_reads_and_writes_of_charge_points_and_connectors():
    cp = services.charge_point_add(identity="CP-B", serial_number="SER-1")
    connector = services.connector_add(charge_point=cp, connector_id=1)
    assert selectors.charge_point_get(identity="CP-B") == cp
    assert selectors.charge_point_get(identity="nope") is None
    assert list(selectors.charge_point_list()) == [cp]
    assert selectors.connector_get(identity="CP-B", connector_id=1) == connector
    assert selectors.connector_get_by_serial_number(serial_number="SER-1") == connector
    assert list(selectors.connector_list_available()) == [connector]
    services.connector_update_status(charge_point_id=cp.pk, connector_id=1, status="Charging")
    assert list(selectors.connector_list_available()) == []
    services.charge_point_update(charge_point=cp, data={"name": "Lobby", "password": "new-pass-123"})
    cp.refresh_from_db()
    assert cp.name == "Lobby" and selectors.charge_point_password_matches(charge_point=cp, password="new-pass-123")
    with pytest.raises(ValueError):
        services.charge_point_update(charge_point=cp, data={"identity": "X"})
    services.connector_remove(charge_point=cp, connector_id=1)
    assert not Connector.objects.filter(charge_point=cp).exists()
    services.charge_point_remove(identity="CP-B")
    assert not ChargePoint.objects.filter(identity="CP-B").exists()


def test_connector_zero_is_the_charge_point_itself():
    cp = services.charge_point_add(identity="CP-C")
    assert (
        services.connector_update_status(
            charge_point_id=cp.pk, connector_id=0, status="Faulted", error_code="PowerMeterFailure"
        )
        is None
    )
    cp.refresh_from_db()
    assert (cp.status, cp.error_code) == ("Faulted", "PowerMeterFailure")


def test_unknown_chargers_are_refused_or_registered_pending(settings):
    settings.OCPP_UNKNOWN_CHARGERS = "refuse"
    assert services.charge_point_connect(identity="NEW", password="pw-123456", protocol="ocpp1.6") is None
    settings.OCPP_UNKNOWN_CHARGERS = "pending"
    cp = services.charge_point_connect(identity="NEW", password="pw-123456", protocol="ocpp1.6")
    assert cp.registration_status == "Pending"
    assert services.charge_point_connect(identity="NEW", password="pw-123456", protocol="ocpp1.6") == cp
    assert services.charge_point_connect(identity="NEW", password="other", protocol="ocpp1.6") is None


def test_a_fleet_connects_with_one_query_and_each_charger_gets_its_own_answer(settings, django_assert_max_num_queries):
    settings.OCPP_UNKNOWN_CHARGERS = "refuse"
    fleet = [services.charge_point_add(identity=f"FLEET-{n}", password=f"password-{n}") for n in range(20)]
    requests = [
        {"identity": cp.identity, "password": f"password-{n}", "protocol": "ocpp1.6"} for n, cp in enumerate(fleet)
    ]
    requests[3]["password"] = "wrong"
    requests.insert(7, {"identity": "STRANGER", "password": "whatever", "protocol": "ocpp1.6"})
    with django_assert_max_num_queries(1):
        answers = services.charge_point_connect_many(requests=requests)
    assert [a.identity if a else None for a in answers] == [
        None if r["identity"] == "STRANGER" or r["password"] == "wrong" else r["identity"] for r in requests
    ]
    # Pending registration of an unknown charger still works inside a batch.
    settings.OCPP_UNKNOWN_CHARGERS = "pending"
    answers = services.charge_point_connect_many(requests=requests[6:9])
    assert answers[1].identity == "STRANGER" and answers[1].registration_status == "Pending"
    assert answers[0] is not None and answers[2] is not None


def test_an_unknown_charger_twice_in_one_batch_is_registered_once_and_checked_by_password(settings):
    settings.OCPP_UNKNOWN_CHARGERS = "pending"
    request = {"identity": "DUP-1", "password": "pw-123456", "protocol": "ocpp1.6"}
    first, again, impostor = services.charge_point_connect_many(
        requests=[request, dict(request), {**request, "password": "not-it"}]
    )
    assert first is not None and again == first and impostor is None
    assert ChargePoint.objects.filter(identity="DUP-1").count() == 1


def test_a_charger_twice_in_a_mark_online_batch_keeps_its_latest_protocol():
    a, b = services.charge_point_add(identity="TWICE-A"), services.charge_point_add(identity="TWICE-B")
    services.charge_point_mark_online_many(charge_points=[(a.pk, "ocpp1.6"), (b.pk, "ocpp2.0.1"), (b.pk, "ocpp1.6")])
    assert ChargePoint.objects.get(pk=b.pk).protocol == "ocpp1.6"


def test_online_and_offline_for_many_chargers_with_their_protocols(django_capture_on_commit_callbacks):
    a, b, c = (services.charge_point_add(identity=f"MANY-{n}") for n in range(3))
    with django_capture_on_commit_callbacks(execute=False) as published:
        services.charge_point_mark_online_many(
            charge_points=[(a.pk, "ocpp1.6"), (b.pk, "ocpp2.0.1"), (c.pk, "ocpp1.6")]
        )
    assert len(published) == 3  # one live state per charger
    rows = {cp.identity: (cp.is_online, cp.protocol) for cp in ChargePoint.objects.filter(identity__startswith="MANY-")}
    assert rows == {"MANY-0": (True, "ocpp1.6"), "MANY-1": (True, "ocpp2.0.1"), "MANY-2": (True, "ocpp1.6")}
    assert all(cp.last_seen_at for cp in ChargePoint.objects.filter(identity__startswith="MANY-"))
    services.charge_point_mark_offline_many(charge_point_ids=[a.pk, c.pk, 10**9])  # a removed charger is skipped
    assert {cp.identity for cp in ChargePoint.objects.filter(is_online=True, identity__startswith="MANY-")} == {
        "MANY-1"
    }


def test_id_tag_info_reflects_card_and_driver_standing(django_user_model):
    assert selectors.id_tag_info(id_tag="nope") == {"status": "Invalid"}
    IdToken.objects.create(uid="OK", group_uid="FLEET")
    assert selectors.id_tag_info(id_tag="OK") == {"status": "Accepted", "parentIdTag": "FLEET"}
    IdToken.objects.create(uid="OLD", expires_at=timezone.now() - timedelta(days=1))
    assert selectors.id_tag_info(id_tag="OLD")["status"] == "Expired"
    IdToken.objects.create(uid="BLK", status="Blocked")
    assert selectors.id_tag_info(id_tag="BLK")["status"] == "Blocked"
    user = django_user_model.objects.create_user(username="gone", is_active=False)
    IdToken.objects.create(uid="GONE", user=user)
    assert selectors.id_tag_info(id_tag="GONE")["status"] == "Blocked"


def test_the_offline_sweep_marks_silent_chargers_offline(settings):
    cp = services.charge_point_add(identity="CP-S")
    ChargePoint.objects.filter(pk=cp.pk).update(
        is_online=True, heartbeat_interval=60, last_seen_at=timezone.now() - timedelta(minutes=10)
    )
    fresh = services.charge_point_add(identity="CP-F")
    ChargePoint.objects.filter(pk=fresh.pk).update(is_online=True, last_seen_at=timezone.now())
    assert services.charge_point_offline_sweep() == ["CP-S"]
    assert not ChargePoint.objects.get(pk=cp.pk).is_online and ChargePoint.objects.get(pk=fresh.pk).is_online


def test_the_journal_purge_keeps_recent_frames():
    cp = services.charge_point_add(identity="CP-J")
    old = timezone.now() - timedelta(days=100)
    services.ocpp_message_store_many(
        rows=[
            {
                "charge_point_id": cp.pk,
                "charge_point_identity": "CP-J",
                "direction": "in",
                "message_type": 2,
                "unique_id": str(i),
                "action": "Heartbeat",
                "payload": {},
                "created_at": old if i < 3 else timezone.now(),
            }
            for i in range(5)
        ]
    )
    from chargepoints.tasks import ocpp_journal_purge

    assert ocpp_journal_purge() == 3
    assert OcppMessage.objects.count() == 2


def test_the_journal_purge_stops_quietly_at_its_soft_time_limit(monkeypatch, caplog):
    """A backlog bigger than one run is left for the next runs, without a task failure."""
    from celery.exceptions import SoftTimeLimitExceeded

    from chargepoints import tasks

    def purge_past_the_soft_limit(*, older_than):
        raise SoftTimeLimitExceeded()  # what Celery raises inside a task at its soft limit

    monkeypatch.setattr(tasks.services, "ocpp_message_purge", purge_past_the_soft_limit)
    with caplog.at_level("INFO", logger="chargepoints.tasks"):
        assert tasks.ocpp_journal_purge() is None
    assert "the next run continues" in caplog.text


def test_connector_get_for_transaction():
    cp = services.charge_point_add(identity="CP-T", connector_count=1)
    connector = Connector.objects.get(charge_point=cp)
    ChargeSession.objects.create(charge_point=cp, connector=connector, transaction_id="77", started_at=timezone.now())
    assert selectors.connector_get_for_transaction(transaction_id=77) == connector


def test_a_batch_of_boots_stores_what_one_by_one_does(
    django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    from django.db import connection

    from chargepoints.signals import charge_point_booted, charge_points_booted

    def fleet(prefix):
        chargers = [services.charge_point_add(identity=f"{prefix}-{n}") for n in range(4)]
        ChargePoint.objects.filter(pk=chargers[1].pk).update(registration_status="Rejected")
        ChargePoint.objects.filter(pk=chargers[2].pk).update(registration_status="Pending", heartbeat_interval=90)
        return chargers

    def boots(chargers):
        return [
            {"charge_point_id": chargers[0].pk, "vendor": "V" * 60, "model": "M", "serial_number": "S1"},
            {"charge_point_id": chargers[1].pk, "vendor": "V", "model": "M", "iccid": "8" * 30},
            {"charge_point_id": chargers[2].pk, "vendor": "V", "model": "M", "firmware_version": "2.1"},
            {"charge_point_id": chargers[0].pk, "vendor": "V2", "model": "M2", "meter_type": "AC"},  # booted again
            {"charge_point_id": chargers[3].pk, "vendor": "V", "model": "M", "meter_serial_number": "MS"},
        ]

    fields = ("vendor", "model", "serial_number", "firmware_version", "iccid", "imsi", "meter_type")
    fields += ("meter_serial_number", "is_online", "registration_status", "heartbeat_interval")

    def stored(chargers):
        rows = [ChargePoint.objects.values_list(*fields).get(pk=cp.pk) for cp in chargers]
        events = [(n, e.kind, e.message) for n, cp in enumerate(chargers) for e in cp.events.order_by("id")]
        boot_times = [ChargePoint.objects.values_list("last_boot_at", "last_seen_at").get(pk=cp.pk) for cp in chargers]
        assert all(boot and boot == seen for boot, seen in boot_times)
        return rows, events

    booted, booted_many = [], []

    def one(sender, charge_point_id, **kw):
        booted.append(charge_point_id)

    def many(sender, charge_point_ids, **kw):
        booted_many.append(charge_point_ids)

    charge_point_booted.connect(one)
    charge_points_booted.connect(many)
    one_by_one, batched = fleet("BOOT-ONE"), fleet("BOOT-MANY")
    with django_capture_on_commit_callbacks(execute=True):
        expected = [services.charge_point_boot(**boot) for boot in boots(one_by_one)]
    # PostgreSQL: the chargers (FOR UPDATE), one UPDATE, the rejected charger's event, and
    # the savepoint statements (the service's own, the event's), whatever the batch size.
    with django_capture_on_commit_callbacks(execute=True):
        with django_assert_max_num_queries(7 if connection.vendor == "postgresql" else 10):
            got = services.charge_point_boot_many(boots=boots(batched))
    assert [(cp.registration_status, cp.heartbeat_interval) for cp in got] == [
        (cp.registration_status, cp.heartbeat_interval) for cp in expected
    ]
    assert [cp.pk for cp in got] == [batched[n].pk for n in (0, 1, 2, 0, 3)]
    assert stored(batched) == stored(one_by_one)
    # After commit: one signal for the accepted chargers of the batch.
    assert booted == [one_by_one[n].pk for n in (0, 0, 3)]
    assert booted_many == [[batched[0].pk, batched[3].pk]]
    with pytest.raises(ChargePoint.DoesNotExist):
        services.charge_point_boot_many(boots=[{"charge_point_id": 10**9, "vendor": "V", "model": "M"}])
