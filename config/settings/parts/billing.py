"""Settings of the billing area (tariffs and billing). Owned by that area; read from the environment."""

import environ

_env = environ.Env()

# When an hour has no electricity price (dynamic tariffs, the current-price look-up), the
# month is generated from PRICE_GENERATION_* (parts/tariffs.py), as the seed does. Turn this off in
# production once real day-ahead prices are imported: a missing hour then fails loudly
# instead of being invented.
TARIFFS_GENERATE_MISSING_PRICES = _env.bool("TARIFFS_GENERATE_MISSING_PRICES", default=True)
# Markets whose upcoming months the beat job fills with generated prices.
TARIFFS_GENERATED_MARKETS = _env.list("TARIFFS_GENERATED_MARKETS", default=["default"])

# An authorised session that delivered less energy than this (Wh) pays no session fee (a
# car that never drew, a cable plugged and pulled); idle fees still follow the tariff.
BILLING_MIN_BILLABLE_WH = _env.int("BILLING_MIN_BILLABLE_WH", default=100)

# Live cost of an active session: cached per session and per meter/state change.
BILLING_RUNNING_COST_CACHE_SECONDS = _env.int("BILLING_RUNNING_COST_CACHE_SECONDS", default=120)

BILLING_BEAT_SCHEDULE: dict = {
    # Late samples (OCPP 2.0.1 offline events) re-price an unpaid purchase; the OCPP side
    # asks for it, and this sweep catches any request that was lost.
    "billing-reprice-stale-purchases": {
        "task": "billing.tasks.reprice_stale_purchases",
        "schedule": 300.0,
    },
    # A session that ended without its purchase (a lost on_commit task) gets one.
    "billing-create-missing-purchases": {
        "task": "billing.tasks.create_missing_purchases",
        "schedule": 600.0,
    },
}
