"""Settings of the payments area. Owned by that area; read from the environment."""
import environ

_env = environ.Env()

PAYMENTS_BEAT_SCHEDULE: dict = {}
