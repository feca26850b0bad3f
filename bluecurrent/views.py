"""The driver's pages of the home-automation API: a phone-code login and the page where a
driver creates and revokes API tokens.

Drivers have no password: the login sends a code by SMS and checks it with the same
services, codes and limits as the driver app's OTP login (accounts.services.otp_request and
otp_verify), then opens a Django session for the token page.
"""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as accounts
from accounts.errors import DomainError, InvalidRequest, NotAllowed, RateLimited, Unavailable, UpstreamFailed
from accounts.network import client_address
from bluecurrent import tokens

# The backend that logs a driver in once the code matched (no password is involved).
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"
CODE_MAX_LENGTH = 12


def _client_ip(request: HttpRequest) -> str | None:
    return client_address(peer=request.META.get("REMOTE_ADDR"), forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"))


def _status_of(error: DomainError) -> int:
    """The page's one mapping of the domain's error kinds to HTTP statuses."""
    if isinstance(error, RateLimited):
        return 429
    if isinstance(error, NotAllowed):
        return 403
    if isinstance(error, Unavailable):
        return 503
    if isinstance(error, UpstreamFailed):
        return 502
    return 400


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return reverse("bluecurrent:tokens")


@require_http_methods(["GET", "POST"])
def driver_login(request: HttpRequest) -> HttpResponse:
    """Step 1 (action "send"): the phone number, a code goes out by SMS. Step 2 (action
    "check"): the code; a match logs the driver in and goes on to `next`."""
    context = {"next": _next_url(request), "phone": request.POST.get("phone", "").strip(), "step": "phone"}
    if request.method == "GET":
        return render(request, "bluecurrent/login.html", context)
    action = request.POST.get("action")
    try:
        if action == "check":
            context["step"] = "code"
            code = request.POST.get("code", "").strip()
            if not code or len(code) > CODE_MAX_LENGTH:
                raise InvalidRequest("Enter the code from the SMS.", code="invalid_code")
            user = accounts.otp_verify(phone=context["phone"], code=code, client_ip=_client_ip(request))
            login(request, user, backend=SESSION_BACKEND)
            return redirect(context["next"])
        accounts.otp_request(phone=context["phone"], client_ip=_client_ip(request))
        context["step"] = "code"
        return render(request, "bluecurrent/login.html", context)
    except DomainError as error:
        context["error"] = error.message
        response = render(request, "bluecurrent/login.html", context, status=_status_of(error))
        if error.retry_after:
            response["Retry-After"] = str(error.retry_after)
        return response


@require_POST
def driver_logout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("bluecurrent:login")


@login_required(login_url="bluecurrent:login")
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    new_token = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            try:
                tokens.api_token_revoke(user=request.user, token_id=int(request.POST.get("token_id", "")))
            except ValueError:
                pass
            return redirect(request.path)
        new_token = tokens.api_token_create(
            user=request.user, name=request.POST.get("name", "").strip() or "Home Assistant"
        )
    context = {"tokens": tokens.api_token_list(user=request.user), "new_token": new_token}
    return render(request, "bluecurrent/tokens.html", context)
