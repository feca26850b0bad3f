from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Operator, User
from chargepoints.identity import RULE, identity_is_valid


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.")


class OcppVersion(models.TextChoices):
    V16 = "ocpp1.6", "OCPP 1.6J"
    V201 = "ocpp2.0.1", "OCPP 2.0.1"


class Site(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    grid_capacity_amps = models.PositiveIntegerField(null=True, blank=True, help_text="Per phase, for load balancing")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "name"], name="site_name_unique_per_operator"),
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="site_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="site_longitude_range"),
        ]
        indexes = [models.Index(fields=["latitude", "longitude"])]

    def __str__(self) -> str:
        return self.name


class RegistrationStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ChargePoint(models.Model):
    """A charging station, known by its OCPP identity (the last path segment of its URL)."""

    identity = models.CharField(max_length=48, unique=True, help_text="OCPP charge point id")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="charge_points")
    name = models.CharField(max_length=200, blank=True)
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True, db_index=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField(max_length=20, blank=True)
    imsi = models.CharField(max_length=20, blank=True)
    meter_type = models.CharField(max_length=25, blank=True)
    meter_serial_number = models.CharField(max_length=25, blank=True)
    protocol = models.CharField(max_length=12, choices=OcppVersion.choices, blank=True)
    password_hash = models.CharField(max_length=128, blank=True, help_text="Basic-auth password, hashed")
    registration_status = models.CharField(
        max_length=10, choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED
    )
    is_online = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_boot_at = models.DateTimeField(null=True, blank=True)
    heartbeat_interval = models.PositiveIntegerField(default=300, help_text="Seconds, sent in BootNotification")
    # Connector 0 in OCPP 1.6: the status of the charger as a whole.
    status = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    firmware_status = models.CharField(max_length=30, blank=True)
    diagnostics_status = models.CharField(max_length=30, blank=True)
    public_charging = models.BooleanField(default=True)
    plug_and_charge = models.BooleanField(default=False)
    is_operative = models.BooleanField(default=True)
    max_power_kw = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["identity"]
        indexes = [models.Index(fields=["is_online", "last_seen_at"])]
        permissions = [("send_commands", "Can send OCPP commands to charge points")]

    def __str__(self) -> str:
        return self.identity

    @property
    def display_name(self) -> str:
        return self.name or self.identity

    def clean(self) -> None:
        if not identity_is_valid(self.identity):
            raise ValidationError({"identity": f"A charge point id is {RULE}."})


class Evse(models.Model):
    """An EVSE (OCPP 2.0.1 evseId). OCPP 1.6 connectors each get an EVSE of the same number."""

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="evses")
    evse_id = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["charge_point", "evse_id"]
        constraints = [
            models.UniqueConstraint(fields=["charge_point", "evse_id"], name="evse_unique_per_charge_point"),
            models.CheckConstraint(condition=Q(evse_id__gte=1), name="evse_id_positive"),
        ]
        verbose_name = "EVSE"

    def __str__(self) -> str:
        return f"{self.charge_point_id}/evse {self.evse_id}"


class ConnectorStatus(models.TextChoices):
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"  # OCPP 2.0.1


class ConnectorType(models.TextChoices):
    TYPE2 = "Type2", "Type 2 (IEC 62196-2)"
    CCS2 = "CCS2", "CCS Combo 2"
    CHADEMO = "CHAdeMO", "CHAdeMO"
    TYPE1 = "Type1", "Type 1 (SAE J1772)"
    CCS1 = "CCS1", "CCS Combo 1"
    GBT_AC = "GBT-AC", "GB/T AC"
    GBT_DC = "GBT-DC", "GB/T DC"
    SCHUKO = "Schuko", "Schuko"
    OTHER = "Other", "Other"


class Connector(models.Model):
    """A plug. `connector_id` is the OCPP 1.6 connectorId (and our public connector number);
    `evse` + `evse_connector_id` are the OCPP 2.0.1 address of the same plug."""

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="connectors")
    evse = models.ForeignKey(Evse, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    evse_connector_id = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    connector_type = models.CharField(max_length=10, choices=ConnectorType.choices, default=ConnectorType.TYPE2)
    max_power_kw = models.DecimalField(max_digits=8, decimal_places=2, default=22)
    status = models.CharField(max_length=20, choices=ConnectorStatus.choices, default=ConnectorStatus.AVAILABLE)
    error_code = models.CharField(max_length=50, blank=True, default="NoError")
    vendor_error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    status_updated_at = models.DateTimeField(null=True, blank=True)
    # Live readings for status views (the latest sample, whatever the session).
    power_w = models.IntegerField(null=True, blank=True)
    meter_wh = models.BigIntegerField(null=True, blank=True)
    soc_percent = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["charge_point", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["charge_point", "connector_id"], name="connector_unique_per_charge_point"),
            models.UniqueConstraint(fields=["evse", "evse_connector_id"], name="connector_unique_per_evse"),
            models.CheckConstraint(condition=Q(connector_id__gte=1), name="connector_id_positive"),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.charge_point_id}/{self.connector_id}"


