from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Operator(models.Model):
    """The charge point operator: a company that owns sites, chargers and API keys."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, username: str, password: str | None = None, **fields):
        if not username:
            raise ValueError("A user needs a username.")
        user = self.model(username=username, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(username, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Drivers log in with their phone number (E.164); operators are staff users.

    Drivers' username is their phone number, so both log in through one field.
    """

    username = models.CharField(max_length=150, unique=True)
    phone = models.CharField(max_length=16, unique=True, null=True, blank=True, help_text="E.164, e.g. +97686661488")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    notification_token = models.CharField(max_length=512, blank=True, help_text="Push (FCM) token of the driver's app")
    operator = models.ForeignKey(
        Operator,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text="For staff: the operator whose data they see.",
    )
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(phone__isnull=True) | Q(phone__regex=r"^\+[1-9][0-9]{6,14}$"), name="user_phone_e164"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.username

    @property
    def is_driver(self) -> bool:
        return self.phone is not None and not self.is_staff


class ApiKey(models.Model):
    """An operator's X-API-Key. Only its hash is stored; the raw key is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        COMMANDS = "commands", "Read and send commands"
        FULL = "full", "Full"

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(
        max_length=10,
        choices=Scope.choices,
        default=Scope.FULL,
        help_text="read: look only; commands: look and send charger commands; full: everything",
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, kind: str) -> bool:
        """Whether this key's scope covers a "read", "command" or "write" operation."""
        if self.scope == self.Scope.FULL:
            return True
        if self.scope == self.Scope.COMMANDS:
            return kind in ("read", "command")
        return kind == "read"


class AccessToken(models.Model):
    """A revocable bearer token: a driver app login, a home-automation API token, or
    the session token handed out for that API token. Stored hashed."""

    class Kind(models.TextChoices):
        DRIVER = "driver", "Driver app login"
        HOME_API = "home_api", "Home-automation API token"
        HOME_SESSION = "home_session", "Home-automation session"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.prefix}… of {self.user}"

    def is_usable(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)


class OtpChallenge(models.Model):
    """One SMS code sent to a phone number. The code is stored as a salted hash."""

    phone = models.CharField(max_length=16)
    code_hash = models.CharField(max_length=64)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "-created_at"])]

    def __str__(self) -> str:
        return f"OTP for {self.phone} at {self.created_at:%Y-%m-%d %H:%M}"
