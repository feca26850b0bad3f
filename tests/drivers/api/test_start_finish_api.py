from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from billing.models import Purchase
from chargepoints.models import ConnectorStatus, IdToken
from ocpp_consumer import commands
from sessions_app.models import ChargeSession, SessionAnomaly
from tests.factories import ChargePointFactory, ChargeSessionFactory, ConnectorFactory, EvseFactory

pytestmark = pytest.mark.django_db


def start(api, cp):
    return api.post(f"/api/v1/devices/{cp.pk}/start")


def finish(api, cp):
    return api.post(f"/api/v1/devices/{cp.pk}/finish")


@pytest.fixture
def funded(driver, wallet_with):
    wallet_with(driver, "20.00")
    return driver


# --- start -----------------------------------------------------------------------------


def test_start_sends_remote_start_with_the_drivers_app_token(api, funded, charge_point, bus):
    response = start(api, charge_point)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "Accepted", "connectorId": 1}
    token = IdToken.objects.get(user=funded)
    assert token.token_type == "Central" and len(token.uid) <= 20
    assert bus.calls == [(charge_point.identity, "RemoteStartTransaction", {"connectorId": 1, "idTag": token.uid})]
    start(api, charge_point)
    assert IdToken.objects.filter(user=funded).count() == 1  # the same app token every time


def test_start_on_an_ocpp_201_charger_sends_request_start_transaction(api, funded, bus):
    from sessions_app.models import RemoteStartRequest

    cp = ChargePointFactory(protocol="ocpp2.0.1", is_online=True)
    evse = EvseFactory(charge_point=cp, evse_id=2)
    ConnectorFactory(charge_point=cp, evse=evse, connector_id=2, status=ConnectorStatus.AVAILABLE)
    assert start(api, cp).status_code == 200
    _, action, payload = bus.calls[0]
    assert action == "RequestStartTransaction"
    assert payload["evseId"] == 2
    assert payload["idToken"] == {"idToken": IdToken.objects.get(user=funded).uid, "type": "Central"}
    request = RemoteStartRequest.objects.get(pk=payload["remoteStartId"])
    assert request.user == funded and request.status == RemoteStartRequest.Status.ACCEPTED


def test_a_plugged_in_connector_is_preferred(api, funded, charge_point, bus):
    ConnectorFactory(charge_point=charge_point, connector_id=2, status=ConnectorStatus.PREPARING)
    assert start(api, charge_point).json()["connectorId"] == 2


@pytest.mark.parametrize(
    "answer, status, code",
    [
        ({"status": "Rejected"}, 409, "start_rejected"),
        (commands.ChargerOffline("gone"), 409, "charger_offline"),
        (commands.CommandTimeout("slow"), 504, "charger_timeout"),
        (commands.CallErrorReceived("InternalError", "boom"), 502, "charger_error"),
    ],
)
def test_start_reports_what_the_charger_did(api, funded, charge_point, bus, answer, status, code):
    bus.answers["RemoteStartTransaction"] = answer
    response = start(api, charge_point)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]


@pytest.mark.parametrize(
    "change, code",
    [
        ({"is_online": False}, "charger_offline"),
        ({"is_operative": False}, "charger_unavailable"),
        ({"registration_status": "Pending"}, "charger_unavailable"),
    ],
)
def test_start_refuses_unavailable_chargers_without_a_command(api, funded, charge_point, bus, change, code):
    for field, value in change.items():
        setattr(charge_point, field, value)
    charge_point.save()
    response = start(api, charge_point)
    assert response.status_code == 409 and response.json()["code"] == code
    assert bus.calls == []


def test_start_refuses_a_charger_with_no_free_connector(api, funded, charge_point, bus):
    charge_point.connectors.update(status=ConnectorStatus.CHARGING)
    assert start(api, charge_point).json()["code"] == "charger_busy"
    assert bus.calls == []


def test_start_needs_a_way_to_pay(api, driver, charge_point, bus, wallet_with, settings):
    settings.DRIVERS_MIN_WALLET_BALANCE = "5.00"
    wallet_with(driver, "4.99")
    response = start(api, charge_point)
    assert response.status_code == 402 and response.json()["code"] == "payment_required"
    assert bus.calls == []


