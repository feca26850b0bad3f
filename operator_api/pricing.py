"""Id tokens (charge cards), tariffs, tariff assignments and electricity prices."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.models import Operator, User
from chargepoints.models import IdToken, IdTokenStatus, IdTokenType
from config.validation import DatabaseIdField
from tariffs import services as tariff_services
from tariffs.models import DEFAULT_MARKET, ElectricityPrice, Tariff, TariffAssignment

from . import services
from .access import charge_point_or_404, drivers_of, operator_for_write, scoped
from .base import CSV, DateOrDateTimeField, OperatorApi, csv_response, paginated, start_of, validated
from .sites import sites_of

TOKENS = "Operator: id tokens"
TARIFFS = "Operator: tariffs"
PRICES = "Operator: electricity prices"


def id_tokens_of(user):
    return scoped(IdToken.objects.all(), user, operator_path="operator_id")


def tariffs_of(user):
    return scoped(Tariff.objects.all(), user, operator_path="operator_id")


def assignments_of(user):
    return scoped(
        TariffAssignment.objects.select_related("tariff", "site", "charge_point"),
        user,
        operator_path="tariff__operator_id",
    )


# --- Id tokens ----------------------------------------------------------------------------


class IdTokenOutput(serializers.ModelSerializer):
    class Meta:
        model = IdToken
        fields = [
            "id",
            "uid",
            "token_type",
            "name",
            "user",
            "operator",
            "group_uid",
            "status",
            "expires_at",
            "created_at",
        ]


class OperatorDriverField(serializers.PrimaryKeyRelatedField):
    """A driver of the caller's operator; any other id, existing or not, is the same
    "does not exist" error, so the API does not reveal which user ids exist."""

    def get_queryset(self):
        request = self.context.get("request")
        return drivers_of(request.user) if request is not None else User.objects.none()


class IdTokenInput(serializers.Serializer):
    token_type = serializers.ChoiceField(IdTokenType.choices, required=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    user = OperatorDriverField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="The driver the card belongs to (one who charged at your chargers or holds one of your cards)",
    )
    group_uid = serializers.CharField(max_length=36, required=False, allow_blank=True)
    status = serializers.ChoiceField(IdTokenStatus.choices, required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class IdTokenFilter(serializers.Serializer):
    uid = serializers.CharField(required=False)
    user = DatabaseIdField(required=False)
    status = serializers.ChoiceField(IdTokenStatus.choices, required=False)


def filtered_id_tokens(request):
    filters = validated(IdTokenFilter, request.query_params)
    tokens = id_tokens_of(request.user)
    if "uid" in filters:
        tokens = tokens.filter(uid=filters["uid"])
    if "user" in filters:
        tokens = tokens.filter(user_id=filters["user"])
    if "status" in filters:
        tokens = tokens.filter(status=filters["status"])
    return tokens


ID_TOKEN_CSV = ["id", "uid", "token_type", "name", "driver", "group_uid", "status", "expires_at", "created_at"]


def _id_token_row(token: IdToken) -> list:
    return [
        token.pk,
        token.uid,
        token.token_type,
        token.name,
        token.user_id,
        token.group_uid,
        token.status,
        token.expires_at.isoformat() if token.expires_at else None,
        token.created_at.isoformat(),
    ]


class IdTokenListApi(OperatorApi):
    @extend_schema(tags=[TOKENS], parameters=[IdTokenFilter], responses=paginated("PaginatedIdTokens", IdTokenOutput))
    def get(self, request):
        return self.paginate(filtered_id_tokens(request), IdTokenOutput)


class IdTokenExportApi(OperatorApi):
    @extend_schema(tags=[TOKENS], parameters=[IdTokenFilter], responses={(200, "text/csv"): CSV})
    def get(self, request):
        tokens = filtered_id_tokens(request).order_by("uid")
        return csv_response("id-tokens.csv", ID_TOKEN_CSV, (_id_token_row(t) for t in tokens.iterator(chunk_size=500)))


class IdTokenCreateApi(OperatorApi):
    class InputSerializer(IdTokenInput):
        uid = serializers.CharField(max_length=36)
        operator = serializers.PrimaryKeyRelatedField(queryset=Operator.objects.all(), required=False)

    @extend_schema(tags=[TOKENS], request=InputSerializer, responses={201: IdTokenOutput})
    def post(self, request):
        data = validated(self.InputSerializer, request.data, context={"request": request})
        data["operator"] = operator_for_write(request.user, data.pop("operator", None))
        token = services.record_save(instance=IdToken(), fields=data)
        return Response(IdTokenOutput(token).data, status=status.HTTP_201_CREATED)


class IdTokenDetailApi(OperatorApi):
    @extend_schema(tags=[TOKENS], responses=IdTokenOutput)
    def get(self, request, token_id: int):
        return Response(IdTokenOutput(get_object_or_404(id_tokens_of(request.user), pk=token_id)).data)


class IdTokenUpdateApi(OperatorApi):
    class InputSerializer(IdTokenInput):
        pass

    @extend_schema(tags=[TOKENS], request=InputSerializer, responses=IdTokenOutput)
    def patch(self, request, token_id: int):
        token = get_object_or_404(id_tokens_of(request.user), pk=token_id)
        data = validated(self.InputSerializer, request.data, partial=True, context={"request": request})
        return Response(IdTokenOutput(services.record_save(instance=token, fields=data)).data)


class IdTokenDeleteApi(OperatorApi):
    @extend_schema(tags=[TOKENS], responses={204: None})
    def delete(self, request, token_id: int):
        services.record_delete(instance=get_object_or_404(id_tokens_of(request.user), pk=token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Tariffs ------------------------------------------------------------------------------


class TariffOutput(serializers.ModelSerializer):
    class Meta:
        model = Tariff
        fields = [
            "id",
            "operator",
            "name",
            "currency",
            "kind",
            "energy_price_per_kwh",
            "market",
            "markup_per_kwh",
            "vat_percent",
            "session_fee",
            "idle_fee_per_minute",
            "idle_grace_minutes",
            "created_at",
        ]


class TariffInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False, help_text="ISO 4217")
    kind = serializers.ChoiceField(Tariff.Kind.choices, required=False)
    energy_price_per_kwh = serializers.DecimalField(max_digits=10, decimal_places=4, min_value=0, required=False)
    market = serializers.CharField(max_length=30, required=False)
    markup_per_kwh = serializers.DecimalField(max_digits=10, decimal_places=4, required=False)
    vat_percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False)
    session_fee = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    idle_fee_per_minute = serializers.DecimalField(max_digits=10, decimal_places=4, min_value=0, required=False)
    idle_grace_minutes = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)


class TariffListApi(OperatorApi):
    @extend_schema(tags=[TARIFFS], responses=paginated("PaginatedTariffs", TariffOutput))
    def get(self, request):
        return self.paginate(tariffs_of(request.user), TariffOutput)


class TariffCreateApi(OperatorApi):
    class InputSerializer(TariffInput):
        operator = serializers.PrimaryKeyRelatedField(queryset=Operator.objects.all(), required=False)

    @extend_schema(tags=[TARIFFS], request=InputSerializer, responses={201: TariffOutput})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        data["operator"] = operator_for_write(request.user, data.pop("operator", None))
        tariff = services.record_save(instance=Tariff(), fields=data)
        return Response(TariffOutput(tariff).data, status=status.HTTP_201_CREATED)


class TariffDetailApi(OperatorApi):
    @extend_schema(tags=[TARIFFS], responses=TariffOutput)
    def get(self, request, tariff_id: int):
        return Response(TariffOutput(get_object_or_404(tariffs_of(request.user), pk=tariff_id)).data)


class TariffUpdateApi(OperatorApi):
    class InputSerializer(TariffInput):
        pass

    @extend_schema(tags=[TARIFFS], request=InputSerializer, responses=TariffOutput)
    def patch(self, request, tariff_id: int):
        tariff = get_object_or_404(tariffs_of(request.user), pk=tariff_id)
        data = validated(self.InputSerializer, request.data, partial=True)
        return Response(TariffOutput(services.record_save(instance=tariff, fields=data)).data)


class TariffDeleteApi(OperatorApi):
    @extend_schema(tags=[TARIFFS], responses={204: None, 409: None})
    def delete(self, request, tariff_id: int):
        services.record_delete(instance=get_object_or_404(tariffs_of(request.user), pk=tariff_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TariffAssignmentOutput(serializers.ModelSerializer):
    charge_point = serializers.SlugRelatedField(slug_field="identity", read_only=True, allow_null=True)

    class Meta:
        model = TariffAssignment
        fields = ["id", "tariff", "site", "charge_point", "valid_from"]


class TariffAssignmentListApi(OperatorApi):
    @extend_schema(tags=[TARIFFS], responses=paginated("PaginatedTariffAssignments", TariffAssignmentOutput))
    def get(self, request):
        return self.paginate(assignments_of(request.user), TariffAssignmentOutput)


class TariffAssignmentCreateApi(OperatorApi):
    class InputSerializer(serializers.Serializer):
        tariff = DatabaseIdField()
        site = DatabaseIdField(required=False, help_text="Either a site id ...")
        charge_point = serializers.CharField(required=False, help_text="... or a charge point identity")
        valid_from = serializers.DateTimeField(required=False)

        def validate(self, data):
            if ("site" in data) == ("charge_point" in data):
                raise serializers.ValidationError("Give exactly one of site or charge_point.")
            return data

    @extend_schema(tags=[TARIFFS], request=InputSerializer, responses={201: TariffAssignmentOutput})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        tariff = get_object_or_404(tariffs_of(request.user), pk=data["tariff"])
        site = get_object_or_404(sites_of(request.user), pk=data["site"]) if "site" in data else None
        charge_point = charge_point_or_404(request.user, data["charge_point"]) if "charge_point" in data else None
        if (
            site is not None
            and site.operator_id != tariff.operator_id
            or (
                charge_point is not None
                and (charge_point.site is None or charge_point.site.operator_id != tariff.operator_id)
            )
        ):
            raise serializers.ValidationError({"tariff": "The tariff and its target belong to different operators."})
        assignment = tariff_services.tariff_assign(
            tariff=tariff,
            site=site,
            charge_point=charge_point,
            valid_from=data.get("valid_from"),
        )
        return Response(TariffAssignmentOutput(assignment).data, status=status.HTTP_201_CREATED)


class TariffAssignmentDeleteApi(OperatorApi):
    @extend_schema(tags=[TARIFFS], responses={204: None})
    def delete(self, request, assignment_id: int):
        services.record_delete(instance=get_object_or_404(assignments_of(request.user), pk=assignment_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Electricity prices -------------------------------------------------------------------
# Hourly prices are market data shared by every operator: everyone reads them, only
# superusers change them.


class ElectricityPriceOutput(serializers.ModelSerializer):
    class Meta:
        model = ElectricityPrice
        fields = ["id", "market", "starts_at", "price_per_kwh", "currency", "source"]


def _require_superuser(request) -> None:
    if not getattr(request.user, "is_superuser", False):
        raise PermissionDenied("Electricity prices are shared market data; only superusers change them.")


class ElectricityPriceListApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        market = serializers.CharField(required=False, default=DEFAULT_MARKET)
        since = DateOrDateTimeField(required=False)
        until = DateOrDateTimeField(required=False)

    @extend_schema(
        tags=[PRICES],
        parameters=[FilterSerializer],
        responses=paginated("PaginatedElectricityPrices", ElectricityPriceOutput),
    )
    def get(self, request):
        filters = validated(self.FilterSerializer, request.query_params)
        prices = ElectricityPrice.objects.filter(market=filters["market"]).order_by("starts_at")
        if filters.get("since"):
            prices = prices.filter(starts_at__gte=start_of(filters["since"]))
        if filters.get("until"):
            prices = prices.filter(starts_at__lt=start_of(filters["until"]))
        return self.paginate(prices, ElectricityPriceOutput)


class ElectricityPriceInput(serializers.Serializer):
    price_per_kwh = serializers.DecimalField(max_digits=12, decimal_places=6)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)


class ElectricityPriceCreateApi(OperatorApi):
    class InputSerializer(ElectricityPriceInput):
        market = serializers.CharField(max_length=30, required=False, default=DEFAULT_MARKET)
        starts_at = serializers.DateTimeField(help_text="A UTC hour boundary")

        def validate_starts_at(self, value):
            if value.minute or value.second or value.microsecond:
                raise serializers.ValidationError("Prices start on a whole hour.")
            return value

    @extend_schema(tags=[PRICES], request=InputSerializer, responses={201: ElectricityPriceOutput})
    def post(self, request):
        _require_superuser(request)
        data = validated(self.InputSerializer, request.data)
        price = services.record_save(instance=ElectricityPrice(source=ElectricityPrice.Source.MANUAL), fields=data)
        return Response(ElectricityPriceOutput(price).data, status=status.HTTP_201_CREATED)


class ElectricityPriceUpdateApi(OperatorApi):
    class InputSerializer(ElectricityPriceInput):
        pass

    @extend_schema(tags=[PRICES], request=InputSerializer, responses=ElectricityPriceOutput)
    def patch(self, request, price_id: int):
        _require_superuser(request)
        price = get_object_or_404(ElectricityPrice, pk=price_id)
        data = validated(self.InputSerializer, request.data, partial=True)
        data["source"] = ElectricityPrice.Source.MANUAL
        return Response(ElectricityPriceOutput(services.record_save(instance=price, fields=data)).data)


class ElectricityPriceDeleteApi(OperatorApi):
    @extend_schema(tags=[PRICES], responses={204: None})
    def delete(self, request, price_id: int):
        _require_superuser(request)
        services.record_delete(instance=get_object_or_404(ElectricityPrice, pk=price_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ElectricityPriceImportApi(OperatorApi):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="CSV: timestamp and price_per_mwh / price_per_kwh / price")
        market = serializers.CharField(max_length=30, required=False, default=DEFAULT_MARKET)
        unit = serializers.ChoiceField(["kWh", "MWh"], required=False)
        currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
        time_zone = serializers.CharField(required=False)

    class OutputSerializer(serializers.Serializer):
        rows = serializers.IntegerField()
        created = serializers.IntegerField()
        updated = serializers.IntegerField()
        errors = serializers.ListField(child=serializers.CharField())

    @extend_schema(tags=[PRICES], request={"multipart/form-data": InputSerializer}, responses=OutputSerializer)
    def post(self, request):
        _require_superuser(request)
        data = validated(self.InputSerializer, request.data)
        result = tariff_services.electricity_prices_import_csv(
            file=data["file"],
            market=data["market"],
            unit=data.get("unit"),
            currency=data.get("currency"),
            time_zone=data.get("time_zone"),
        )
        body = {
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
            "errors": [str(error) for error in result.errors],
        }
        return Response(body, status=status.HTTP_400_BAD_REQUEST if result.errors else status.HTTP_200_OK)
