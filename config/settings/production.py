"""Production: no insecure defaults. Refuses to start without its secrets."""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = False
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
