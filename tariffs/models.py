from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Operator
from chargepoints.models import ChargePoint, Site

DEFAULT_MARKET = "default"


class ElectricityPrice(models.Model):
    """The wholesale price of one hour, starting at a UTC hour boundary."""

    class Source(models.TextChoices):
        GENERATED = "generated"
        IMPORTED = "imported"
        MANUAL = "manual"

    market = models.CharField(max_length=30, default=DEFAULT_MARKET, help_text="Bidding zone / price curve")
    starts_at = models.DateTimeField(help_text="UTC start of the hour")
    price_per_kwh = models.DecimalField(max_digits=12, decimal_places=6)
    currency = models.CharField(max_length=3, default="EUR")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.GENERATED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["market", "starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["market", "starts_at"], name="electricity_price_one_per_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.market} {self.starts_at:%Y-%m-%d %H:00}Z {self.price_per_kwh} {self.currency}/kWh"


class Tariff(models.Model):
    """What a driver pays: energy (fixed, or hourly price plus markup), a session fee,
    an idle fee per minute after a grace period, and VAT on top."""

    class Kind(models.TextChoices):
        FIXED = "fixed", "Fixed price per kWh"
        DYNAMIC = "dynamic", "Hourly price + markup"

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="tariffs")
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, default="EUR")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FIXED)
    energy_price_per_kwh = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
        help_text="Fixed tariffs: the price per kWh, before VAT",
    )
    market = models.CharField(
        max_length=30, default=DEFAULT_MARKET, help_text="Dynamic tariffs: the hourly price curve"
    )
    markup_per_kwh = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0"), help_text="Dynamic tariffs: added to the hourly price"
    )
    vat_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    session_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    idle_fee_per_minute = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    idle_grace_minutes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["operator", "name"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "name"], name="tariff_name_unique_per_operator"),
            models.CheckConstraint(condition=Q(energy_price_per_kwh__gte=0), name="tariff_energy_price_not_negative"),
            models.CheckConstraint(condition=Q(vat_percent__gte=0, vat_percent__lte=100), name="tariff_vat_range"),
            models.CheckConstraint(condition=Q(session_fee__gte=0), name="tariff_session_fee_not_negative"),
            models.CheckConstraint(condition=Q(idle_fee_per_minute__gte=0), name="tariff_idle_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class TariffAssignment(models.Model):
    """Attaches a tariff to a site or to one charge point from a moment on.
    The charge point's assignment wins over its site's; the latest valid_from wins."""

    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="assignments")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, related_name="tariff_assignments")
    charge_point = models.ForeignKey(
        ChargePoint, null=True, blank=True, on_delete=models.CASCADE, related_name="tariff_assignments"
    )
    valid_from = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(site__isnull=False) & Q(charge_point__isnull=True))
                | (Q(site__isnull=True) & Q(charge_point__isnull=False)),
                name="tariff_assignment_exactly_one_target",
            ),
            models.UniqueConstraint(
                fields=["site", "valid_from"],
                condition=Q(site__isnull=False),
                name="tariff_assignment_unique_site_start",
            ),
            models.UniqueConstraint(
                fields=["charge_point", "valid_from"],
                condition=Q(charge_point__isnull=False),
                name="tariff_assignment_unique_cp_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tariff} → {self.charge_point or self.site} from {self.valid_from:%Y-%m-%d}"
