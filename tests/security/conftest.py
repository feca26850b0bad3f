"""The end-to-end fixtures of tests/ocpp (real daphne processes, simulated chargers)."""