def test_an_authorised_card_reservation_counts_as_a_way_to_pay(api, driver, charge_point, bus):
    from payments.models import Reservation

    Reservation.objects.create(
        charge_point=charge_point,
        connector=charge_point.connectors.get(),
        charge_tag="X",
        user=driver,
        max_amount=Decimal("30"),
        max_energy_wh=50000,
        status=Reservation.Status.AUTHORIZED,
    )
    assert start(api, charge_point).status_code == 200


def test_a_driver_charges_one_session_at_a_time(api, funded, charge_point, bus):
    other = ConnectorFactory(connector_id=1)
    ChargeSessionFactory(user=funded, connector=other)
    response = start(api, charge_point)
    assert response.status_code == 409 and response.json()["code"] == "session_active"


def test_a_start_already_in_progress_is_refused(api, funded, charge_point, bus):
    cache.set(f"drivers:start:{funded.pk}", 1, 30)
    assert start(api, charge_point).json()["code"] == "start_in_progress"


@pytest.mark.parametrize("device_id", ["999999", "abc", "1.5", "-1", "²", "99999999999999999999999"])
def test_unknown_devices_answer_404(api, bus, device_id):
    for verb in ("start", "finish"):
        response = api.post(f"/api/v1/devices/{device_id}/{verb}")
        assert response.status_code == 404 and response.json()["message"]


def test_a_private_charger_is_unknown_to_drivers(api, funded, charge_point, bus):
    charge_point.public_charging = False
    charge_point.save()
    assert start(api, charge_point).status_code == 404


# --- finish ------------------------------------------------------------------------------


@pytest.fixture
def session(funded, charge_point):
    return ChargeSessionFactory(
        user=funded,
        connector=charge_point.connectors.get(),
        transaction_id="42",
        meter_start_wh=1000,
        meter_last_wh=8500,
    )


def test_finish_stops_the_session_and_answers_its_purchase(api, session, charge_point, bus):
    from sessions_app.services import charge_session_stop

    def charger_stops(identity, action, payload):
        if action == "RemoteStopTransaction":
            charge_session_stop(
                charge_point_id=charge_point.pk,
                transaction_id=payload["transactionId"],
                meter_stop_wh=9000,
                timestamp=timezone.now(),
                reason="Remote",
            )

    bus.on_call = charger_stops
    response = finish(api, charge_point)
    assert response.status_code == 200, response.content
    assert bus.calls == [(charge_point.identity, "RemoteStopTransaction", {"transactionId": 42})]
    session.refresh_from_db()
    assert session.status == "completed" and session.closed_by == "charger" and session.meter_stop_wh == 9000
    assert response.json() == {"id": str(Purchase.objects.get(session=session).pk)}


def test_finish_stops_the_session_the_app_started_not_a_newer_card_session(api, funded, charge_point, bus):
    # Issue 18: an RFID session of the same driver, started 27 s after the app's on the
    # other connector, was the one stopped; the app's kept charging.
    from drivers.charging import driver_app_id_token

    other = ConnectorFactory(charge_point=charge_point, connector_id=2)
    app = ChargeSessionFactory(
        user=funded,
        connector=charge_point.connectors.get(connector_id=1),
        id_tag=driver_app_id_token(user=funded).uid,
        transaction_id="41",
        started_at=timezone.now() - timedelta(seconds=60),
    )
    ChargeSessionFactory(
        user=funded,
        connector=other,
        id_tag="DRIVERS-CARD",
        transaction_id="43",
        started_at=timezone.now() - timedelta(seconds=33),
    )
    bus.answers["RemoteStopTransaction"] = commands.ChargerOffline("gone")
    assert finish(api, charge_point).status_code == 200
    assert bus.calls == [(charge_point.identity, "RemoteStopTransaction", {"transactionId": 41})]
    app.refresh_from_db()
    assert app.status == "completed"
    assert ChargeSession.objects.get(transaction_id="43").status == "active"


