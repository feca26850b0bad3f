"""Writes of the accounts area: OTP login, access tokens, API keys, driver profile."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.errors import DomainError, InvalidRequest, NotAllowed, Unavailable, UpstreamFailed
from accounts.models import AccessToken, ApiKey, Operator, OtpChallenge, User
from accounts.phone import phone_normalise
from accounts.ratelimit import rate_limit_hit
from accounts.secrets import matches, new_token, short_secret_hash, token_hash
from accounts.sms import SmsError, get_sms_provider, sms_enabled

logger = logging.getLogger(__name__)

DRIVER_TOKEN_PREFIX = "drv"
API_KEY_PREFIX = "csk"


# --- OTP ---------------------------------------------------------------------------------


def _otp_salt(challenge: OtpChallenge) -> str:
    # The row id makes every challenge's hash unique even for the same code and phone.
    return f"otp:{challenge.pk}:{challenge.phone}"


def _otp_new_code() -> str:
    if settings.DRIVERS_OTP_DEV_CODE_ENABLED:
        return settings.DRIVERS_OTP_DEV_CODE
    length = settings.DRIVERS_OTP_LENGTH
    return f"{secrets.randbelow(10**length):0{length}d}"


def otp_request(*, phone: str, client_ip: str | None) -> OtpChallenge:
    """Send a fresh code to the phone; earlier unused codes of that phone stop working."""
    if not sms_enabled():
        raise Unavailable(
            "Phone login is not available on this server: no SMS provider is configured.", code="otp_login_disabled"
        )
    phone = phone_normalise(phone)
    # Narrowest first, and a refused request counts no further: someone elsewhere uses up
    # only their own (phone, address) allowance of a driver's codes, not the driver's.
    if client_ip:
        rate_limit_hit(
            scope="otp-request:phone-ip", key=f"{phone}|{client_ip}", rate=settings.DRIVERS_OTP_RATE_PER_PHONE_AND_IP
        )
        rate_limit_hit(scope="otp-request:ip", key=client_ip, rate=settings.DRIVERS_OTP_RATE_PER_IP)
    rate_limit_hit(scope="otp-request:phone", key=phone, rate=settings.DRIVERS_OTP_RATE_PER_PHONE)
    code = _otp_new_code()
    now = timezone.now()
    with transaction.atomic():
        OtpChallenge.objects.filter(phone=phone, consumed_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        challenge = OtpChallenge.objects.create(
            phone=phone,
            code_hash="",
            client_ip=client_ip,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.DRIVERS_OTP_TTL_SECONDS),
        )
        challenge.code_hash = short_secret_hash(code, salt=_otp_salt(challenge))
        challenge.save(update_fields=["code_hash"])
    minutes = max(1, settings.DRIVERS_OTP_TTL_SECONDS // 60)
    try:
        get_sms_provider().send(to=phone, text=f"Your login code is {code}. It expires in {minutes} minutes.")
    except SmsError as exc:
        logger.error("OTP SMS to %s failed: %s", phone, exc)
        OtpChallenge.objects.filter(pk=challenge.pk).update(expires_at=timezone.now())
        raise UpstreamFailed("We could not send the SMS; try again in a moment.", code="sms_failed") from exc
    return challenge


@dataclass(frozen=True)
class Login:
    user: User
    token: str


def otp_check(*, phone: str, code: str, client_ip: str | None) -> Login:
    """Exchange a correct code for a new driver token, creating the driver on first login."""
    user = otp_verify(phone=phone, code=code, client_ip=client_ip)
    return Login(user=user, token=access_token_issue(user=user, kind=AccessToken.Kind.DRIVER))


def otp_verify(*, phone: str, code: str, client_ip: str | None) -> User:
    """The driver a correct code logs in (created on first login): the one check behind the
    app's token login and the web login. Raises on a wrong, expired or used-up code."""
    phone = phone_normalise(phone)
    if client_ip:
        rate_limit_hit(scope="otp-check:ip", key=client_ip, rate=settings.DRIVERS_OTP_CHECK_RATE_PER_IP)
    now = timezone.now()
    failure: DomainError | None = None
    user: User | None = None
    # The attempt counter must be saved even when the code is wrong, so the failure is
    # raised only after the transaction committed.
    with transaction.atomic():
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(phone=phone, consumed_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at", "-id")
            .first()
        )
        max_attempts = settings.DRIVERS_OTP_MAX_ATTEMPTS
        if challenge is None:
            failure = InvalidRequest("No valid code for this phone number; request a new one.", code="code_expired")
        elif challenge.attempts >= max_attempts:
            failure = InvalidRequest("Too many wrong codes; request a new one.", code="too_many_attempts")
        else:
            challenge.attempts += 1
            correct = matches(code, stored_hash=challenge.code_hash, salt=_otp_salt(challenge))
            if correct:
                challenge.consumed_at = now
            challenge.save(update_fields=["attempts", "consumed_at"])
            if correct:
                user = _driver_get_or_create(phone=phone)
                if not user.is_active:
                    failure = NotAllowed("This account is disabled.", code="account_disabled")
            else:
                left = max_attempts - challenge.attempts
                failure = InvalidRequest(
                    f"Wrong code; {left} attempt{'s' if left != 1 else ''} left."
                    if left
                    else "Wrong code; request a new one.",
                    code="wrong_code",
                )
    if failure is not None:
        raise failure
    assert user is not None
    return user


