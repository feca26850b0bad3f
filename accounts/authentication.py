"""DRF authentication: driver bearer tokens and operator X-API-Keys.

Both look the secret up by its SHA-256 (see accounts.secrets), so no secret is ever compared
byte by byte and nothing raw is stored.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts.models import AccessToken, ApiKey, Operator
from accounts.secrets import token_hash

# last_used_at is informative; writing it on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _touch(model, pk: int, last_used_at) -> None:
    now = timezone.now()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        model.objects.filter(pk=pk).update(last_used_at=now)


class DriverTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`) with a driver access token.

    request.user = the driver, request.auth = the AccessToken row (its raw value is on
    request.auth.raw for the endpoints that echo it back).
    """

    keywords = ("bearer", "token")
    kinds: tuple[str, ...] = (AccessToken.Kind.DRIVER,)

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Bearer <token>'.")
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        return self.authenticate_token(raw)

    def authenticate_token(self, raw: str):
        token = AccessToken.objects.select_related("user").filter(key_hash=token_hash(raw), kind__in=self.kinds).first()
        if token is None or not token.is_usable():
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This account is disabled.")
        _touch(AccessToken, token.pk, token.last_used_at)
        token.raw = raw
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a missing or bad token.
        return 'Bearer realm="api"'


class ApiKeyPrincipal:
    """request.user for an X-API-Key: not a person, but authenticated, carrying its operator."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.operator: Operator = api_key.operator
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, *args, **kwargs) -> bool:
        return False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`X-API-Key: <key>`: request.user = ApiKeyPrincipal (with .operator), request.auth = ApiKey."""

    header = "HTTP_X_API_KEY"

    def authenticate(self, request):
        raw = request.META.get(self.header)
        if not raw:
            return None
        key = ApiKey.objects.select_related("operator").filter(key_hash=token_hash(raw)).first()
        if key is None or not key.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        _touch(ApiKey, key.pk, key.last_used_at)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return "X-API-Key"


class IsDriver(permissions.BasePermission):
    message = "This endpoint is for drivers logged in with a phone number."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "is_driver", False))


class DriverTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.DriverTokenAuthentication"
    name = "driverToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Driver token from user/otp-check."}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
