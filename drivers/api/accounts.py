"""Driver login, profile and wallet endpoints (seed 002: user/*, customer/*)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.response import Response

from accounts import services
from drivers.api.base import (
    ERRORS,
    ApiSerializer,
    DriverAPIView,
    EmptySerializer,
    ErrorSerializer,
    PublicAPIView,
    client_ip,
)
from drivers.api.serializers import InvoiceSerializer, LoginSerializer, number
from drivers.devices import driver_login_answer
from drivers.purchases import driver_replenishment_status, driver_wallet_replenish

TAGS = ["driver: account"]
RATE_LIMITED = {429: OpenApiResponse(ErrorSerializer, description="Too many requests (see Retry-After)")}


class OtpRequestApi(PublicAPIView):
    class InputSerializer(ApiSerializer):
        phone = serializers.CharField(max_length=40, help_text="International format, e.g. +976 8666 1488")

    @extend_schema(
        operation_id="user_otp_request",
        tags=TAGS,
        request=InputSerializer,
        auth=[],
        summary="Send a login code by SMS",
        responses={200: EmptySerializer, **ERRORS, **RATE_LIMITED, 502: ErrorSerializer},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.otp_request(phone=data.validated_data["phone"], client_ip=client_ip(request))
        return Response({})


class OtpCheckApi(PublicAPIView):
    class InputSerializer(ApiSerializer):
        phone = serializers.CharField(max_length=40)
        code = serializers.CharField(max_length=12, help_text="The code from the SMS")

    @extend_schema(
        operation_id="user_otp_check",
        tags=TAGS,
        request=InputSerializer,
        auth=[],
        summary="Log in with the SMS code",
        responses={200: LoginSerializer, **ERRORS, **RATE_LIMITED, 403: ErrorSerializer},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        login = services.otp_check(client_ip=client_ip(request), **data.validated_data)
        return Response(LoginSerializer(driver_login_answer(user=login.user, token=login.token)).data)


class MeApi(DriverAPIView):
    @extend_schema(
        operation_id="user_me",
        tags=TAGS,
        request=None,
        summary="The logged-in driver",
        responses={200: LoginSerializer, **ERRORS},
    )
    def post(self, request):
        return Response(LoginSerializer(driver_login_answer(user=request.user, token=request.auth.raw)).data)


class LogoutApi(DriverAPIView):
    @extend_schema(
        operation_id="user_logout",
        tags=TAGS,
        request=None,
        summary="Revoke the token of this request",
        responses={200: EmptySerializer, **ERRORS},
    )
    def post(self, request):
        services.access_token_revoke(token=request.auth)
        return Response({})


class UpdateNotificationTokenApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        FCMToken = serializers.CharField(max_length=512, allow_blank=True, help_text="Firebase Cloud Messaging token")

    @extend_schema(
        operation_id="customer_update_notification_token",
        tags=TAGS,
        request=InputSerializer,
        summary="Store the app's push token",
        responses={200: EmptySerializer, **ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.driver_update_notification_token(user=request.user, token=data.validated_data["FCMToken"])
        return Response({})


class UpdateInfoApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        name = serializers.CharField(max_length=200, allow_blank=True)
        email = serializers.EmailField(max_length=254, allow_blank=True)

    @extend_schema(
        operation_id="customer_update_info",
        tags=TAGS,
        request=InputSerializer,
        summary="Change the driver's name and email",
        responses={200: EmptySerializer, **ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.driver_update_info(user=request.user, **data.validated_data)
        return Response({})


class ReplenishApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        amount = serializers.DecimalField(
            max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("1000000")
        )
        option = serializers.CharField(max_length=20, help_text="A payment option, e.g. QPAY")

    class OutputSerializer(InvoiceSerializer):
        option = serializers.CharField()
        invoiceId = serializers.CharField(source="invoice_id")
        url = serializers.CharField(required=False, help_text="Open it to pay")
        clientToken = serializers.CharField(
            source="client_token",
            required=False,
            help_text="KLARNA: the token for the Klarna widget",
        )

    @extend_schema(
        operation_id="customer_replenish",
        tags=TAGS,
        request=InputSerializer,
        summary="Top up the wallet; a REPLENISHMENT event follows the payment",
        responses={200: OutputSerializer, **ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = driver_wallet_replenish(user=request.user, **data.validated_data)
        return Response(self.OutputSerializer(answer).data)


class ReplenishmentStatusApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        invoiceId = serializers.CharField(max_length=100)

    class OutputSerializer(ApiSerializer):
        status = serializers.ChoiceField(choices=["pending", "success", "error", "canceled"])
        amount = number()

    @extend_schema(
        operation_id="customer_replenishment_status",
        tags=TAGS,
        request=InputSerializer,
        summary="Check a top-up's payment status",
        responses={200: OutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = driver_replenishment_status(user=request.user, invoice_id=data.validated_data["invoiceId"])
        return Response(self.OutputSerializer(answer).data)


@extend_schema_view(post=extend_schema(exclude=True))
class ReplenishmentStatusNoSlashApi(ReplenishmentStatusApi):
    """The same operation without the trailing slash (kept out of the schema)."""
