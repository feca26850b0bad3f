"""The end-to-end fixtures of tests/ocpp (real daphne processes, simulated chargers)."""
from tests.ocpp.conftest import make_charge_point, server, servers  # noqa: F401
