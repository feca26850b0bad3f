from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from billing.models import Purchase
from chargepoints.models import ChargePoint, Connector, IdToken
from sessions_app.models import ChargeSession


class Provider(models.TextChoices):
    WALLET = "wallet", "Wallet"
    SANDBOX = "sandbox", "Sandbox"
    QPAY = "qpay", "QPay"
    STRIPE = "stripe", "Stripe"
    KLARNA = "klarna", "Klarna"


class Payment(models.Model):
    """One attempt to collect money through a provider, for a purchase or a wallet top-up."""

    class Purpose(models.TextChoices):
        PURCHASE = "purchase"
        TOP_UP = "top_up"

    class Status(models.TextChoices):
        # The seed's payment statuses.
        PENDING = "pending"
        SUCCESS = "success"
        ERROR = "error"
        CANCELED = "canceled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.CharField(max_length=10, choices=Provider.choices)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    provider_reference = models.CharField(
        max_length=200, null=True, blank=True, help_text="Invoice / order / session id at the provider"
    )
    idempotency_key = models.CharField(max_length=100, unique=True)
    checkout_url = models.URLField(max_length=1000, blank=True)
    client_token = models.TextField(blank=True, help_text="Klarna client_token for the widget")
    failure_reason = models.CharField(max_length=300, blank=True)
    provider_answers = models.JSONField(default=list, blank=True, help_text="Raw provider answers, secrets removed")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=Q(provider_reference__isnull=False),
                name="payment_provider_reference_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=~Q(purpose="purchase") | Q(purchase__isnull=False), name="payment_purchase_needs_purchase"
            ),
            # At most one successful payment per purchase.
            models.UniqueConstraint(
                fields=["purchase"], condition=Q(status="success"), name="payment_one_success_per_purchase"
            ),
        ]
        indexes = [models.Index(fields=["status", "provider"]), models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.provider} {self.amount} {self.currency} {self.status}"


class Reservation(models.Model):
    """A pre-authorisation (Stripe Checkout with manual capture) for one charging session."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting checkout"
        AUTHORIZED = "authorized", "Funds reserved"
        STARTED = "started", "Session started"
        CAPTURED = "captured", "Captured"
        RELEASED = "released", "Released"
        CANCELED = "canceled", "Canceled"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    charge_point = models.ForeignKey(ChargePoint, on_delete=models.PROTECT, related_name="reservations")
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="reservations")
    id_token = models.ForeignKey(IdToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="reservations")
    charge_tag = models.CharField(max_length=36)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="reservations")
    provider = models.CharField(max_length=10, choices=Provider.choices, default=Provider.STRIPE)
    currency = models.CharField(max_length=3, default="EUR")
    max_amount = models.DecimalField(max_digits=12, decimal_places=2)
    max_energy_wh = models.BigIntegerField()
    # Fixed once, before the provider is asked to capture: a capture repeated after a lost
    # worker asks for the same amount, so the provider answers it as the capture it made.
    capture_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    captured_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    checkout_session_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    payment_intent_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    checkout_url = models.URLField(max_length=1000, blank=True)
    session = models.OneToOneField(
        ChargeSession, null=True, blank=True, on_delete=models.PROTECT, related_name="reservation"
    )
    cancel_reason = models.CharField(max_length=100, blank=True)
    # The charger's answer to the latest remote start ("Accepted", "Rejected", "Timeout"),
    # empty while one is in flight (status STARTED) or before the first.
    start_answer = models.CharField(max_length=20, blank=True)
    # The client's Idempotency-Key of the Create that made it, namespaced by operator.
    idempotency_key = models.CharField(max_length=300, blank=True)
    provider_answers = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=~Q(idempotency_key=""), name="reservation_idempotency_key_unique"
            ),
            models.CheckConstraint(condition=Q(max_amount__gt=0), name="reservation_max_amount_positive"),
            models.CheckConstraint(condition=Q(max_energy_wh__gt=0), name="reservation_max_energy_positive"),
            models.CheckConstraint(
                condition=Q(captured_amount__isnull=True) | Q(captured_amount__lte=models.F("max_amount")),
                name="reservation_capture_within_reserved",
            ),
            models.CheckConstraint(
                condition=Q(capture_amount__isnull=True) | Q(capture_amount__lte=models.F("max_amount")),
                name="reservation_capture_claim_within_reserved",
            ),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"Reservation {self.id} {self.status}"


class WebhookEvent(models.Model):
    """A provider webhook, stored once per provider event id so replays change nothing."""

    provider = models.CharField(max_length=10, choices=Provider.choices)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_unique")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class SandboxInvoice(models.Model):
    """The sandbox provider's own books: what a real provider would keep on its side.

    Our hosted pay page changes these rows; the rest of the payments code only reads them
    through the sandbox provider, exactly as it talks to a real provider.
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice (pay now)"
        HOLD = "hold", "Pre-authorisation (capture later)"

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        AUTHORIZED = "authorized"
        DECLINED = "declined"
        CANCELED = "canceled"
        CAPTURED = "captured"
        RELEASED = "released"

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    description = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    captured_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Where the pay page sends the browser afterwards, as Stripe Checkout does: success
    # (with the checkout session id filled in) and cancel; empty = stay on the page.
    return_url = models.URLField(max_length=1000, blank=True)
    cancel_url = models.URLField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_invoice_amount_positive")]

    def __str__(self) -> str:
        return f"Sandbox {self.kind} {self.amount} {self.currency} {self.status}"
