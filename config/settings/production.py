"""Production: no insecure defaults. Refuses to start without its secrets."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = False
# Demo conveniences are off (their parts' defaults); config/checks.py refuses any that is
# turned on without its ALLOW_... override.
SECURITY_FAIL_CLOSED = True
try:
    SECRET_KEY = env.str("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(f"Production settings need SECRET_KEY and ALLOWED_HOSTS: {exc}") from exc
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Production settings need a non-empty ALLOWED_HOSTS.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS only for browsers and API clients (TLS at daphne or at a proxy that sets
# X-Forwarded-Proto). Chargers on plain ws:// (OCPP security profile 1) are WebSocket
# connections, which the redirect does not touch; /health stays reachable over HTTP for
# load balancers.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
