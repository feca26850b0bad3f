"""Local development: the run command's settings."""
from .base import *  # noqa: F401,F403
from .base import CSMS, env

DEBUG = env.bool("DEBUG", default=True)
CSMS["OCPP_UNKNOWN_CHARGERS"] = env.str("OCPP_UNKNOWN_CHARGERS", default="pending")
