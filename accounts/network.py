"""The client's address behind a known number of reverse proxies.

Each proxy appends the address it received the request from to X-Forwarded-For, so only
the right-most TRUSTED_PROXY_COUNT entries were written by our own proxies; anything left
of them is whatever the client sent. With TRUSTED_PROXY_COUNT = 0 the header is ignored.
"""

from __future__ import annotations

from django.conf import settings


def client_address(*, peer: str | None, forwarded_for: str | None) -> str | None:
    """The address TRUSTED_PROXY_COUNT hops from the right of X-Forwarded-For (the last
    proxy's peer counts as one hop), or the socket's peer address without proxies."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0 or not forwarded_for:
        return peer or None
    chain = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    # Our last proxy is the peer; it appended the address it saw as the last entry.
    if len(chain) < hops:
        return chain[0] if chain else (peer or None)
    return chain[-hops]


def scope_client_address(scope: dict) -> str | None:
    """client_address() of an ASGI (WebSocket) scope."""
    peer = (scope.get("client") or [None])[0]
    forwarded = None
    for name, value in scope.get("headers") or []:
        if name.lower() == b"x-forwarded-for":
            forwarded = value.decode("latin-1") if forwarded is None else f"{forwarded},{value.decode('latin-1')}"
    return client_address(peer=peer, forwarded_for=forwarded)
