"""A Content-Security-Policy with no inline script, and Swagger UI served from the project
(drf-spectacular-sidecar) instead of a CDN's @latest (issue 16, finding 5)."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def _inline_scripts(html: str) -> list[str]:
    """Executable <script> elements without src (JSON data blocks are not executed)."""
    return [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag and "application/json" not in tag]


@pytest.mark.parametrize("url", ["/", "/map/", "/chargers/", "/admin/", "/api/docs/", "/accounts/login/"])
def test_every_page_sends_a_policy_without_inline_script_and_has_none(client, url):
    if url != "/accounts/login/":
        client.force_login(StaffFactory(is_superuser=True))
    response = client.get(url)
    assert response.status_code == 200
    directives = _directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert _inline_scripts(response.content.decode()) == []


def test_swagger_ui_comes_from_our_static_files_not_a_cdn(client):
    html = client.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr.net" not in html and "@latest" not in html
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in src for src in scripts)
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_the_klarna_page_allows_klarnas_script_and_nothing_inline(client, settings):
    from payments.models import Payment, Provider
    from tests.factories import DriverFactory

    payment = Payment.objects.create(
        user=DriverFactory(),
        provider=Provider.KLARNA,
        amount="10.00",
        currency="SEK",
        status="pending",
        idempotency_key="csp-klarna-1",
        client_token="tok",
        purpose=Payment.Purpose.TOP_UP,
    )
    response = client.get(f"/payments/klarna/{payment.public_id}/")
    assert response.status_code == 200
    directives = _directives(response)
    assert "https://x.klarnacdn.net" in directives["script-src"] and "'unsafe-inline'" not in directives["script-src"]
    assert _inline_scripts(response.content.decode()) == []
