from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from chargepoints.models import ChargePoint, Connector, ConnectorReservation, IdToken, OcppVersion


class ChargingState(models.TextChoices):
    # OCPP 2.0.1 ChargingStateEnumType; OCPP 1.6 connector statuses map onto it.
    CHARGING = "Charging"
    EV_CONNECTED = "EVConnected"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    IDLE = "Idle"


class StopReason(models.TextChoices):
    # The union of OCPP 1.6 Reason and OCPP 2.0.1 ReasonEnumType.
    DE_AUTHORIZED = "DeAuthorized"
    EMERGENCY_STOP = "EmergencyStop"
    ENERGY_LIMIT_REACHED = "EnergyLimitReached"
    EV_DISCONNECTED = "EVDisconnected"
    GROUND_FAULT = "GroundFault"
    HARD_RESET = "HardReset"
    IMMEDIATE_RESET = "ImmediateReset"
    LOCAL = "Local"
    LOCAL_OUT_OF_CREDIT = "LocalOutOfCredit"
    MASTER_PASS = "MasterPass"
    OTHER = "Other"
    OVERCURRENT_FAULT = "OvercurrentFault"
    POWER_LOSS = "PowerLoss"
    POWER_QUALITY = "PowerQuality"
    REBOOT = "Reboot"
    REMOTE = "Remote"
    SOC_LIMIT_REACHED = "SOCLimitReached"
    SOFT_RESET = "SoftReset"
    STOPPED_BY_EV = "StoppedByEV"
    TIME_LIMIT_REACHED = "TimeLimitReached"
    TIMEOUT = "Timeout"
    UNLOCK_COMMAND = "UnlockCommand"


class ChargeSession(models.Model):
    """One charging transaction, for OCPP 1.6 and 2.0.1 alike.

    For 1.6 we issue the transaction id (an integer); for 2.0.1 it is the charger's string.
    Energy is integer Wh; times are aware UTC.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"

    class ClosedBy(models.TextChoices):
        CHARGER = "charger", "Stop reported by the charger"
        SERVER = "server", "Closed by the server (charger never answered)"
        OPERATOR = "operator", "Closed by an operator"

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.PROTECT, related_name="sessions")
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="sessions")
    id_token = models.ForeignKey(IdToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions")
    id_tag = models.CharField(max_length=36, blank=True, help_text="The idTag / idToken as the charger sent it")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="charge_sessions")
    ocpp_version = models.CharField(max_length=12, choices=OcppVersion.choices, default=OcppVersion.V16)
    transaction_id = models.CharField(max_length=36, blank=True)
    remote_start_id = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.BigIntegerField(default=0)
    meter_stop_wh = models.BigIntegerField(null=True, blank=True)
    meter_last_wh = models.BigIntegerField(null=True, blank=True, help_text="Latest energy register reading")
    meter_last_at = models.DateTimeField(null=True, blank=True, help_text="When the latest register reading was taken")
    soc_start_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    soc_percent = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Latest state of charge")
    power_w = models.IntegerField(null=True, blank=True, help_text="Latest active power")
    charging_state = models.CharField(max_length=15, choices=ChargingState.choices, blank=True)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices, blank=True)
    stop_id_tag = models.CharField(max_length=36, blank=True)
    closed_by = models.CharField(max_length=10, choices=ClosedBy.choices, blank=True)
    authorization = models.CharField(
        max_length=20,
        blank=True,
        help_text="The IdTagInfo status the CSMS answered for the session's idTag (blank: not known)",
    )
    last_seq_no = models.IntegerField(null=True, blank=True, help_text="OCPP 2.0.1: highest seqNo seen")
    offline = models.BooleanField(default=False, help_text="Some events were queued while the charger was offline")
    time_spent_charging_s = models.PositiveIntegerField(null=True, blank=True)
    max_energy_wh = models.BigIntegerField(null=True, blank=True, help_text="Stop when reached (pre-paid)")
    connector_reservation = models.OneToOneField(
        ConnectorReservation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="session",
        help_text="The connector reservation (ReserveNow) this session started on",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "transaction_id"],
                condition=~Q(transaction_id=""),
                name="session_transaction_id_unique_per_charge_point",
            ),
            # A charger retrying an identical StartTransaction must not open a second session.
            models.UniqueConstraint(fields=["connector", "started_at"], name="session_unique_start_per_connector"),
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(status="active"),
                name="session_one_active_per_connector",
            ),
            models.CheckConstraint(
                condition=Q(meter_stop_wh__isnull=True) | Q(stopped_at__isnull=False),
                name="session_meter_stop_needs_stop_time",
            ),
            models.CheckConstraint(
                condition=Q(status="active") | Q(stopped_at__isnull=False),
                name="session_completed_has_stop_time",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-started_at"]),
            models.Index(fields=["charge_point", "-started_at"]),
            models.Index(fields=["status"]),
            models.Index(fields=["-started_at"], name="session_started_desc"),
        ]

    def __str__(self) -> str:
        return f"{self.charge_point_id} tx {self.transaction_id or self.pk}"

    @property
    def energy_wh(self) -> int:
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.meter_last_wh
        if end is None:
            return 0
        return max(0, end - self.meter_start_wh)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def refused(self) -> bool:
        """The CSMS did not authorise the session (Invalid, Blocked, Expired, ConcurrentTx,
        Unknown ...): the charger was told to stop, and the session costs nothing."""
        return self.authorization not in ("", "Accepted")


# The columns the hot paths insert MeterSample rows with (chargepoints.services.rows_insert).
METER_SAMPLE_FIELDS = (
    "charge_point_id",
    "connector_id",
    "session_id",
    "sampled_at",
    "measurand",
    "phase",
    "location",
    "context",
    "value",
    "unit",
)


class MeterSample(models.Model):
    """One sampled value of a MeterValues / TransactionEvent / StopTransaction frame."""

    # charge_point and session are indexed by the composite indexes below (they lead
    # them); a single-column index each would only cost every insert (issue 3).
    charge_point = models.ForeignKey(
        ChargePoint, on_delete=models.CASCADE, related_name="meter_samples", db_index=False
    )
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.CASCADE, related_name="meter_samples"
    )
    session = models.ForeignKey(
        ChargeSession, null=True, blank=True, on_delete=models.CASCADE, related_name="samples", db_index=False
    )
    sampled_at = models.DateTimeField()
    measurand = models.CharField(max_length=50, default="Energy.Active.Import.Register")
    phase = models.CharField(max_length=10, blank=True)
    location = models.CharField(max_length=10, blank=True)
    context = models.CharField(max_length=30, default="Sample.Periodic")
    value = models.DecimalField(max_digits=20, decimal_places=6)
    unit = models.CharField(max_length=10, blank=True)

    class Meta:
        ordering = ["sampled_at", "id"]
        constraints = [
            # A replayed MeterValues (a charger resending after a lost answer) is stored
            # once: inserts skip rows that conflict. It also serves the reads by
            # (session, measurand, time) the former plain index served.
            models.UniqueConstraint(
                fields=["session", "measurand", "sampled_at", "phase", "location", "context"],
                condition=Q(session__isnull=False),
                name="meter_sample_unique_per_session",
            ),
        ]
        indexes = [
            models.Index(fields=["charge_point", "-sampled_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.measurand}{'/' + self.phase if self.phase else ''}={self.value}{self.unit} @ {self.sampled_at:%H:%M:%S}"


class TransactionEvent(models.Model):
    """An OCPP 2.0.1 TransactionEvent as received; unique per (session, seqNo)."""

    session = models.ForeignKey(ChargeSession, on_delete=models.CASCADE, related_name="events")
    seq_no = models.IntegerField()
    event_type = models.CharField(max_length=10)
    trigger_reason = models.CharField(max_length=30)
    timestamp = models.DateTimeField()
    offline = models.BooleanField(default=False)
    charging_state = models.CharField(max_length=15, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "timestamp", "seq_no"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq_no"], name="transaction_event_unique_seq_no"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} #{self.seq_no} {self.event_type}/{self.trigger_reason}"


class ChargingStateChange(models.Model):
    """When a session's charging state changed: the timeline idle fees are priced from."""

    session = models.ForeignKey(ChargeSession, on_delete=models.CASCADE, related_name="state_changes")
    at = models.DateTimeField()
    charging_state = models.CharField(max_length=15, choices=ChargingState.choices)

    class Meta:
        ordering = ["session", "at", "id"]
        indexes = [models.Index(fields=["session", "at"])]

    def __str__(self) -> str:
        return f"{self.session_id} {self.charging_state} @ {self.at}"


