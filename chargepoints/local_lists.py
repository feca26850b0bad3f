"""Local authorisation lists, kept in step with the id-token table, per charger.

A charger's list holds its operator's id tokens, each with the IdTagInfo the central
system would answer online (status, expiry, parent tag), so it can authorise them while
offline. What the charger holds is recorded in chargepoints.LocalAuthList (version and
entries); the next update is planned against it: Full (the whole list) or Differential
(only the tokens added, changed or removed since). ocpp_consumer.local_lists sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from accounts.errors import InvalidRequest
from chargepoints.models import ChargePoint, IdToken, LocalAuthList, OcppVersion
from chargepoints.selectors import id_tag_info

FULL, DIFFERENTIAL = "Full", "Differential"
UPDATE_TYPES = (FULL, DIFFERENTIAL)
# The longest idTag an OCPP 1.6 charger takes (CiString20); 2.0.1 takes 36.
MAX_ID_TAG = {OcppVersion.V16: 20, OcppVersion.V201: 36}


@dataclass(frozen=True)
class Plan:
    """One SendLocalList to send: its update type, version, the list entries (1.6 shape)
    and the whole list the charger holds once it accepts."""

    update_type: str
    version: int
    entries: list[dict]
    wanted: dict[str, dict]
    skipped: list[str] = field(default_factory=list)

    @property
    def payload(self) -> dict:
        payload: dict = {"listVersion": self.version, "updateType": self.update_type}
        if self.entries:
            payload["localAuthorizationList"] = self.entries
        return payload

    @property
    def empty(self) -> bool:
        """A differential update with nothing in it: the charger is in step already."""
        return self.update_type == DIFFERENTIAL and not self.entries


def local_list_of(charge_point: ChargePoint) -> LocalAuthList:
    """The recorded list (an unsaved, empty one when nothing was ever sent)."""
    return LocalAuthList.objects.filter(charge_point=charge_point).first() or LocalAuthList(charge_point=charge_point)


def wanted_entries(*, charge_point: ChargePoint) -> tuple[dict[str, dict], list[str]]:
    """idTag -> IdTagInfo for every id token of the charger's operator, and the tags too
    long for its protocol (left out). A charger without an operator gets an empty list."""
    operator_id = charge_point.site.operator_id if charge_point.site_id else None
    if operator_id is None:
        return {}, []
    limit = MAX_ID_TAG.get(charge_point.protocol, MAX_ID_TAG[OcppVersion.V16])
    wanted, skipped = {}, []
    now = timezone.now()
    for uid in IdToken.objects.filter(operator_id=operator_id).order_by("uid").values_list("uid", flat=True):
        if len(uid) > limit:
            skipped.append(uid)
            continue
        wanted[uid] = id_tag_info(id_tag=uid, now=now)
    return wanted, skipped


def _differences(held: dict[str, dict], wanted: dict[str, dict]) -> list[dict]:
    """Entries that turn `held` into `wanted`: new or changed tags with their info, removed
    tags without (which deletes them)."""
    changed = [{"idTag": uid, "idTagInfo": info} for uid, info in sorted(wanted.items()) if held.get(uid) != info]
    removed = [{"idTag": uid} for uid in sorted(held) if uid not in wanted]
    return changed + removed


def local_list_plan(*, charge_point: ChargePoint, update_type: str | None, charger_version: int | None) -> Plan:
    """The next update. `update_type` None chooses: Differential when the charger still has
    the version we recorded, Full otherwise (it lost or changed its list). The version goes
    above both ours and the charger's (2.0.1 refuses a differential one that does not)."""
    if update_type not in (None, *UPDATE_TYPES):
        raise InvalidRequest(f"update_type is Full or Differential, not {update_type!r}.", code="invalid_update_type")
    record = local_list_of(charge_point)
    in_step = record.pk is not None and record.version > 0 and charger_version == record.version
    if update_type is None:
        update_type = DIFFERENTIAL if in_step else FULL
    elif update_type == DIFFERENTIAL and not in_step:
        raise InvalidRequest(
            f"The charger has list version {charger_version}, we recorded {record.version}: send a Full update.",
            code="local_list_out_of_step",
        )
    wanted, skipped = wanted_entries(charge_point=charge_point)
    if update_type == FULL:
        entries = [{"idTag": uid, "idTagInfo": info} for uid, info in wanted.items()]
    else:
        entries = _differences(record.entries or {}, wanted)
    version = max(record.version, charger_version or 0) + 1
    return Plan(update_type=update_type, version=version, entries=entries, wanted=wanted, skipped=skipped)


@transaction.atomic
def local_list_version_seen(*, charge_point: ChargePoint, version: int) -> LocalAuthList:
    record, _ = LocalAuthList.objects.select_for_update().get_or_create(charge_point=charge_point)
    record.charger_version, record.checked_at = version, timezone.now()
    record.save(update_fields=["charger_version", "checked_at"])
    return record


@transaction.atomic
def local_list_sent(*, charge_point: ChargePoint, plan: Plan, status: str) -> LocalAuthList:
    """Record the charger's answer to a SendLocalList: Accepted makes the plan's list and
    version what the charger holds; any other answer is only noted."""
    record, _ = LocalAuthList.objects.select_for_update().get_or_create(charge_point=charge_point)
    now = timezone.now()
    record.status, record.attempted_at = status[:20], now
    if status == "Accepted":
        record.version, record.entries, record.update_type = plan.version, plan.wanted, plan.update_type
        record.synced_at = record.checked_at = now
        record.charger_version = plan.version
    record.save()
    return record
