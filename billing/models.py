from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from sessions_app.models import ChargeSession
from tariffs.models import Tariff


class PaymentMethod(models.TextChoices):
    # The seed's payment options (EVM = our wallet, QPAY = invoice URL) and the others we support.
    EVM = "EVM", "Wallet"
    QPAY = "QPAY", "QPay invoice"
    STRIPE = "STRIPE", "Card (Stripe pre-authorisation)"
    KLARNA = "KLARNA", "Klarna"
    SANDBOX = "SANDBOX", "Sandbox (test payments)"


class Purchase(models.Model):
    """The invoice for one charge session (the seed's "transaction")."""

    class Status(models.TextChoices):
        OPEN = "open", "Priced, awaiting payment"
        PENDING = "pending", "Payment in progress"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    session = models.OneToOneField(ChargeSession, on_delete=models.PROTECT, related_name="purchase")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="purchases")
    tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.PROTECT, related_name="purchases")
    currency = models.CharField(max_length=3, default="EUR")
    energy_wh = models.BigIntegerField(default=0)
    idle_minutes = models.PositiveIntegerField(default=0)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="Before VAT")
    vat_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total_price = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="Including VAT")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    priced_at = models.DateTimeField(null=True, blank=True)
    feedback_score = models.PositiveSmallIntegerField(null=True, blank=True)
    feedback_text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(feedback_score__isnull=True) | Q(feedback_score__gte=1, feedback_score__lte=5),
                name="purchase_feedback_score_1_to_5",
            ),
            models.CheckConstraint(condition=Q(total_price__gte=0), name="purchase_total_not_negative"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False), name="purchase_paid_has_paid_at"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["status"]),
            models.Index(fields=["-created_at"], name="purchase_created_desc"),
        ]

    def __str__(self) -> str:
        return f"Purchase {self.pk} {self.total_price} {self.currency}"


class PurchaseLine(models.Model):
    class Kind(models.TextChoices):
        ENERGY = "energy"
        IDLE = "idle"
        SESSION_FEE = "session_fee"
        VAT = "vat"

    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    description = models.CharField(max_length=200)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=10, blank=True)
    unit_price = models.DecimalField(max_digits=12, decimal_places=6)
    amount = models.DecimalField(
        max_digits=12, decimal_places=6, help_text="Unrounded; the purchase total is rounded once"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["purchase", "position", "id"]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class Wallet(models.Model):
    """A driver's prepaid balance. The balance is the sum of the ledger, never stored."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="wallet")
    currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Wallet of {self.user}"


class WalletEntry(models.Model):
    class Kind(models.TextChoices):
        TOP_UP = "top_up", "Top-up"
        DEBIT = "debit", "Payment of a purchase"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Manual adjustment"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Signed: debits are negative")
    purchase = models.ForeignKey(
        Purchase, null=True, blank=True, on_delete=models.PROTECT, related_name="wallet_entries"
    )
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="wallet_entries"
    )
    idempotency_key = models.CharField(max_length=100, unique=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["wallet", "created_at", "id"]
        verbose_name_plural = "wallet entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_not_zero"),
            # Only debits (and operator adjustments) take money out; top-ups and refunds add it.
            models.CheckConstraint(
                condition=Q(amount__gt=0) | Q(kind__in=["debit", "adjustment"]),
                name="wallet_entry_negative_only_for_debits",
            ),
            models.CheckConstraint(condition=~Q(kind="debit") | Q(amount__lt=0), name="wallet_entry_debit_is_negative"),
            models.UniqueConstraint(
                fields=["purchase"], condition=Q(kind="debit"), name="wallet_entry_one_debit_per_purchase"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"
