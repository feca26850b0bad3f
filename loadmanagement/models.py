"""Site load management (smart charging): the settings an operator gives a site, its
feeder groups and the electrical limits of chargers and connectors; the limits we sent
(the enforcement's memory), priorities, the settings journal and the draw history.

Amperes are per phase; a kW capacity is turned into phase-amperes at the nominal voltage
(LOADMANAGEMENT_NOMINAL_VOLTAGE)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from chargepoints.models import ChargePoint, Connector, IdToken, Site
from sessions_app.models import ChargeSession

AMPS = {"max_digits": 7, "decimal_places": 1}
KW = {"max_digits": 9, "decimal_places": 2}
_positive = [MinValueValidator(Decimal("0"))]


class Strategy(models.TextChoices):
    EQUAL = "equal", "Equal share"
    PRIORITY = "priority", "Priority first"
    UNUSED = "unused", "Equal share, giving away what a car does not use"


class SiteLoadSettings(models.Model):
    """Load management of one site: off until `enabled`."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="load_settings")
    enabled = models.BooleanField(default=False)
    capacity_amps = models.DecimalField(
        **AMPS,
        null=True,
        blank=True,
        validators=_positive,
        help_text="Grid connection per phase (A); empty: the site's grid capacity",
    )
    capacity_kw = models.DecimalField(
        **KW, null=True, blank=True, validators=_positive, help_text="Grid connection in total (kW), if it has one"
    )
    safety_margin_amps = models.DecimalField(
        **AMPS, default=Decimal("0"), validators=_positive, help_text="Kept free on every phase"
    )
    strategy = models.CharField(max_length=10, choices=Strategy.choices, default=Strategy.EQUAL)
    fail_safe_amps = models.DecimalField(
        **AMPS,
        null=True,
        blank=True,
        validators=_positive,
        help_text=(
            "What a car may start at before (or without) the back office: every connector's fail-safe default, "
            "kept free for each connector without a session; empty: 0 (a new car waits for its share)"
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "site load settings"
        verbose_name_plural = "site load settings"

    def __str__(self) -> str:
        return f"Load management of {self.site}"


class FeederGroup(models.Model):
    """Chargers behind one feeder (a sub-distribution board) of a site, with its own limit."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="feeder_groups")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    name = models.CharField(max_length=100)
    capacity_amps = models.DecimalField(**AMPS, null=True, blank=True, validators=_positive)
    capacity_kw = models.DecimalField(**KW, null=True, blank=True, validators=_positive)
    safety_margin_amps = models.DecimalField(**AMPS, default=Decimal("0"), validators=_positive)

    class Meta:
        ordering = ["site", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="feeder_group_name_unique_per_site")]

    def __str__(self) -> str:
        return f"{self.site} / {self.name}"


class ChargerLoad(models.Model):
    """The electrical side of a charger: its feeder group and rated current."""

    charge_point = models.OneToOneField(ChargePoint, on_delete=models.CASCADE, related_name="load")
    feeder = models.ForeignKey(
        FeederGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="charger_loads"
    )
    max_current_amps = models.DecimalField(
        **AMPS, null=True, blank=True, validators=_positive, help_text="Rated current per phase of the whole charger"
    )

    def __str__(self) -> str:
        return f"{self.charge_point} load"


class Phase(models.TextChoices):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


class ConnectorLoad(models.Model):
    """The electrical limits of one connector."""

    connector = models.OneToOneField(Connector, on_delete=models.CASCADE, related_name="load")
    phases = models.PositiveSmallIntegerField(choices=[(1, "1"), (3, "3")], default=3)
    phase = models.CharField(
        max_length=2, choices=Phase.choices, default=Phase.L1, help_text="The grid phase a one-phase connector is on"
    )
    min_current_amps = models.DecimalField(
        **AMPS, default=Decimal("6"), validators=_positive, help_text="6 A for AC (IEC 61851) unless the charger says"
    )
    max_current_amps = models.DecimalField(
        **AMPS, null=True, blank=True, validators=_positive, help_text="Empty: from the connector's rated power"
    )

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="connector_load_phases_1_or_3")]

    def __str__(self) -> str:
        return f"{self.connector} load"


class LimitStatus(models.TextChoices):
    PENDING = "pending"  # sent, no answer yet (or none in time)
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # Rejected, NotSupported or a CALLERROR: counted at its maximum
    OFFLINE = "offline"


class ConnectorAllocation(models.Model):
    """The limit last sent for the session on a connector, and what it was seen drawing."""

    connector = models.OneToOneField(Connector, on_delete=models.CASCADE, related_name="allocation")
    session = models.ForeignKey(
        ChargeSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="load_allocations"
    )
    limit_amps = models.DecimalField(**AMPS, null=True, blank=True, help_text="Last limit sent (0 = paused)")
    status = models.CharField(max_length=10, choices=LimitStatus.choices, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    draw_amps = models.JSONField(default=list, blank=True, help_text="Latest current per phase [L1, L2, L3]")
    draw_at = models.DateTimeField(null=True, blank=True)
    over_limit_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.connector}: {self.limit_amps} A ({self.status})"


class ChargingPriority(models.Model):
    """A card or a driver whose cars go first under the priority strategy (higher first)."""

    id_token = models.OneToOneField(
        IdToken, null=True, blank=True, on_delete=models.CASCADE, related_name="charging_priority"
    )
    user = models.OneToOneField(User, null=True, blank=True, on_delete=models.CASCADE, related_name="charging_priority")
    priority = models.SmallIntegerField(default=1, validators=[MinValueValidator(-100), MaxValueValidator(100)])

    class Meta:
        verbose_name_plural = "charging priorities"
        constraints = [
            models.CheckConstraint(
                condition=Q(id_token__isnull=False, user__isnull=True) | Q(id_token__isnull=True, user__isnull=False),
                name="charging_priority_card_or_driver",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id_token or self.user}: {self.priority}"


class LoadSettingsChange(models.Model):
    """The journal: every change to a site's load settings, who made it and from where."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="load_settings_changes")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=30, help_text="admin, api, portal, demo, ...")
    changes = models.JSONField(help_text="{field: [old, new]}")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.site} {self.source} {sorted(self.changes)}"


class SiteLoadSample(models.Model):
    """A site's limits and measured draw per phase at one moment, for the chart."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="load_samples")
    at = models.DateTimeField(default=timezone.now)
    capacity_amps = models.DecimalField(**AMPS, null=True, blank=True, help_text="Per phase, net of the margin")
    limits_amps = models.JSONField(default=list, help_text="Sum of the limits per phase [L1, L2, L3]")
    draw_amps = models.JSONField(default=list, help_text="Sum of the measured currents per phase [L1, L2, L3]")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["site", "-at"])]
