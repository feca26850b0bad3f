"""Sites, charge points and connectors: one view per operation."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import Operator
from chargepoints import charger_secrets
from chargepoints.identity import MAX_LENGTH, RULE, validate_identity
from chargepoints.models import ChargePoint, Connector, ConnectorStatus, OcppVersion, RegistrationStatus, Site
from config.validation import DatabaseIdField

from . import services
from .access import charge_point_or_404, charge_points_of, connector_or_404, operator_for_write, scoped
from .base import CSV, OperatorApi, csv_response, paginated, validated

SITES = "Operator: sites"
CHARGERS = "Operator: charge points"
CONNECTORS = "Operator: connectors"


def sites_of(user):
    return scoped(Site.objects.all(), user, operator_path="operator_id")


class SiteOutput(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = [
            "id",
            "operator",
            "name",
            "address",
            "city",
            "postal_code",
            "country",
            "latitude",
            "longitude",
            "time_zone",
            "grid_capacity_amps",
            "created_at",
        ]


class SiteInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-90, max_value=90)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-180, max_value=180)
    time_zone = serializers.CharField(max_length=64, required=False)
    grid_capacity_amps = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, allow_null=True)


class SiteListApi(OperatorApi):
    @extend_schema(tags=[SITES], responses=paginated("PaginatedSites", SiteOutput))
    def get(self, request):
        return self.paginate(sites_of(request.user), SiteOutput)


class SiteCreateApi(OperatorApi):
    class InputSerializer(SiteInput):
        operator = serializers.PrimaryKeyRelatedField(
            queryset=Operator.objects.all(), required=False, help_text="Superusers only: the owning operator"
        )

    @extend_schema(tags=[SITES], request=InputSerializer, responses={201: SiteOutput})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        data["operator"] = operator_for_write(request.user, data.pop("operator", None))
        site = services.record_save(instance=Site(), fields=data)
        return Response(SiteOutput(site).data, status=status.HTTP_201_CREATED)


class SiteDetailApi(OperatorApi):
    @extend_schema(tags=[SITES], responses=SiteOutput)
    def get(self, request, site_id: int):
        return Response(SiteOutput(get_object_or_404(sites_of(request.user), pk=site_id)).data)


class SiteUpdateApi(OperatorApi):
    class InputSerializer(SiteInput):
        pass

    @extend_schema(tags=[SITES], request=InputSerializer, responses=SiteOutput)
    def patch(self, request, site_id: int):
        site = get_object_or_404(sites_of(request.user), pk=site_id)
        data = validated(self.InputSerializer, request.data, partial=True)
        return Response(SiteOutput(services.record_save(instance=site, fields=data)).data)


class SiteDeleteApi(OperatorApi):
    @extend_schema(tags=[SITES], responses={204: None})
    def delete(self, request, site_id: int):
        services.record_delete(instance=get_object_or_404(sites_of(request.user), pk=site_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Charge points ------------------------------------------------------------------------


class ChargePointOutput(serializers.ModelSerializer):
    class Meta:
        model = ChargePoint
        fields = [
            "identity",
            "site",
            "name",
            "vendor",
            "model",
            "serial_number",
            "firmware_version",
            "protocol",
            "registration_status",
            "is_online",
            "last_seen_at",
            "last_boot_at",
            "status",
            "error_code",
            "public_charging",
            "is_operative",
            "max_power_kw",
            "heartbeat_interval",
            "created_at",
        ]


class ChargePointInput(serializers.Serializer):
    site = DatabaseIdField(help_text="Id of one of your sites")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    vendor = serializers.CharField(max_length=50, required=False, allow_blank=True)
    model = serializers.CharField(max_length=50, required=False, allow_blank=True)
    serial_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    protocol = serializers.ChoiceField(OcppVersion.choices, required=False, allow_blank=True)
    registration_status = serializers.ChoiceField(RegistrationStatus.choices, required=False)
    public_charging = serializers.BooleanField(required=False)
    is_operative = serializers.BooleanField(required=False)
    max_power_kw = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    heartbeat_interval = serializers.IntegerField(min_value=1, max_value=86400, required=False)
    password = serializers.CharField(
        write_only=True,
        required=False,
        min_length=8,
        max_length=128,
        help_text="The charger's Basic-auth password (stored hashed). On create, "
        "leave it out to have one generated: the answer shows it once.",
    )


def _charger_fields(request, data: dict) -> tuple[dict, str | None]:
    password = data.pop("password", None)
    if "site" in data:
        data["site"] = get_object_or_404(sites_of(request.user), pk=data["site"])
    return data, password


class ChargePointFilter(serializers.Serializer):
    site = DatabaseIdField(required=False)
    is_online = serializers.BooleanField(required=False, allow_null=True, default=None)
    status = serializers.ChoiceField(
        ConnectorStatus.choices,
        required=False,
        help_text="The charger's own status or any of its connectors' (Charging, Faulted, ...)",
    )
    vendor = serializers.CharField(required=False, max_length=50, help_text="Exact, ignoring case")
    model = serializers.CharField(required=False, max_length=50, help_text="Exact, ignoring case")
    firmware = serializers.CharField(required=False, max_length=50, help_text="Firmware version, exact")
    protocol = serializers.ChoiceField(OcppVersion.choices, required=False)


def filtered_charge_points(request):
    filters = validated(ChargePointFilter, request.query_params)
    charge_points = charge_points_of(request.user)
    if "site" in filters:
        charge_points = charge_points.filter(site_id=filters["site"])
    if filters.get("is_online") is not None:
        charge_points = charge_points.filter(is_online=filters["is_online"])
    if "status" in filters:
        with_status = Connector.objects.filter(charge_point=OuterRef("pk"), status=filters["status"])
        charge_points = charge_points.filter(Q(status=filters["status"]) | Q(Exists(with_status)))
    for name, field in (("vendor", "vendor__iexact"), ("model", "model__iexact"), ("firmware", "firmware_version")):
        if name in filters:
            charge_points = charge_points.filter(**{field: filters[name]})
    if "protocol" in filters:
        charge_points = charge_points.filter(protocol=filters["protocol"])
    return charge_points


CHARGE_POINT_CSV = [
    "identity",
    "name",
    "site",
    "site_name",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "protocol",
    "registration_status",
    "is_online",
    "last_seen_at",
    "status",
    "connectors",
    "connector_statuses",
    "max_power_kw",
    "created_at",
]


def _charge_point_row(charge_point: ChargePoint) -> list:
    connectors = sorted(charge_point.connectors.all(), key=lambda connector: connector.connector_id)
    return [
        charge_point.identity,
        charge_point.name,
        charge_point.site_id,
        charge_point.site.name if charge_point.site_id else "",
        charge_point.vendor,
        charge_point.model,
        charge_point.serial_number,
        charge_point.firmware_version,
        charge_point.protocol,
        charge_point.registration_status,
        charge_point.is_online,
        charge_point.last_seen_at.isoformat() if charge_point.last_seen_at else None,
        charge_point.status,
        len(connectors),
        " ".join(f"{connector.connector_id}:{connector.status}" for connector in connectors),
        charge_point.max_power_kw,
        charge_point.created_at.isoformat(),
    ]


class ChargePointListApi(OperatorApi):
    @extend_schema(
        tags=[CHARGERS], parameters=[ChargePointFilter], responses=paginated("PaginatedChargePoints", ChargePointOutput)
    )
    def get(self, request):
        return self.paginate(filtered_charge_points(request), ChargePointOutput)


class ChargePointExportApi(OperatorApi):
    @extend_schema(tags=[CHARGERS], parameters=[ChargePointFilter], responses={(200, "text/csv"): CSV})
    def get(self, request):
        charge_points = filtered_charge_points(request).prefetch_related("connectors").order_by("identity")
        return csv_response("charge-points.csv", CHARGE_POINT_CSV, (_charge_point_row(cp) for cp in charge_points))


class ChargePointCreateApi(OperatorApi):
    class InputSerializer(ChargePointInput):
        identity = serializers.CharField(
            max_length=MAX_LENGTH, validators=[validate_identity], help_text=f"The OCPP charge point id: {RULE}"
        )

    class OutputSerializer(ChargePointOutput):
        password = serializers.CharField(
            required=False, help_text="The generated Basic-auth password, shown only here (when none was given)"
        )

        class Meta(ChargePointOutput.Meta):
            fields = [*ChargePointOutput.Meta.fields, "password"]

    @extend_schema(tags=[CHARGERS], request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        fields, password = _charger_fields(request, validated(self.InputSerializer, request.data))
        generated = "" if password else charger_secrets.generate()
        charge_point = services.charge_point_save(
            charge_point=ChargePoint(), fields=fields, password=password or generated
        )
        answer = ChargePointOutput(charge_point).data
        if generated:
            answer["password"] = generated
        return Response(answer, status=status.HTTP_201_CREATED)


class ChargePointDetailApi(OperatorApi):
    @extend_schema(tags=[CHARGERS], responses=ChargePointOutput)
    def get(self, request, identity: str):
        return Response(ChargePointOutput(charge_point_or_404(request.user, identity)).data)


class ChargePointUpdateApi(OperatorApi):
    class InputSerializer(ChargePointInput):
        pass

    @extend_schema(tags=[CHARGERS], request=InputSerializer, responses=ChargePointOutput)
    def patch(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        fields, password = _charger_fields(request, validated(self.InputSerializer, request.data, partial=True))
        charge_point = services.charge_point_save(charge_point=charge_point, fields=fields, password=password)
        return Response(ChargePointOutput(charge_point).data)


class ChargePointDeleteApi(OperatorApi):
    @extend_schema(tags=[CHARGERS], responses={204: None, 409: None})
    def delete(self, request, identity: str):
        services.record_delete(instance=charge_point_or_404(request.user, identity))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Connectors ---------------------------------------------------------------------------


class ConnectorOutput(serializers.ModelSerializer):
    evse_id = serializers.IntegerField(source="evse.evse_id")

    class Meta:
        model = Connector
        fields = [
            "connector_id",
            "evse_id",
            "evse_connector_id",
            "connector_type",
            "max_power_kw",
            "status",
            "error_code",
            "vendor_error_code",
            "info",
            "status_updated_at",
            "power_w",
            "meter_wh",
            "soc_percent",
        ]


class ConnectorInput(serializers.Serializer):
    evse_connector_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    connector_type = serializers.ChoiceField(Connector._meta.get_field("connector_type").choices, required=False)
    max_power_kw = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False)


class ConnectorListApi(OperatorApi):
    @extend_schema(tags=[CONNECTORS], responses=ConnectorOutput(many=True))
    def get(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        return Response(ConnectorOutput(charge_point.connectors.select_related("evse"), many=True).data)


class ConnectorCreateApi(OperatorApi):
    class InputSerializer(ConnectorInput):
        connector_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
        evse_id = serializers.IntegerField(
            min_value=1, max_value=2**31 - 1, required=False, help_text="OCPP 2.0.1 EVSE; defaults to the connector id"
        )

    @extend_schema(tags=[CONNECTORS], request=InputSerializer, responses={201: ConnectorOutput})
    def post(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        data = validated(self.InputSerializer, request.data)
        evse_id = data.pop("evse_id", None)
        connector = services.connector_save(
            connector=Connector(charge_point=charge_point), fields=data, evse_id=evse_id
        )
        return Response(ConnectorOutput(connector).data, status=status.HTTP_201_CREATED)


class ConnectorDetailApi(OperatorApi):
    @extend_schema(tags=[CONNECTORS], responses=ConnectorOutput)
    def get(self, request, identity: str, connector_id: int):
        connector = connector_or_404(charge_point_or_404(request.user, identity), connector_id)
        return Response(ConnectorOutput(connector).data)


class ConnectorUpdateApi(OperatorApi):
    class InputSerializer(ConnectorInput):
        pass

    @extend_schema(tags=[CONNECTORS], request=InputSerializer, responses=ConnectorOutput)
    def patch(self, request, identity: str, connector_id: int):
        connector = connector_or_404(charge_point_or_404(request.user, identity), connector_id)
        data = validated(self.InputSerializer, request.data, partial=True)
        return Response(ConnectorOutput(services.connector_save(connector=connector, fields=data)).data)


class ConnectorDeleteApi(OperatorApi):
    @extend_schema(tags=[CONNECTORS], responses={204: None, 409: None})
    def delete(self, request, identity: str, connector_id: int):
        services.record_delete(instance=connector_or_404(charge_point_or_404(request.user, identity), connector_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