def test_finish_closes_the_session_itself_when_the_charger_is_offline(api, session, charge_point, bus):
    bus.answers["RemoteStopTransaction"] = commands.ChargerOffline("gone")
    response = finish(api, charge_point)
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == "completed" and session.closed_by == "server"
    assert session.meter_stop_wh == 8500  # the last meter value
    assert SessionAnomaly.objects.filter(session=session, kind="closed_by_server").exists()
    assert response.json()["id"] == str(Purchase.objects.get(session=session).pk)


def test_finish_closes_the_session_when_the_charger_accepts_but_never_stops(api, session, charge_point, bus, settings):
    settings.DRIVERS_FINISH_WAIT_SECONDS = 0.3
    settings.DRIVERS_FINISH_POLL_SECONDS = 0.05
    assert finish(api, charge_point).status_code == 200
    session.refresh_from_db()
    assert session.closed_by == "server"


def test_finish_on_an_ocpp_201_session_sends_request_stop_transaction(api, funded, bus, settings):
    settings.DRIVERS_FINISH_WAIT_SECONDS = 0
    cp = ChargePointFactory(protocol="ocpp2.0.1", is_online=True)
    ChargeSessionFactory(
        user=funded, connector=ConnectorFactory(charge_point=cp), transaction_id="tx-abc", ocpp_version="ocpp2.0.1"
    )
    assert finish(api, cp).status_code == 200
    assert bus.calls == [(cp.identity, "RequestStopTransaction", {"transactionId": "tx-abc"})]


def test_finish_after_the_charger_stopped_on_its_own_answers_that_purchase(api, funded, charge_point, bus):
    done = ChargeSessionFactory(
        user=funded,
        connector=charge_point.connectors.get(),
        status="completed",
        stopped_at=timezone.now() - timedelta(minutes=2),
        meter_stop_wh=5000,
    )
    response = finish(api, charge_point)
    assert response.status_code == 200
    assert response.json()["id"] == str(Purchase.objects.get(session=done).pk)
    assert bus.calls == []


def test_a_driver_cannot_finish_another_drivers_session(other_api, session, charge_point, bus):
    response = finish(other_api, charge_point)
    assert response.status_code == 404
    session.refresh_from_db()
    assert session.status == "active" and bus.calls == []


def test_finish_without_any_session_answers_404(api, charge_point, bus):
    assert finish(api, charge_point).status_code == 404


def test_a_refused_stop_is_waited_for_then_closed_by_the_server(api, session, charge_point, bus, settings):
    settings.DRIVERS_FINISH_WAIT_SECONDS = 0.2
    settings.DRIVERS_FINISH_POLL_SECONDS = 0.05
    bus.answers["RemoteStopTransaction"] = {"status": "Rejected"}
    assert finish(api, charge_point).status_code == 200
    session.refresh_from_db()
    assert session.closed_by == "server"


def test_a_session_without_a_usable_transaction_id_is_closed_without_a_command(api, funded, charge_point, bus):
    session = ChargeSessionFactory(user=funded, connector=charge_point.connectors.get(), transaction_id="not-a-number")
    assert finish(api, charge_point).status_code == 200
    session.refresh_from_db()
    assert session.closed_by == "server" and bus.calls == []


def test_finish_answers_the_same_purchase_when_called_twice(api, session, charge_point, bus):
    bus.answers["RemoteStopTransaction"] = commands.ChargerOffline("gone")
    first = finish(api, charge_point).json()
    assert finish(api, charge_point).json() == first


def test_a_connector_in_another_drivers_session_is_never_started_on(api, funded, other_driver, charge_point, bus):
    # Even when the connector's status lags behind (still "Available").
    ChargeSessionFactory(user=other_driver, connector=charge_point.connectors.get())
    response = start(api, charge_point)
    assert response.status_code == 409 and response.json()["code"] == "charger_busy"
    assert bus.calls == []


@pytest.mark.parametrize("status", [ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE])
def test_start_on_a_charger_out_of_order_says_so(api, funded, charge_point, bus, status):
    charge_point.connectors.update(status=status)
    response = start(api, charge_point)
    assert response.status_code == 409
    assert response.json() == {"code": "charger_out_of_order", "message": "This charger is out of order."}
    assert bus.calls == []
