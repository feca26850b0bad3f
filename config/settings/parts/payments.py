"""Settings of the payments area. Owned by that area; read from the environment.

Provider secrets come from the environment only and have no defaults: a provider whose
keys are missing is simply not enabled. The sandbox provider (our own hosted pay page)
needs no keys, so every flow also runs offline.
"""

from decimal import Decimal

import environ

_env = environ.Env()

# Where the hosted pages (sandbox pay page, Klarna widget page) and provider callbacks
# send the browser / the provider back to. Must be reachable by the provider.
PAYMENTS_PUBLIC_BASE_URL = _env.str("PAYMENTS_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
PAYMENTS_HTTP_TIMEOUT = _env.float("PAYMENTS_HTTP_TIMEOUT", default=15.0)
PAYMENTS_CURRENCY = _env.str("PAYMENTS_CURRENCY", default="EUR")

# --- Sandbox (offline, our own pay page) ------------------------------------------------
# Off unless enabled: the sandbox pay page "pays" anything (free wallet top-ups). The run
# command (config/settings/dev.py) turns it on; production refuses it without
# ALLOW_PAYMENTS_SANDBOX (config/checks.py).
PAYMENTS_SANDBOX_ENABLED = _env.bool("PAYMENTS_SANDBOX_ENABLED", default=False)

# --- QPay (invoice URL) ---------------------------------------------------------------
QPAY_BASE_URL = _env.str("QPAY_BASE_URL", default="https://merchant.qpay.mn")
QPAY_CLIENT_ID = _env.str("QPAY_CLIENT_ID", default="")
QPAY_CLIENT_SECRET = _env.str("QPAY_CLIENT_SECRET", default="")
QPAY_INVOICE_CODE = _env.str("QPAY_INVOICE_CODE", default="")
# The driver app only knows "QPAY". Without QPay keys the option can be served by the
# sandbox pay page, so the app works offline in the demo (on in config/settings/dev.py;
# production refuses it without ALLOW_QPAY_FALLBACK_TO_SANDBOX).
QPAY_FALLBACK_TO_SANDBOX = _env.bool("QPAY_FALLBACK_TO_SANDBOX", default=False)

# --- Stripe (pre-authorisation with manual capture, and card checkout) ----------------
STRIPE_API_BASE = _env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_SECRET_KEY = _env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = _env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE = _env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
STRIPE_CURRENCY = _env.str("STRIPE_CURRENCY", default="eur").lower()
# What one reservation holds, and the energy it buys before we stop the session.
STRIPE_RESERVATION_MAX_AMOUNT = Decimal(_env.str("STRIPE_RESERVATION_MAX_AMOUNT", default="39.20"))
STRIPE_RESERVATION_MAX_ENERGY_KWH = _env.int("STRIPE_RESERVATION_MAX_ENERGY_KWH", default=80)
# Where Checkout sends the browser back; {CHECKOUT_SESSION_ID} is filled in by Stripe.
STRIPE_SUCCESS_URL = _env.str("STRIPE_SUCCESS_URL", default="")
STRIPE_CANCEL_URL = _env.str("STRIPE_CANCEL_URL", default="")
# An unused reservation (checkout never finished, or no session started) is released after this.
PAYMENTS_RESERVATION_TTL_MINUTES = _env.int("PAYMENTS_RESERVATION_TTL_MINUTES", default=60)

# --- Klarna Payments ----------------------------------------------------------------
KLARNA_BASE_URL = _env.str("KLARNA_BASE_URL", default="https://api.playground.klarna.com")
KLARNA_USERNAME = _env.str("KLARNA_USERNAME", default="")
KLARNA_PASSWORD = _env.str("KLARNA_PASSWORD", default="")
KLARNA_PURCHASE_COUNTRY = _env.str("KLARNA_PURCHASE_COUNTRY", default="SE")
KLARNA_LOCALE = _env.str("KLARNA_LOCALE", default="en-SE")

# Pending invoices older than this are given up (canceled at the provider when possible).
PAYMENTS_INVOICE_TTL_MINUTES = _env.int("PAYMENTS_INVOICE_TTL_MINUTES", default=60)

PAYMENTS_BEAT_SCHEDULE: dict = {
    "payments-poll-pending-invoices": {
        "task": "payments.tasks.poll_pending_payments",
        "schedule": 60.0,
    },
    "payments-enforce-reservation-energy-limits": {
        "task": "payments.tasks.enforce_reservation_energy_limits",
        "schedule": 15.0,
    },
    "payments-release-stale-reservations": {
        "task": "payments.tasks.release_stale_reservations",
        "schedule": 300.0,
    },
}
