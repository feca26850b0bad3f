"""Staff login throttling (issue 16, finding 9): 25 wrong admin passwords in 6.6 s used to
meet no lock-out. django-axes locks a (user name, address) pair after LOGIN_FAILURE_LIMIT
failures, on the admin and the portal login; `manage.py axes_reset` lifts it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

LOGINS = ["/admin/login/", "/accounts/login/"]


def _login(client, url: str, password: str, address: str = "10.1.1.1"):
    return client.post(url, {"username": "alice", "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def alice(db):
    return StaffFactory(username="alice", is_staff=True)  # password "staff-password"


@pytest.mark.parametrize("url", LOGINS)
def test_wrong_passwords_lock_the_login_out(client, alice, url, settings):
    settings.AXES_FAILURE_LIMIT = 5
    answers = [_login(client, url, f"guess-{n}").status_code for n in range(25)]
    assert answers[:4] == [200] * 4  # the form again, with its error
    assert set(answers[5:]) == {429}
    # Locked: even the right password is refused from there...
    assert _login(client, url, "staff-password").status_code == 429
    # ...while alice logs in from elsewhere: a guesser cannot lock her out.
    assert _login(client, url, "staff-password", address="10.2.2.2").status_code == 302


def test_axes_reset_lifts_the_lock(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(4):
        _login(client, "/admin/login/", f"guess-{n}")
    assert _login(client, "/admin/login/", "staff-password").status_code == 429
    call_command("axes_reset")
    assert _login(client, "/admin/login/", "staff-password").status_code == 302


def test_a_success_resets_the_count(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        for n in range(2):
            assert _login(client, "/accounts/login/", f"guess-{n}").status_code == 200
        assert _login(client, "/accounts/login/", "staff-password").status_code == 302
        client.logout()


def test_the_lock_follows_the_trusted_proxy_address(client, alice, settings):
    settings.AXES_FAILURE_LIMIT, settings.TRUSTED_PROXY_COUNT = 3, 1
    for n in range(4):
        client.post(
            "/admin/login/",
            {"username": "alice", "password": f"guess-{n}"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 7.7.7.7",
        )  # the left part is the client's say
    assert (
        client.post(
            "/admin/login/",
            {"username": "alice", "password": "staff-password"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="1.1.1.1, 7.7.7.7",
        ).status_code
        == 429
    )