class SessionAnomaly(models.Model):
    """Something wrong with a session an operator should see (never silently fixed)."""

    class Kind(models.TextChoices):
        SEQ_NO_GAP = "seq_no_gap", "Missing seqNo"
        OUT_OF_ORDER = "out_of_order", "Event arrived out of order"
        METER_BACKWARDS = "meter_backwards", "Energy register went backwards"
        METER_RESET = "meter_reset", "Energy register reset"
        CLOSED_BY_SERVER = "closed_by_server", "Closed without a stop from the charger"
        REPLACED = "replaced", "Closed because a new session started on the connector"
        CLOSED_BY_BACK_OFFICE = "closed_by_backoffice", "Closed by the back office (charger offline or rebooted)"
        LATE_STOP = "late_stop", "The charger's stop arrived after the back office closed the session"
        IMPLAUSIBLE_TIME = "implausible_time", "The charger's timestamp was implausible; the server's time was used"

    session = models.ForeignKey(ChargeSession, on_delete=models.CASCADE, related_name="anomalies")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "session anomalies"

    def __str__(self) -> str:
        return f"{self.session_id} {self.kind}"


class RemoteStartRequest(models.Model):
    """A request to start a transaction we sent to a charger (OCPP 2.0.1 RequestStartTransaction,
    or a 1.6 RemoteStartTransaction translated into one). Its pk is the remoteStartId the
    charger echoes in TransactionEvent, which links the session back to who asked for it."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent, no answer yet"
        ACCEPTED = "accepted", "Accepted by the charger"
        REJECTED = "rejected", "Rejected by the charger"
        STARTED = "started", "A transaction started for it"

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="remote_start_requests")
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    id_token = models.CharField(max_length=36, help_text="The idToken we asked the charger to start with")
    id_token_type = models.CharField(max_length=20, default="Central")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="remote_start_requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENT)
    transaction_id = models.CharField(max_length=36, blank=True, help_text="From the charger's answer, when it has one")
    session = models.OneToOneField(
        ChargeSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="remote_start_request"
    )
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["charge_point", "-requested_at"])]

    def __str__(self) -> str:
        return f"{self.charge_point_id} remote start {self.pk} ({self.status})"
