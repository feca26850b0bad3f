"""The page where a driver creates and revokes home-automation API tokens.

Login: Django session login (login_required). Drivers log in by phone OTP in the app and
there is no driver web login yet, so today this page serves drivers who have a session
(e.g. set up by an operator or a future OTP web login).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from bluecurrent import tokens


@login_required
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
