"""The OpenAPI schema documents every endpoint, validates with no error and no warning, and
spells OCPP.Core's paths as seed 004 does (issue 18)."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("schema") / "schema.yaml"
    # --fail-on-warn: any warning (an undocumented view, a name collision) fails the test.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return yaml.safe_load(out.read_text())


def test_operation_ids_are_unique(schema):
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert [name for name, count in Counter(ids).items() if count > 1] == []


def test_ocppcore_paths_are_spelled_as_the_seed_spells_them(schema):
    ocppcore = [path for path in schema["paths"] if path.startswith("/API/")]
    assert "/API/Reset/{charge_point_id}" in ocppcore and "/API/Status" in ocppcore
    assert [path for path in ocppcore if path.endswith("/")] == []


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/API/Payments/Create", {"chargePointId", "connectorId", "chargeTagId"}),
        ("/API/Payments/Confirm", {"reservationId", "checkoutSessionId"}),
        ("/API/Payments/Cancel", {"reservationId", "reason"}),
        ("/API/Payments/Webhook/sandbox", {"reference", "eventId"}),
    ],
)
def test_payment_endpoints_document_their_request_and_answers(schema, path, fields):
    operation = schema["paths"][path]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(component["properties"]) == fields
    assert "200" in operation["responses"] and any(code.startswith("4") for code in operation["responses"])


def test_the_create_answer_and_idempotency_key_are_documented(schema):
    operation = schema["paths"]["/API/Payments/Create"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    assert set(component["properties"]) == {
        "status",
        "checkoutUrl",
        "reservationId",
        "currency",
        "maxAmountCents",
        "maxEnergyKwh",
    }


def test_every_provider_webhook_is_documented(schema):
    for path in (
        "/API/Payments/Webhook",
        "/API/Payments/Webhook/qpay/{public_id}",
        "/API/Payments/Webhook/klarna/{public_id}",
    ):
        assert "post" in schema["paths"][path], path
