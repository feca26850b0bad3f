from decimal import Decimal

import pytest

from billing.models import Purchase
from tests.factories import PurchaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def purchase(driver):
    return PurchaseFactory(session__user=driver, user=driver, total_price=Decimal("3.50"), energy_wh=10000)


@pytest.fixture
def others_purchase(other_driver):
    return PurchaseFactory(session__user=other_driver, user=other_driver)


def test_payment_options_answer_the_seed_shape(api):
    options = api.get("/api/v1/payment-options").json()
    assert {"option", "icon", "title", "disabled"} == set(options[0])
    by_name = {o["option"]: o for o in options}
    assert by_name["EVM"]["disabled"] is False


def test_paying_from_the_wallet_answers_the_new_balance(api, driver, purchase, wallet_with):
    wallet_with(driver, "20.00")
    response = api.post(f"/api/v1/purchases/{purchase.pk}/pay", {"option": "EVM"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"option": "EVM", "invoiceId": str(purchase.pk), "newBalance": 16.5}
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID


def test_paying_without_enough_balance_is_refused_with_a_message(api, driver, purchase):
    response = api.post(f"/api/v1/purchases/{purchase.pk}/pay", {"option": "EVM"}, format="json")
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_balance" and response.json()["message"]


def test_paying_by_invoice_answers_a_url_and_the_status_can_be_checked(api, purchase):
    response = api.post(f"/api/v1/purchases/{purchase.pk}/pay", {"option": "QPAY"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["option"] == "QPAY" and body["url"].startswith("http") and body["invoiceId"]
    status = api.post(f"/api/v1/purchases/{purchase.pk}/status", {"invoiceId": body["invoiceId"]}, format="json")
    assert status.status_code == 200
    assert status.json() == {"status": "pending", "amount": 3.5}


@pytest.mark.parametrize("body", [{}, {"option": ""}, {"option": ["EVM"]}, {"option": "BITCOIN"}])
def test_paying_with_a_bad_option_answers_400(api, purchase, body):
    response = api.post(f"/api/v1/purchases/{purchase.pk}/pay", body, format="json")
    assert response.status_code == 400 and response.json()["message"]


def test_an_unknown_invoice_answers_404(api, purchase):
    response = api.post(f"/api/v1/purchases/{purchase.pk}/status", {"invoiceId": "nope"}, format="json")
    assert response.status_code == 404


def test_feedback_is_stored(api, purchase):
    response = api.post(
        f"/api/v1/purchases/{purchase.pk}/feedback", {"feedback": {"score": 5, "description": "Fast"}}, format="json"
    )
    assert response.status_code == 200
    purchase.refresh_from_db()
    assert (purchase.feedback_score, purchase.feedback_text) == (5, "Fast")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"feedback": {}},
        {"feedback": {"score": 0}},
        {"feedback": {"score": 6}},
        {"feedback": {"score": "great"}},
        {"feedback": "5"},
        {"score": 5},
    ],
)
def test_bad_feedback_answers_400(api, purchase, body):
    response = api.post(f"/api/v1/purchases/{purchase.pk}/feedback", body, format="json")
    assert response.status_code == 400 and response.json()["message"]


@pytest.mark.parametrize(
    "action, body",
    [
        ("pay", {"option": "EVM"}),
        ("status", {"invoiceId": "x"}),
        ("feedback", {"feedback": {"score": 1}}),
    ],
)
def test_another_drivers_purchase_does_not_exist_for_me(api, driver, wallet_with, others_purchase, action, body):
    wallet_with(driver, "50.00")
    response = api.post(f"/api/v1/purchases/{others_purchase.pk}/{action}", body, format="json")
    assert response.status_code == 404
    others_purchase.refresh_from_db()
    assert others_purchase.status == Purchase.Status.OPEN and others_purchase.feedback_score is None


@pytest.mark.parametrize("purchase_id", ["999999", "abc", "12d76c8bfca2a22c07a6fca1", "²", "99999999999999999999999"])
def test_unknown_purchase_ids_answer_404(api, purchase_id):
    response = api.post(f"/api/v1/purchases/{purchase_id}/feedback", {"feedback": {"score": 1}}, format="json")
    assert response.status_code == 404


def test_the_list_shows_only_my_purchases_newest_first_with_pages(api, driver, others_purchase):
    mine = [PurchaseFactory(session__user=driver, user=driver) for _ in range(3)]
    response = api.get("/api/v1/purchases", {"page": 1, "page-size": 2})
    assert response.status_code == 200
    assert response["X-Total-Count"] == "3"
    assert [p["id"] for p in response.json()] == [str(mine[2].pk), str(mine[1].pk)]
    assert [p["id"] for p in api.get("/api/v1/purchases", {"page": 2, "page-size": 2}).json()] == [str(mine[0].pk)]
    assert api.get("/api/v1/purchases", {"page": 3, "page-size": 2}).json() == []
    item = api.get("/api/v1/purchases").json()[0]
    assert item["amount"] == 3.5 and item["deviceNumber"] and item["feedback"] is None


@pytest.mark.parametrize("params", [{"page": 0}, {"page": "x"}, {"page-size": 0}, {"page-size": 201}])
def test_bad_pages_answer_400(api, params):
    response = api.get("/api/v1/purchases", params)
    assert response.status_code == 400 and response.json()["message"]


# Issue 15, finding 8: the status of a purchase's payment, for that purchase only, never a 500.


@pytest.mark.parametrize("invoice_id", [str(2**63), "9" * 40, "²", "١٢", "0", "-1", " 7 "])
def test_a_status_for_an_impossible_invoice_id_answers_404_not_500(api, purchase, invoice_id):
    response = api.post(f"/api/v1/purchases/{purchase.pk}/status", {"invoiceId": invoice_id}, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["message"]


def test_a_status_for_an_invoice_of_another_purchase_is_not_answered(api, driver, purchase):
    paid_elsewhere = PurchaseFactory(session__user=driver, user=driver, total_price=Decimal("9.99"))
    invoice = api.post(f"/api/v1/purchases/{paid_elsewhere.pk}/pay", {"option": "QPAY"}, format="json").json()[
        "invoiceId"
    ]
    response = api.post(f"/api/v1/purchases/{purchase.pk}/status", {"invoiceId": invoice}, format="json")
    assert response.status_code == 404
    # By the purchase id as invoiceId (wallet payments) too.
    api.post(f"/api/v1/purchases/{paid_elsewhere.pk}/status", {"invoiceId": invoice}, format="json")
    response = api.post(f"/api/v1/purchases/{purchase.pk}/status", {"invoiceId": str(paid_elsewhere.pk)}, format="json")
    assert response.status_code == 404
    own = api.post(f"/api/v1/purchases/{paid_elsewhere.pk}/status", {"invoiceId": invoice}, format="json")
    assert own.status_code == 200 and own.json()["amount"] == 9.99
