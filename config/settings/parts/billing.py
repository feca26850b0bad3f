"""Settings of the billing area. Owned by that area; read from the environment."""
import environ

_env = environ.Env()

BILLING_BEAT_SCHEDULE: dict = {}
