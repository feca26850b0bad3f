import pytest

from tests.factories import ChargeSessionFactory

pytestmark = pytest.mark.django_db


def test_me_answers_the_profile_with_the_wallet_balance(api, driver, wallet_with):
    wallet_with(driver, "12.50")
    profile = api.post("/api/v1/user/me").json()["profile"]
    assert profile == {"name": driver.name, "email": driver.email, "phone": driver.phone, "balance": 12.5}


def test_me_answers_the_device_of_the_active_session(api, driver, charge_point):
    ChargeSessionFactory(user=driver, connector=charge_point.connectors.get())
    device = api.post("/api/v1/user/me").json()["device"]
    assert device["_id"] == str(charge_point.pk)
    assert device["deviceNumber"] == charge_point.identity
    assert device["location"] == [4.895168, 52.370216]
    assert set(device) == {"_id", "deviceNumber", "location", "price", "waitingPrice"}


def test_me_is_a_post_as_in_the_seed(api):
    assert api.get("/api/v1/user/me").status_code == 405


def test_update_info_changes_name_and_email(api, driver):
    response = api.post("/api/v1/customer/update-info", {"name": "Bat", "email": "bat@example.mn"}, format="json")
    assert response.status_code == 200
    driver.refresh_from_db()
    assert (driver.name, driver.email) == ("Bat", "bat@example.mn")


@pytest.mark.parametrize(
    "body", [{}, {"name": "x"}, {"name": "x", "email": "not-an-email"}, {"name": "x" * 201, "email": ""}]
)
def test_update_info_refuses_bad_input(api, body):
    response = api.post("/api/v1/customer/update-info", body, format="json")
    assert response.status_code == 400 and response.json()["message"]


def test_update_notification_token_stores_the_fcm_token(api, driver):
    assert (
        api.post("/api/v1/customer/update-notification-token", {"FCMToken": "fcm-123"}, format="json").status_code
        == 200
    )
    driver.refresh_from_db()
    assert driver.notification_token == "fcm-123"
    assert api.post("/api/v1/customer/update-notification-token", {}, format="json").status_code == 400
