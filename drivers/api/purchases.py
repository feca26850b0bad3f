"""Purchases and paying for them from the driver app (seed 002: payment-options, purchases/*)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from drivers import purchases
from drivers.api.base import ERRORS, NOT_FOUND, ApiSerializer, DriverAPIView, EmptySerializer
from drivers.api.serializers import InvoiceSerializer, number

TAGS = ["driver: purchases"]


class PaymentOptionsApi(DriverAPIView):
    class OutputSerializer(ApiSerializer):
        option = serializers.CharField()
        icon = serializers.CharField(allow_blank=True)
        title = serializers.CharField()
        disabled = serializers.BooleanField()

    @extend_schema(
        operation_id="payment_options",
        tags=TAGS,
        summary="Ways to pay",
        responses={200: OutputSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        return Response(self.OutputSerializer(purchases.driver_payment_options(user=request.user), many=True).data)


class PurchasePayApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        option = serializers.CharField(max_length=20, help_text="EVM (wallet), QPAY (invoice URL), ...")

    class OutputSerializer(InvoiceSerializer):
        option = serializers.CharField()
        invoiceId = serializers.CharField(source="invoice_id")
        newBalance = number(source="new_balance", required=False, help_text="EVM: the wallet balance after paying")
        url = serializers.CharField(required=False, help_text="QPAY and other invoice options: open it to pay")
        clientToken = serializers.CharField(
            source="client_token",
            required=False,
            help_text="KLARNA: the token for the Klarna widget",
        )

    @extend_schema(
        operation_id="purchase_pay",
        tags=TAGS,
        request=InputSerializer,
        summary="Pay a purchase; a PAYMENT event follows",
        responses={200: OutputSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request, purchase_id: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = purchases.driver_purchase_pay(user=request.user, purchase_id=purchase_id, **data.validated_data)
        return Response(self.OutputSerializer(answer).data)


class PurchaseStatusApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        invoiceId = serializers.CharField(max_length=100)

    class OutputSerializer(ApiSerializer):
        status = serializers.ChoiceField(choices=["pending", "success", "error", "canceled"])
        amount = number()

    @extend_schema(
        operation_id="purchase_status",
        tags=TAGS,
        request=InputSerializer,
        summary="Check a purchase's payment status",
        responses={200: OutputSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request, purchase_id: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = purchases.driver_purchase_payment_status(
            user=request.user,
            purchase_id=purchase_id,
            invoice_id=data.validated_data["invoiceId"],
        )
        return Response(self.OutputSerializer(answer).data)


class PurchaseFeedbackApi(DriverAPIView):
    class FeedbackSerializer(ApiSerializer):
        score = serializers.IntegerField(min_value=1, max_value=5)
        description = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")

    class InputSerializer(ApiSerializer):
        def get_fields(self):
            return {"feedback": PurchaseFeedbackApi.FeedbackSerializer()}

    @extend_schema(
        operation_id="purchase_feedback",
        tags=TAGS,
        request=InputSerializer,
        summary="Rate a purchase (1-5)",
        responses={200: EmptySerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request, purchase_id: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = data.validated_data["feedback"]
        purchases.driver_purchase_feedback(
            user=request.user,
            purchase_id=purchase_id,
            score=feedback["score"],
            description=feedback["description"],
        )
        return Response({})


class PurchaseListApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        def get_fields(self):
            return {
                "page": serializers.IntegerField(min_value=1, max_value=1_000_000, default=1),
                "page-size": serializers.IntegerField(min_value=1, max_value=200, default=50),
            }

    class OutputSerializer(ApiSerializer):
        id = serializers.CharField()
        status = serializers.CharField(help_text="open, pending, paid or void")
        amount = number(source="total_price")
        currency = serializers.CharField()
        energy = serializers.SerializerMethodField(help_text="kWh")
        waitingTime = serializers.IntegerField(source="idle_minutes", help_text="Minutes")
        deviceId = serializers.CharField(source="session.charge_point_id")
        deviceNumber = serializers.CharField(source="session.charge_point.identity")
        startedAt = serializers.DateTimeField(source="session.started_at")
        stoppedAt = serializers.DateTimeField(source="session.stopped_at", allow_null=True)
        paidAt = serializers.DateTimeField(source="paid_at", allow_null=True)
        paymentOption = serializers.CharField(source="payment_method", allow_blank=True)
        feedback = serializers.SerializerMethodField()
        createdAt = serializers.DateTimeField(source="created_at")

        def get_energy(self, purchase) -> float:
            return float((Decimal(purchase.energy_wh) / 1000).quantize(Decimal("0.001")))

        def get_feedback(self, purchase) -> dict | None:
            if purchase.feedback_score is None:
                return None
            return {"score": purchase.feedback_score, "description": purchase.feedback_text}

    @extend_schema(
        operation_id="purchases_list",
        tags=TAGS,
        summary="The driver's purchases, newest first",
        description="A JSON array; the total count is in the X-Total-Count header.",
        parameters=[
            OpenApiParameter("page", int, OpenApiParameter.QUERY, description="From 1"),
            OpenApiParameter("page-size", int, OpenApiParameter.QUERY, description="1-200, 50 by default"),
        ],
        responses={200: OutputSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        page = purchases.driver_purchase_list(
            user=request.user,
            page=data.validated_data["page"],
            page_size=data.validated_data["page-size"],
        )
        return Response(self.OutputSerializer(page.items, many=True).data, headers={"X-Total-Count": str(page.total)})
