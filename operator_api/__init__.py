"""Operator APIs: the OCPP.Core-compatible /API/ and the operator REST API at /api/operator/."""