class IdTokenType(models.TextChoices):
    # OCPP 2.0.1 IdTokenEnumType; OCPP 1.6 idTags are stored as ISO14443 (RFID) by default.
    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class IdTokenStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


class IdToken(models.Model):
    """A charge card, app token or other identifier a charger can authorise."""

    uid = models.CharField(max_length=36, unique=True, help_text="idTag (1.6) / idToken (2.0.1)")
    token_type = models.CharField(max_length=20, choices=IdTokenType.choices, default=IdTokenType.ISO14443)
    name = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="id_tokens")
    operator = models.ForeignKey(Operator, null=True, blank=True, on_delete=models.CASCADE, related_name="id_tokens")
    group_uid = models.CharField(max_length=36, blank=True, help_text="parentIdTag / groupIdToken")
    status = models.CharField(max_length=10, choices=IdTokenStatus.choices, default=IdTokenStatus.ACCEPTED)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uid"]
        verbose_name = "ID token (charge card)"
        indexes = [models.Index(fields=["user"])]

    def __str__(self) -> str:
        return self.name or self.uid


class ChargingProfile(models.Model):
    """A charging profile we set on a charger (limits, schedules)."""

    class Purpose(models.TextChoices):
        CHARGE_POINT_MAX = "ChargePointMaxProfile"
        CHARGING_STATION_MAX = "ChargingStationMaxProfile"
        EXTERNAL_CONSTRAINTS = "ChargingStationExternalConstraints"
        TX_DEFAULT = "TxDefaultProfile"
        TX = "TxProfile"

    class Kind(models.TextChoices):
        ABSOLUTE = "Absolute"
        RECURRING = "Recurring"
        RELATIVE = "Relative"

    class Status(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        REJECTED = "rejected"
        CLEARED = "cleared"

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="charging_profiles")
    connector_id = models.PositiveIntegerField(default=0, help_text="0 = the whole charger; for 2.0.1 the evseId")
    profile_id = models.PositiveIntegerField()
    stack_level = models.PositiveSmallIntegerField(default=0)
    purpose = models.CharField(max_length=40, choices=Purpose.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ABSOLUTE)
    recurrency_kind = models.CharField(max_length=10, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    charging_rate_unit = models.CharField(max_length=1, choices=[("W", "W"), ("A", "A")])
    schedule = models.JSONField(help_text="chargingSchedule as sent to the charger")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=30, blank=True, help_text="Who set it: portal, api, home-api, ...")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charge_point", "connector_id", "-stack_level"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "profile_id"],
                condition=Q(status__in=["pending", "active"]),
                name="charging_profile_id_unique_while_live",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charge_point_id} profile {self.profile_id} ({self.purpose})"


