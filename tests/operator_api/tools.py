"""What an OCPP.Core client does against a live server, for the end-to-end tests."""

from __future__ import annotations

import asyncio

import requests


def http_base(ws_url: str) -> str:
    return ws_url.replace("ws://", "http://").split("/ocpp/")[0]


class OcppCoreTool:
    """What an OCPP.Core client does: GET /API/... with its X-API-Key."""

    def __init__(self, server: str, key: str | None) -> None:
        self.base = http_base(server)
        self.headers = {"X-API-Key": key} if key else {}

    async def get(self, path: str) -> requests.Response:
        return await asyncio.to_thread(requests.get, f"{self.base}/API/{path}", headers=self.headers, timeout=90)

    async def json(self, path: str, expected_status: int = 200):
        answer = await self.get(path)
        assert answer.status_code == expected_status, (answer.status_code, answer.text)
        return answer.json()


class OperatorTool:
    """What an operator's script does against /api/operator/ with its X-API-Key."""

    def __init__(self, server: str, key: str) -> None:
        self.base = f"{http_base(server)}/api/operator/"
        self.headers = {"X-API-Key": key}

    async def get(self, path: str, **params) -> requests.Response:
        return await asyncio.to_thread(requests.get, self.base + path, params=params, headers=self.headers, timeout=90)

    async def post(self, path: str, body: dict | None = None) -> requests.Response:
        return await asyncio.to_thread(
            requests.post, self.base + path, json=body or {}, headers=self.headers, timeout=90
        )
