"""Sending local authorisation lists (SendLocalList) and reading their version
(GetLocalListVersion), for either protocol.

The list is planned by chargepoints.local_lists against what the charger holds; the
request is built in OCPP 1.6 terms and the command bus translates it for a 2.0.1 station.
Each sync asks the charger's version first, so a charger that lost its list (or had it
changed by someone else) gets a Full update rather than a differential one it cannot apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargepoints import local_lists
from chargepoints.models import ChargePoint
from ocpp_consumer import commands


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync did: the charger's answer ("InSync" when nothing had to be sent), the
    update type and version sent, how many entries, and the tags left out (too long)."""

    status: str
    update_type: str
    version: int
    entries: int
    charger_version: int | None
    skipped: list[str]


def local_list_version_get(*, charge_point: ChargePoint, timeout: float | None = None) -> int:
    """The charger's list version (1.6 listVersion, 2.0.1 versionNumber), recorded."""
    answer = commands.send(charge_point.identity, "GetLocalListVersion", {}, timeout=timeout)
    version = answer.get("listVersion", answer.get("versionNumber"))
    local_lists.local_list_version_seen(charge_point=charge_point, version=int(version))
    return int(version)


def local_list_sync(
    *, charge_point: ChargePoint, update_type: str | None = None, timeout: float | None = None
) -> SyncOutcome:
    """Bring the charger's list in step with the id-token table. Raises the bus's errors;
    InvalidRequest for a Differential update the charger's version does not allow."""
    charger_version = local_list_version_get(charge_point=charge_point, timeout=timeout)
    plan = local_lists.local_list_plan(
        charge_point=charge_point, update_type=update_type, charger_version=charger_version
    )
    if plan.empty:
        return SyncOutcome("InSync", plan.update_type, charger_version, 0, charger_version, plan.skipped)
    answer = commands.send(charge_point.identity, "SendLocalList", plan.payload, timeout=timeout)
    status = answer.get("status", "")
    local_lists.local_list_sent(charge_point=charge_point, plan=plan, status=status)
    return SyncOutcome(status, plan.update_type, plan.version, len(plan.entries), charger_version, plan.skipped)
