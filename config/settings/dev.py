"""Local development: the run command's settings."""

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
OCPP_UNKNOWN_CHARGERS = env.str("OCPP_UNKNOWN_CHARGERS", default="pending")
# The run command's demo conveniences (off in base and production, see parts/security.py).
PAYMENTS_SANDBOX_ENABLED = env.bool("PAYMENTS_SANDBOX_ENABLED", default=True)
QPAY_FALLBACK_TO_SANDBOX = env.bool("QPAY_FALLBACK_TO_SANDBOX", default=True)
SMS_PROVIDER = env.str("SMS_PROVIDER", default="console")
