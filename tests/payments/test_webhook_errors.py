"""The provider webhooks map each domain error kind to its HTTP status once
(payments.webhooks), answering seed 004's {"status": "Error", "code", "message"}."""

import uuid

import pytest

from tests.support.errors import EXPECTED_STATUS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("kind", "status"), EXPECTED_STATUS)
def test_each_error_kind_answers_its_status(client, monkeypatch, kind, status):
    def raise_it(**kwargs):
        raise kind("Something went wrong.", code="some_code")

    monkeypatch.setattr("payments.services.stripe_webhook_handle", raise_it)
    response = client.post("/API/Payments/Webhook", data="{}", content_type="application/json")
    assert response.status_code == status
    assert response.json() == {"status": "Error", "code": "some_code", "message": "Something went wrong."}


def test_an_unknown_invoice_answers_404(client):
    response = client.get(f"/API/Payments/Webhook/qpay/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"status": "Error", "code": "not_found", "message": "Unknown invoice."}


def test_unconfigured_stripe_webhooks_answer_503(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = client.post("/API/Payments/Webhook", data="{}", content_type="application/json")
    assert response.status_code == 503
    assert response.json() == {
        "status": "Error",
        "code": "not_configured",
        "message": "Stripe webhooks are not configured.",
    }
