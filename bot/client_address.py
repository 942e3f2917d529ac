"""The client's address, the key of every per-client limit (web chat, console sign-in).

bot/app.py wraps the gateway in uvicorn's ProxyHeadersMiddleware with the
`forwarded_allow_ips` setting (FORWARDED_ALLOW_IPS, default 127.0.0.1 as in
uvicorn): when a request comes from one of those proxies, the ASGI scope's
`client` is already the address `X-Forwarded-For` names (the rightmost one
that is not itself a trusted proxy); from anyone else the header is ignored.
So here the address is only read, the same way for HTTP, websockets and
socket.io.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNKNOWN = "unknown"
# Longest key kept for an address (an IPv6 address with a zone fits).
MAX_ADDRESS_CHARS = 64


def client_address(scope: Mapping[str, Any]) -> str:
    """The client address of an ASGI scope (after the trusted proxies)."""
    client = scope.get("client")
    host = client[0] if client else None
    return str(host)[:MAX_ADDRESS_CHARS] if host else UNKNOWN


def socketio_client_address(environ: Mapping[str, Any]) -> str:
    """The same for a socket.io connection (python-socketio keeps the ASGI scope in its environ)."""
    scope = environ.get("asgi.scope")
    return client_address(scope) if isinstance(scope, Mapping) else UNKNOWN
