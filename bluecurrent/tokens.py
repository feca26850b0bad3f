"""Home-automation tokens: the API token a driver creates on our page, and the session token
VALIDATE_API_TOKEN hands out for it (sent back as "Authorization: Token <session token>").

Issuing and revoking go through accounts.services (hashed storage, revocation cascades to
the session tokens issued under an API token).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import AccessToken, User
from accounts.secrets import token_hash

TOKEN_KEYWORD = "Token"


@dataclass(frozen=True)
class HomeSession:
    """Who is asking: the driver, the API token (limits are per API token) and the session token."""

    user_id: int
    api_token_id: int
    session_token_id: int


def api_token_list(*, user: User) -> QuerySet[AccessToken]:
    return AccessToken.objects.filter(user=user, kind=AccessToken.Kind.HOME_API, revoked_at__isnull=True)


@transaction.atomic
def api_token_create(*, user: User, name: str) -> str:
    from accounts.services import access_token_issue

    return access_token_issue(user=user, kind=AccessToken.Kind.HOME_API, name=name[:100])


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> bool:
    from accounts.services import access_token_revoke

    token = AccessToken.objects.filter(user=user, kind=AccessToken.Kind.HOME_API, pk=token_id).first()
    if token is None:
        return False
    access_token_revoke(token=token)
    return True


def _usable_api_token(raw: str) -> AccessToken | None:
    if not isinstance(raw, str) or not raw or len(raw) > 200:
        return None
    token = (
        AccessToken.objects.select_related("user")
        .filter(key_hash=token_hash(raw), kind=AccessToken.Kind.HOME_API)
        .first()
    )
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    return token


def api_token_check(*, raw: str) -> AccessToken | None:
    return _usable_api_token(raw)


@transaction.atomic
def session_token_issue(*, api_token: AccessToken) -> str:
    from accounts.services import access_token_issue

    AccessToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
    return access_token_issue(
        user=api_token.user,
        kind=AccessToken.Kind.HOME_SESSION,
        name=api_token.name,
        parent=api_token,
    )


def session_resolve(*, authorization: object) -> HomeSession | None:
    """The session behind an "Authorization: Token <raw>" value, or None when it is missing,
    malformed, unknown, revoked, or its API token or driver is no longer usable."""
    if not isinstance(authorization, str):
        return None
    keyword, _, raw = authorization.strip().partition(" ")
    if keyword != TOKEN_KEYWORD or not raw or len(raw) > 200:
        return None
    token = (
        AccessToken.objects.select_related("user", "parent")
        .filter(key_hash=token_hash(raw.strip()), kind=AccessToken.Kind.HOME_SESSION)
        .first()
    )
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    parent = token.parent
    if parent is None or parent.kind != AccessToken.Kind.HOME_API or not parent.is_usable():
        return None
    return HomeSession(user_id=token.user_id, api_token_id=parent.pk, session_token_id=token.pk)
