"""Settings of the ocpp area. Owned by that area; read from the environment."""
import environ

_env = environ.Env()

OCPP_BEAT_SCHEDULE: dict = {}
