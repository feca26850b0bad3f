"""Settings of the operator portal. Owned by that app; read from the environment."""

import environ

_env = environ.Env()

# A page request waits at most this long for a charger's answer to a command (the command
# bus's own default is 60 s).
PORTAL_COMMAND_TIMEOUT = _env.float("PORTAL_COMMAND_TIMEOUT", default=20.0)
# Map tiles for /map/ (e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png with its
# attribution). Empty: the map shows the markers on a blank background (works offline).
PORTAL_MAP_TILE_URL = _env.str("PORTAL_MAP_TILE_URL", default="")
PORTAL_MAP_TILE_ATTRIBUTION = _env.str("PORTAL_MAP_TILE_ATTRIBUTION", default="")
