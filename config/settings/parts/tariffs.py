"""Settings of the tariffs area (hourly electricity prices). Owned by that area; read from
the environment."""

import environ

_env = environ.Env()

# The currency of generated prices and of purchases without a tariff.
PRICE_CURRENCY = _env.str("PRICE_CURRENCY", default="EUR")
# The band and seed of generated hourly prices (per kWh), so demos repeat.
PRICE_GENERATION_MIN = _env.str("PRICE_GENERATION_MIN", default="0.05")
PRICE_GENERATION_MAX = _env.str("PRICE_GENERATION_MAX", default="0.35")
PRICE_GENERATION_SEED = _env.str("PRICE_GENERATION_SEED", default="")
