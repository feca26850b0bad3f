"""Reads of charge points, connectors (the seed's "chargers"), id tokens and the journal."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from chargepoints import charger_secrets
from chargepoints.models import (
    ChargePoint,
    Connector,
    ConnectorStatus,
    IdToken,
    IdTokenStatus,
    OcppMessage,
    RegistrationStatus,
)


def charge_point_get(*, identity: str) -> ChargePoint | None:
    return ChargePoint.objects.filter(identity=identity).first()


def charge_point_list(
    *, operator_id: int | None = None, site_id: int | None = None, is_online: bool | None = None
) -> QuerySet[ChargePoint]:
    qs = ChargePoint.objects.select_related("site").all()
    if operator_id is not None:
        qs = qs.filter(site__operator_id=operator_id)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    if is_online is not None:
        qs = qs.filter(is_online=is_online)
    return qs


def charge_point_password_matches(*, charge_point: ChargePoint, password: str | None) -> bool:
    """Constant-time check of a charger's Basic-auth password against its stored hash."""
    return charger_secrets.matches(password, charge_point.password_hash)


def connector_list(*, identity: str | None = None) -> QuerySet[Connector]:
    qs = Connector.objects.select_related("charge_point")
    if identity is not None:
        qs = qs.filter(charge_point__identity=identity)
    return qs


def connector_get(*, identity: str, connector_id: int) -> Connector | None:
    return connector_list(identity=identity).filter(connector_id=connector_id).first()


def connector_get_by_serial_number(*, serial_number: str, connector_id: int = 1) -> Connector | None:
    """The connector of the charger with this serial number (its first one by default)."""
    return connector_list().filter(charge_point__serial_number=serial_number, connector_id=connector_id).first()


def connector_list_available(*, operator_id: int | None = None, online_only: bool = False) -> QuerySet[Connector]:
    qs = connector_list().filter(status=ConnectorStatus.AVAILABLE, charge_point__is_operative=True)
    if operator_id is not None:
        qs = qs.filter(charge_point__site__operator_id=operator_id)
    if online_only:
        qs = qs.filter(charge_point__is_online=True, charge_point__registration_status=RegistrationStatus.ACCEPTED)
    return qs


def connector_get_for_transaction(*, transaction_id: str | int, identity: str | None = None) -> Connector | None:
    qs = connector_list().filter(sessions__transaction_id=str(transaction_id))
    if identity is not None:
        qs = qs.filter(charge_point__identity=identity)
    return qs.first()


def id_tag_info(*, id_tag: str, now: datetime | None = None) -> dict:
    """OCPP 1.6 IdTagInfo (camelCase, as on the wire: status, expiryDate, parentIdTag) for an idTag: the card's status and expiry, and the
    standing of the driver it belongs to (a deactivated account is Blocked)."""
    token = IdToken.objects.select_related("user").filter(uid=id_tag).first()
    return _id_tag_info_of(token, now or timezone.now())


def id_tag_info_with_token(*, id_tag: str, now: datetime | None = None) -> tuple[dict, IdToken | None]:
    """id_tag_info and the IdToken it read (None when unknown), in one query."""
    token = IdToken.objects.select_related("user").filter(uid=id_tag).first()
    return _id_tag_info_of(token, now or timezone.now()), token


def _id_tag_info_of(token: IdToken | None, now: datetime) -> dict:
    if token is None:
        return {"status": "Invalid"}
    info: dict = {}
    if token.expires_at:
        info["expiryDate"] = token.expires_at.isoformat()
    if token.group_uid:
        info["parentIdTag"] = token.group_uid
    if token.status != IdTokenStatus.ACCEPTED:
        info["status"] = token.status
    elif token.expires_at is not None and token.expires_at <= now:
        info["status"] = "Expired"
    elif token.user is not None and not token.user.is_active:
        info["status"] = "Blocked"
    else:
        info["status"] = "Accepted"
    return info


def _tokens_by_uid(uids: list[str]) -> dict[str, IdToken]:
    if not uids:
        return {}
    return {token.uid: token for token in IdToken.objects.select_related("user").filter(uid__in=set(uids))}


def id_tag_info_many(*, id_tags: list[str], now: datetime | None = None) -> list[dict]:
    """id_tag_info for many idTags (1.6 Authorize of many chargers) in one query: one
    IdTagInfo per idTag, in order, each a dict of its own (callers may change theirs)."""
    now = now or timezone.now()
    tokens = _tokens_by_uid(id_tags)
    return [_id_tag_info_of(tokens.get(id_tag), now) for id_tag in id_tags]


def id_tag_info_with_token_many(
    *, id_tags: list[str], now: datetime | None = None
) -> list[tuple[dict, IdToken | None]]:
    """id_tag_info_with_token for many idTags (the StartTransactions of many chargers) in
    one query, in order."""
    now = now or timezone.now()
    tokens = _tokens_by_uid(id_tags)
    return [(_id_tag_info_of(tokens.get(id_tag), now), tokens.get(id_tag)) for id_tag in id_tags]


def id_token_info_v201_many(*, id_tokens: list[str], now: datetime | None = None) -> list[dict]:
    """OCPP 2.0.1 IdTokenInfo (camelCase) of many card tokens in one query, in order: what
    sessions_app.transaction_events.id_token_info_v201 answers for a token that is neither
    NoAuthorization nor a Central token of a remote start (those are the caller's)."""
    now = now or timezone.now()
    tokens = _tokens_by_uid(id_tokens)
    infos = []
    for id_token in id_tokens:
        token = tokens.get(id_token)
        if token is None:
            infos.append({"status": "Unknown"})
            continue
        info16 = _id_tag_info_of(token, now)
        info: dict = {"status": info16["status"]}
        if "expiryDate" in info16:
            info["cacheExpiryDateTime"] = info16["expiryDate"]
        if "parentIdTag" in info16:
            info["groupIdToken"] = {"idToken": info16["parentIdTag"], "type": "Central"}
        infos.append(info)
    return infos


def ocpp_message_list(*, identity: str, limit: int = 100) -> QuerySet[OcppMessage]:
    return OcppMessage.objects.filter(charge_point__identity=identity).order_by("-created_at", "-id")[:limit]
