import pytest

pytestmark = pytest.mark.django_db


def test_replenish_answers_an_invoice_url_and_its_status(api):
    response = api.post("/api/v1/customer/replenish", {"amount": 10069, "option": "QPAY"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"option", "invoiceId", "url"} and body["option"] == "QPAY"
    for path in ("/api/v1/customer/replenishment/", "/api/v1/customer/replenishment"):
        status = api.post(path, {"invoiceId": body["invoiceId"]}, format="json")
        assert status.status_code == 200
        assert status.json() == {"status": "pending", "amount": 10069}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"amount": 10},
        {"amount": 0, "option": "QPAY"},
        {"amount": -5, "option": "QPAY"},
        {"amount": "ten", "option": "QPAY"},
        {"amount": 1.001, "option": "QPAY"},
        {"amount": 10, "option": "EVM"},
    ],
)
def test_replenish_refuses_bad_input(api, body):
    response = api.post("/api/v1/customer/replenish", body, format="json")
    assert response.status_code == 400 and response.json()["message"]


def test_a_top_up_of_another_driver_is_not_found(api, other_api):
    invoice = other_api.post("/api/v1/customer/replenish", {"amount": 5, "option": "QPAY"}, format="json").json()[
        "invoiceId"
    ]
    assert api.post("/api/v1/customer/replenishment/", {"invoiceId": invoice}, format="json").status_code == 404
