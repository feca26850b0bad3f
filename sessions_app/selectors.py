"""Reads of charge sessions."""
from __future__ import annotations

from django.db.models import QuerySet

from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample


def charge_session_get(*, session_id: int) -> ChargeSession | None:
    return ChargeSession.objects.select_related("charge_point", "connector").filter(pk=session_id).first()


def charge_session_get_by_transaction(*, identity: str, transaction_id: str | int) -> ChargeSession | None:
    return (ChargeSession.objects.select_related("charge_point", "connector")
            .filter(charge_point__identity=identity, transaction_id=str(transaction_id)).first())


def charge_session_list_for_connector(*, identity: str, connector_id: int) -> QuerySet[ChargeSession]:
    return ChargeSession.objects.filter(charge_point__identity=identity, connector__connector_id=connector_id)


def charge_session_get_active(*, identity: str, connector_id: int) -> ChargeSession | None:
    return charge_session_list_for_connector(identity=identity, connector_id=connector_id).filter(
        status=ChargeSession.Status.ACTIVE).first()


def charge_session_state_timeline(*, session_id: int) -> QuerySet[ChargingStateChange]:
    return ChargingStateChange.objects.filter(session_id=session_id).order_by("at", "id")


def meter_sample_list(*, session_id: int, measurand: str | None = None) -> QuerySet[MeterSample]:
    qs = MeterSample.objects.filter(session_id=session_id)
    if measurand is not None:
        qs = qs.filter(measurand=measurand)
    return qs.order_by("sampled_at", "id")
