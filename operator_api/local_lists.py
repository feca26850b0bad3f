"""Local authorisation lists: what a charger holds (and how it differs from the id-token
table), its version on the charger, and the sync of one charger or of all of them."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.errors import DomainError
from chargepoints import local_lists as records
from config.validation import DatabaseIdField
from ocpp_consumer import local_lists as sender

from . import charger_bus
from .access import charge_point_or_404, charge_points_of
from .base import OperatorApi, validated
from .commands import render

LOCAL_LISTS = "Operator: local authorisation lists"
UPDATE_TYPE = serializers.ChoiceField(
    records.UPDATE_TYPES,
    required=False,
    allow_null=True,
    help_text="Leave out to choose: Differential when the charger still has our last version, else Full",
)


class EntryOutput(serializers.Serializer):
    id_tag = serializers.CharField()
    status = serializers.CharField()
    expiry_date = serializers.CharField(allow_null=True)
    parent_id_tag = serializers.CharField(allow_null=True)


class LocalListOutput(serializers.Serializer):
    charge_point = serializers.CharField()
    version = serializers.IntegerField(help_text="The version the charger accepted last (0: never sent)")
    update_type = serializers.CharField(help_text="Full or Differential, of the last accepted update")
    status = serializers.CharField(help_text="The charger's answer to the last SendLocalList")
    synced_at = serializers.DateTimeField(allow_null=True)
    charger_version = serializers.IntegerField(allow_null=True, help_text="From the last GetLocalListVersion")
    checked_at = serializers.DateTimeField(allow_null=True)
    entries = EntryOutput(many=True, help_text="What the charger holds, as we sent it")
    pending = inline_serializer(
        "LocalListPending",
        {
            "added": serializers.ListField(child=serializers.CharField()),
            "changed": serializers.ListField(child=serializers.CharField()),
            "removed": serializers.ListField(child=serializers.CharField()),
            "skipped": serializers.ListField(child=serializers.CharField(), help_text="Too long for the protocol"),
        },
        help_text="How the id-token table differs from what the charger holds",
    )


class SyncOutput(serializers.Serializer):
    charge_point = serializers.CharField()
    status = serializers.CharField(help_text='The charger\'s answer, "InSync" when nothing had to be sent')
    update_type = serializers.CharField()
    version = serializers.IntegerField()
    entries = serializers.IntegerField(help_text="Entries sent")
    charger_version = serializers.IntegerField(allow_null=True)
    skipped = serializers.ListField(child=serializers.CharField())


def _entry(uid: str, info: dict) -> dict:
    return {
        "id_tag": uid,
        "status": info.get("status", ""),
        "expiry_date": info.get("expiryDate"),
        "parent_id_tag": info.get("parentIdTag"),
    }


def _local_list(charge_point) -> dict:
    record = records.local_list_of(charge_point)
    held = record.entries or {}
    wanted, skipped = records.wanted_entries(charge_point=charge_point)
    return {
        "charge_point": charge_point.identity,
        "version": record.version,
        "update_type": record.update_type,
        "status": record.status,
        "synced_at": record.synced_at,
        "charger_version": record.charger_version,
        "checked_at": record.checked_at,
        "entries": [_entry(uid, info) for uid, info in sorted(held.items())],
        "pending": {
            "added": sorted(set(wanted) - set(held)),
            "changed": sorted(uid for uid in wanted if uid in held and held[uid] != wanted[uid]),
            "removed": sorted(set(held) - set(wanted)),
            "skipped": skipped,
        },
    }


def _sync(charge_point, update_type: str | None) -> charger_bus.Reply:
    """One charger's sync as a Reply (the bus's errors mapped once)."""

    def run() -> dict:
        return {
            "charge_point": charge_point.identity,
            **asdict(sender.local_list_sync(charge_point=charge_point, update_type=update_type)),
        }

    return charger_bus.reply_of(run, identity=charge_point.identity, action="SendLocalList")


class LocalListDetailApi(OperatorApi):
    @extend_schema(tags=[LOCAL_LISTS], responses=LocalListOutput)
    def get(self, request, identity: str):
        return Response(LocalListOutput(_local_list(charge_point_or_404(request.user, identity))).data)


class LocalListVersionApi(OperatorApi):
    @extend_schema(
        tags=[LOCAL_LISTS],
        summary="Ask the charger its list version (GetLocalListVersion)",
        request=None,
        responses=inline_serializer(
            "LocalListVersion",
            {
                "charge_point": serializers.CharField(),
                "charger_version": serializers.IntegerField(),
                "version": serializers.IntegerField(help_text="The version we recorded"),
                "in_step": serializers.BooleanField(),
            },
        ),
    )
    def post(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        reply = charger_bus.reply_of(
            lambda: {"version": sender.local_list_version_get(charge_point=charge_point)},
            identity=identity,
            action="GetLocalListVersion",
        )
        if not reply.ok:
            return render(reply)
        recorded = records.local_list_of(charge_point).version
        charger_version = reply.payload["version"]
        return Response(
            {
                "charge_point": identity,
                "charger_version": charger_version,
                "version": recorded,
                "in_step": charger_version == recorded,
            }
        )


class LocalListSyncApi(OperatorApi):
    class InputSerializer(serializers.Serializer):
        update_type = UPDATE_TYPE

    @extend_schema(
        tags=[LOCAL_LISTS],
        summary="Send the charger its local list (SendLocalList)",
        description="Reads the charger's version, then sends a Full or Differential update built from the "
        "id-token table of the charger's operator. 409 when the charger is not connected, 504 when it does not "
        "answer, 400 for a Differential update the charger's version does not allow.",
        request=InputSerializer,
        responses=SyncOutput,
    )
    def post(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        data = validated(self.InputSerializer, request.data)
        return render(_sync(charge_point, data.get("update_type")))


class LocalListSyncAllApi(OperatorApi):
    class InputSerializer(serializers.Serializer):
        update_type = UPDATE_TYPE
        site = DatabaseIdField(required=False, help_text="Only the chargers of this site")

    @extend_schema(
        tags=[LOCAL_LISTS],
        summary="Send every connected charger of yours its local list",
        description="One sync per connected charger, one after the other; each result says what that "
        'charger answered, or why nothing was sent ({"status": "Offline"}, "Timeout", ...). Chargers that are '
        "not connected are listed as Offline without trying.",
        request=InputSerializer,
        responses=inline_serializer(
            "LocalListSyncAll",
            {"results": serializers.ListField(child=serializers.DictField(), help_text="One SyncOutput or error each")},
        ),
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        charge_points = charge_points_of(request.user).order_by("identity")
        if "site" in data:
            charge_points = charge_points.filter(site_id=data["site"])
        results = [self._one(charge_point, data.get("update_type")) for charge_point in charge_points]
        return Response({"results": results}, status=status.HTTP_200_OK)

    @staticmethod
    def _one(charge_point, update_type: str | None) -> dict:
        if not charge_point.is_online:
            return {"charge_point": charge_point.identity, "status": "Offline", "detail": "Not connected."}
        try:
            response = render(_sync(charge_point, update_type))
        except DomainError as error:
            return {
                "charge_point": charge_point.identity,
                "status": "Refused",
                "detail": error.message,
                "code": error.code,
            }
        return {"charge_point": charge_point.identity, **response.data}