def _driver_get_or_create(*, phone: str) -> User:
    user = User.objects.filter(phone=phone).first()
    if user is not None:
        return user
    username = phone
    if User.objects.filter(username=username).exists():
        username = f"{phone}-{secrets.token_hex(3)}"
    return User.objects.create_user(username=username, phone=phone)


# --- Access tokens -----------------------------------------------------------------------


def access_token_issue(
    *, user: User, kind: str, name: str = "", parent: AccessToken | None = None, ttl: timedelta | None = None
) -> str:
    """Create a token and return the raw value: the only time it exists outside the client."""
    if ttl is None and kind == AccessToken.Kind.DRIVER and settings.DRIVERS_TOKEN_TTL_DAYS:
        ttl = timedelta(days=settings.DRIVERS_TOKEN_TTL_DAYS)
    raw = new_token(DRIVER_TOKEN_PREFIX if kind == AccessToken.Kind.DRIVER else kind.replace("_", ""))
    AccessToken.objects.create(
        user=user,
        kind=kind,
        name=name,
        prefix=raw[:12],
        key_hash=token_hash(raw),
        parent=parent,
        expires_at=timezone.now() + ttl if ttl else None,
    )
    return raw


def access_token_revoke(*, token: AccessToken) -> None:
    """Revoke a token and the tokens handed out under it. Revoking twice changes nothing."""
    now = timezone.now()
    AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    AccessToken.objects.filter(parent=token, revoked_at__isnull=True).update(revoked_at=now)


def access_tokens_revoke_for_user(*, user: User, kind: str | None = None) -> int:
    tokens = AccessToken.objects.filter(user=user, revoked_at__isnull=True)
    if kind:
        tokens = tokens.filter(kind=kind)
    return tokens.update(revoked_at=timezone.now())


# --- API keys ----------------------------------------------------------------------------


def api_key_create(*, operator: Operator, name: str, scope: str = ApiKey.Scope.FULL) -> tuple[ApiKey, str]:
    raw = new_token(API_KEY_PREFIX)
    key = ApiKey.objects.create(
        operator=operator, name=name, prefix=raw[:12], key_hash=token_hash(raw), scope=scope or ApiKey.Scope.FULL
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- Driver profile ----------------------------------------------------------------------


def driver_update_info(*, user: User, name: str, email: str) -> User:
    user.name = name
    user.email = email
    user.save(update_fields=["name", "email"])
    return user


def driver_update_notification_token(*, user: User, token: str) -> User:
    user.notification_token = token
    user.save(update_fields=["notification_token"])
    return user
