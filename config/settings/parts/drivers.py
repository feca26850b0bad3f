"""Settings of the drivers area. Owned by that area; read from the environment."""
import environ

_env = environ.Env()

DRIVERS_BEAT_SCHEDULE: dict = {}
