from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import ApiKeyAuthentication, ApiKeyPrincipal
from accounts.models import AccessToken
from accounts.secrets import token_hash
from accounts.services import access_token_issue, access_token_revoke, api_key_create, api_key_revoke
from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db
ME = "/api/v1/user/me"


def test_a_bearer_token_authenticates_the_driver(driver):
    raw = access_token_issue(user=driver, kind=AccessToken.Kind.DRIVER)
    response = APIClient().post(ME, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["token"] == raw
    assert AccessToken.objects.get(key_hash=token_hash(raw)).last_used_at is not None


def test_the_token_keyword_works_too(driver):
    raw = access_token_issue(user=driver, kind=AccessToken.Kind.DRIVER)
    assert APIClient().post(ME, HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Bearer a b", "Basic Zm9vOmJhcg=="])
def test_missing_or_bad_tokens_get_401_with_a_message(header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    response = APIClient().post(ME, **kwargs)
    assert response.status_code == 401
    assert response.json()["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working(driver):
    raw = access_token_issue(user=driver, kind=AccessToken.Kind.DRIVER)
    access_token_revoke(token=AccessToken.objects.get(key_hash=token_hash(raw)))
    assert APIClient().post(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_an_expired_token_stops_working(driver):
    raw = access_token_issue(user=driver, kind=AccessToken.Kind.DRIVER, ttl=timedelta(seconds=1))
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert APIClient().post(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_logout_revokes_the_token_of_the_request(driver):
    raw = access_token_issue(user=driver, kind=AccessToken.Kind.DRIVER)
    client = APIClient()
    assert client.post("/api/v1/user/logout", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert client.post(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_a_home_automation_token_is_not_a_driver_login(driver):
    raw = access_token_issue(user=driver, kind=AccessToken.Kind.HOME_API)
    assert APIClient().post(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_a_disabled_driver_is_refused(driver):
    raw = access_token_issue(user=driver, kind=AccessToken.Kind.DRIVER)
    driver.is_active = False
    driver.save()
    assert APIClient().post(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_a_staff_user_with_a_token_is_not_a_driver(db):
    from tests.factories import StaffFactory

    staff = StaffFactory()
    raw = access_token_issue(user=staff, kind=AccessToken.Kind.DRIVER)
    assert APIClient().post(ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403


class _Request:
    def __init__(self, key=None):
        self.META = {"HTTP_X_API_KEY": key} if key else {}


def test_an_api_key_authenticates_as_its_operator():
    operator = OperatorFactory()
    key, raw = api_key_create(operator=operator, name="ci")
    user, auth = ApiKeyAuthentication().authenticate(_Request(raw))
    assert isinstance(user, ApiKeyPrincipal) and user.is_authenticated and user.operator == operator
    assert auth == key
    key.refresh_from_db()
    assert key.last_used_at is not None and key.key_hash != raw and raw.startswith(key.prefix)


def test_no_api_key_header_leaves_the_request_anonymous():
    assert ApiKeyAuthentication().authenticate(_Request()) is None


def test_unknown_and_revoked_api_keys_are_refused():
    from rest_framework.exceptions import AuthenticationFailed

    key, raw = api_key_create(operator=OperatorFactory(), name="ci")
    with pytest.raises(AuthenticationFailed):
        ApiKeyAuthentication().authenticate(_Request("csk_unknown"))
    api_key_revoke(api_key=key)
    with pytest.raises(AuthenticationFailed):
        ApiKeyAuthentication().authenticate(_Request(raw))
