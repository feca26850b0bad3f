"""Staff login throttling (django-axes) for the admin and portal login pages.

Failed logins are counted per (user name, client address); past LOGIN_FAILURE_LIMIT the
pair is locked for LOGIN_COOLOFF_MINUTES (429), so a guesser elsewhere cannot lock a staff
member out. `manage.py axes_reset` (or axes_reset_username / axes_reset_ip) lifts locks.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend

from accounts.network import client_address


def request_client_address(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the same proxy rule as every other client address."""
    return client_address(peer=request.META.get("REMOTE_ADDR"), forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"))


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check before the password backends. A login without a request (the test
    client's login(), the shell) has no address to count and is left to the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