class OcppMessage(models.Model):
    """The frame journal: every OCPP frame in and out, stored before it is answered."""

    class Direction(models.TextChoices):
        IN = "in", "Charger → CSMS"
        OUT = "out", "CSMS → charger"

    class MessageType(models.IntegerChoices):
        CALL = 2
        CALL_RESULT = 3
        CALL_ERROR = 4
        UNPARSEABLE = 0

    # No single-column indexes on charge_point or charge_point_identity: (charge_point,
    # -created_at) below serves every per-charger lookup (newest first; they filter by the
    # charge point, not the identity text, which is kept for display and the admin's
    # substring search) and the deletes. Every index is paid on each of the many inserts
    # (issue 3).
    charge_point = models.ForeignKey(
        ChargePoint, null=True, blank=True, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    charge_point_identity = models.CharField(max_length=48)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(choices=MessageType.choices)
    unique_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(null=True, blank=True)
    raw = models.TextField(blank=True, help_text="Frames that were not valid JSON are kept verbatim")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "OCPP message"
        indexes = [
            models.Index(fields=["charge_point", "-created_at"]),
            models.Index(fields=["unique_id"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["action"]),
        ]

    def __str__(self) -> str:
        return f"{self.charge_point_identity} {self.direction} {self.action or self.message_type} {self.unique_id}"


class ConfigurationKey(models.Model):
    """An OCPP 1.6 configuration key as last read from (or written to) the charger."""

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="configuration_keys")
    key = models.CharField(max_length=50)
    value = models.CharField(max_length=500, blank=True, null=True)
    readonly = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charge_point", "key"]
        constraints = [models.UniqueConstraint(fields=["charge_point", "key"], name="configuration_key_unique")]

    def __str__(self) -> str:
        return f"{self.charge_point_id} {self.key}={self.value}"


class DeviceVariable(models.Model):
    """One attribute of one variable of one component, from an OCPP 2.0.1 NotifyReport."""

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="device_variables")
    component_name = models.CharField(max_length=50)
    component_instance = models.CharField(max_length=50, blank=True)
    # 0 = not specific to an EVSE / connector (kept non-null so the unique key works everywhere).
    evse_id = models.PositiveIntegerField(default=0)
    connector_id = models.PositiveIntegerField(default=0)
    variable_name = models.CharField(max_length=50)
    variable_instance = models.CharField(max_length=50, blank=True)
    attribute_type = models.CharField(max_length=10, default="Actual")
    value = models.CharField(max_length=2500, blank=True, null=True)
    mutability = models.CharField(max_length=10, blank=True)
    persistent = models.BooleanField(default=False)
    constant = models.BooleanField(default=False)
    data_type = models.CharField(max_length=20, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    values_list = models.CharField(max_length=1000, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charge_point", "component_name", "variable_name"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "charge_point",
                    "component_name",
                    "component_instance",
                    "evse_id",
                    "connector_id",
                    "variable_name",
                    "variable_instance",
                    "attribute_type",
                ],
                name="device_variable_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.component_name}.{self.variable_name}={self.value}"


class ChargePointEvent(models.Model):
    """Something an operator should see: a stop for an unknown transaction, a security
    event, a seqNo gap, a firmware or diagnostics status, a rejected boot, ..."""

    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=50, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    message = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["charge_point", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.charge_point_id} {self.kind}"


class ConnectorReservation(models.Model):
    """An OCPP reservation (ReserveNow) of one connector for one id token until it expires:
    the charger keeps the connector for that token. Not a payment hold (those are
    payments.Reservation). Its pk is the reservationId the charger knows it by."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Sent, no answer yet"
        ACCEPTED = "accepted", "Held by the charger"
        REFUSED = "refused", "Refused by the charger, or not sent"
        CANCELLED = "cancelled", "Cancelled"
        REMOVED = "removed", "Removed by the charger"
        EXPIRED = "expired", "Expired"
        USED = "used", "A session started on it"

    LIVE = (Status.REQUESTED, Status.ACCEPTED)

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="connector_reservations")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="connector_reservations")
    id_tag = models.CharField(max_length=36, help_text="The idTag / idToken the connector is kept for")
    id_token = models.ForeignKey(
        IdToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="connector_reservations"
    )
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    charger_status = models.CharField(
        max_length=20, blank=True, help_text="The charger's last word on it: Accepted, Occupied, Timeout, Expired, ..."
    )
    source = models.CharField(max_length=30, blank=True, help_text="Who asked for it: api, portal, ...")
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(status__in=["requested", "accepted"]),
                name="connector_reservation_one_live_per_connector",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["charge_point", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.charge_point_id}/{self.connector_id} reservation {self.pk} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class LocalAuthList(models.Model):
    """The local authorisation list a charger holds, as we last sent it (SendLocalList):
    its version and its entries (idTag -> OCPP 1.6 IdTagInfo), so the next update can be a
    differential one. `charger_version` is what the charger last said (GetLocalListVersion)."""

    charge_point = models.OneToOneField(ChargePoint, on_delete=models.CASCADE, related_name="local_auth_list")
    version = models.IntegerField(default=0, help_text="The listVersion the charger accepted last")
    entries = models.JSONField(default=dict, blank=True, help_text="idTag -> IdTagInfo as the charger holds it")
    update_type = models.CharField(max_length=12, blank=True, help_text="Full or Differential, of the last update")
    status = models.CharField(max_length=20, blank=True, help_text="The charger's answer to the last SendLocalList")
    synced_at = models.DateTimeField(null=True, blank=True, help_text="When the charger last accepted an update")
    attempted_at = models.DateTimeField(null=True, blank=True)
    charger_version = models.IntegerField(null=True, blank=True, help_text="From the last GetLocalListVersion")
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "local authorisation list"

    def __str__(self) -> str:
        return f"{self.charge_point_id} local list v{self.version}"


class ConnectorStatusChange(models.Model):
    """A connector's status (StatusNotification) changed: the status history. A charger's
    own status (connector 0) is kept with no connector. Repeats of the current status and
    error code are not stored."""

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="status_changes")
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.CASCADE, related_name="status_changes"
    )
    status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    at = models.DateTimeField(help_text="When the charger says it changed")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["charge_point", "-at"])]

    def __str__(self) -> str:
        return f"{self.charge_point_id}/{self.connector_id or 0} {self.status} @ {self.at}"
