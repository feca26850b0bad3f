"""The driver API maps each domain error kind to its HTTP status once (drivers.api.errors),
answering {"code", "message"} whatever the service."""

from decimal import Decimal

import pytest

from accounts.errors import Conflict, DomainError, RateLimited
from tests.factories import PurchaseFactory
from tests.support.errors import EXPECTED_STATUS

pytestmark = pytest.mark.django_db


def _pay_raises(monkeypatch, error: DomainError) -> None:
    def raise_it(**kwargs):
        raise error

    monkeypatch.setattr("drivers.purchases.driver_purchase_pay", raise_it)


@pytest.mark.parametrize(("kind", "status"), EXPECTED_STATUS)
def test_each_error_kind_answers_its_status_with_code_and_message(api, driver, monkeypatch, kind, status):
    purchase = PurchaseFactory(session__user=driver, user=driver, total_price=Decimal("3.50"))
    _pay_raises(monkeypatch, kind("Something went wrong.", code="some_code"))
    response = api.post(f"/api/v1/purchases/{purchase.pk}/pay", {"option": "EVM"}, format="json")
    assert response.status_code == status
    assert response.json() == {"code": "some_code", "message": "Something went wrong."}
    assert "Retry-After" not in response


def test_a_conflict_answers_409(api, driver, monkeypatch):
    purchase = PurchaseFactory(session__user=driver, user=driver, total_price=Decimal("3.50"))
    _pay_raises(monkeypatch, Conflict("This purchase is already paid.", code="already_paid"))
    response = api.post(f"/api/v1/purchases/{purchase.pk}/pay", {"option": "EVM"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"code": "already_paid", "message": "This purchase is already paid."}


def test_a_rate_limit_answers_429_with_retry_after(api, driver, monkeypatch):
    purchase = PurchaseFactory(session__user=driver, user=driver, total_price=Decimal("3.50"))
    _pay_raises(monkeypatch, RateLimited("Too many requests; try again later.", retry_after=60))
    response = api.post(f"/api/v1/purchases/{purchase.pk}/pay", {"option": "EVM"}, format="json")
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert response.json() == {"code": "rate_limited", "message": "Too many requests; try again later."}


def test_an_unknown_path_under_the_driver_api_is_a_json_404(client):
    answer = client.get("/api/v1/no-such-endpoint")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("application/json")
    assert answer.json()["code"] == "not_found"
