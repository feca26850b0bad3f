"""API clients as drivers and operators hold them."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.models import AccessToken, ApiKey
from accounts.secrets import new_token, token_hash
from accounts.services import access_token_issue


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_issue(user=user, kind=AccessToken.Kind.DRIVER)}")
    return client


def make_api_key(operator, *, name: str = "tool") -> str:
    raw = new_token("op")
    ApiKey.objects.create(operator=operator, name=name, prefix=raw[:10], key_hash=token_hash(raw))
    return raw
