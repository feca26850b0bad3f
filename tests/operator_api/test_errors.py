"""The operator APIs map each domain error kind to its HTTP status once (operator_api.errors):
/api/operator/ in DRF's {"detail"} shape, /API/Payments/* in seed 004's {"status": "Error"} shape."""

import pytest

from tests.support.errors import EXPECTED_STATUS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("kind", "status"), EXPECTED_STATUS)
def test_payments_endpoints_answer_each_kind_with_its_status(client, monkeypatch, kind, status):
    def raise_it(**kwargs):
        raise kind("Something went wrong.", code="some_code")

    monkeypatch.setattr("payments.services.reservation_cancel", raise_it)
    response = client.post("/API/Payments/Cancel", {"reservationId": "r1"}, format="json")
    assert response.status_code == status
    assert response.json() == {"status": "Error", "code": "some_code", "message": "Something went wrong."}


def test_an_unknown_reservation_answers_404_in_the_seed_shape(client):
    response = client.post("/API/Payments/Cancel", {"reservationId": "not-a-uuid"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"status": "Error", "code": "not_found", "message": "Unknown reservation."}


def test_payments_input_errors_keep_drfs_shape(client):
    response = client.post("/API/Payments/Cancel", {}, format="json")
    assert response.status_code == 400 and "reservationId" in response.json()


@pytest.mark.parametrize(("kind", "status"), EXPECTED_STATUS)
def test_operator_rest_answers_each_kind_with_its_status(client, site, monkeypatch, kind, status):
    def raise_it(**kwargs):
        raise kind("Something went wrong.", code="some_code")

    monkeypatch.setattr("operator_api.services.record_delete", raise_it)
    response = client.delete(f"/api/operator/sites/{site.pk}/delete/")
    assert response.status_code == status
    assert response.json() == {"detail": "Something went wrong.", "code": "some_code"}
