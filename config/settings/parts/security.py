"""Settings of the security area: fail-closed production, charger secrets, login throttling.

Owned by that area; read from the environment. Every demo or laptop convenience (sandbox
payments, the QPay-to-sandbox fallback, console SMS, the fixed OTP code, accepting unknown
chargers as Pending) is declared off in its own part; config/settings/dev.py turns them
on for the run command. With SECURITY_FAIL_CLOSED (config/settings/production.py) a
system check (config/checks.py) refuses to start while any of them is on without its
ALLOW_... override below.
"""

from datetime import timedelta

import environ
from csp.constants import NONE, SELF

_env = environ.Env()

# True only in config/settings/production.py: the fail-closed system checks apply.
SECURITY_FAIL_CLOSED = False

# Explicit production overrides: each lets one demo convenience run in production. Meant
# for a staging or demo deployment, never where real drivers pay.
ALLOW_PAYMENTS_SANDBOX = _env.bool("ALLOW_PAYMENTS_SANDBOX", default=False)
ALLOW_QPAY_FALLBACK_TO_SANDBOX = _env.bool("ALLOW_QPAY_FALLBACK_TO_SANDBOX", default=False)
ALLOW_CONSOLE_SMS = _env.bool("ALLOW_CONSOLE_SMS", default=False)
ALLOW_OTP_DEV_CODE = _env.bool("ALLOW_OTP_DEV_CODE", default=False)
ALLOW_UNKNOWN_CHARGERS_PENDING = _env.bool("ALLOW_UNKNOWN_CHARGERS_PENDING", default=False)

# How many reverse proxies in front of the web processes append to X-Forwarded-For. The
# client address is taken that many hops from the right; 0 ignores the header (the
# socket's peer address is the client).
TRUSTED_PROXY_COUNT = _env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Staff login throttling (django-axes, accounts/login_throttle.py) --------------------
# Admin and portal logins: after LOGIN_FAILURE_LIMIT failures for one user name from one
# address, that pair is locked out (429) for LOGIN_COOLOFF_MINUTES. `manage.py axes_reset`
# lifts every lock (axes_reset_username NAME / axes_reset_ip ADDRESS for one).
AXES_FAILURE_LIMIT = _env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=_env.float("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.login_throttle.request_client_address"
AXES_VERBOSE = False

# --- Content-Security-Policy (django-csp) -------------------------------------------------
# No inline script anywhere (portal, admin, Swagger UI from drf-spectacular-sidecar, the
# payment pages; the Klarna page adds Klarna's hosts in payments/views.py). Inline styles
# stay allowed (the payment pages' style block, Swagger UI). Map tile servers
# (PORTAL_MAP_TILE_URL) go in the CSP_IMG_SRC environment variable.
SECURITY_CSP_IMG_SRC = _env.list("CSP_IMG_SRC", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", *SECURITY_CSP_IMG_SRC],
        "connect-src": [SELF],
        "font-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
