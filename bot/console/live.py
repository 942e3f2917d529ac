"""Pushing changes to open consoles over socket.io, on its own server at
/console/socket.io (so the session cookie, limited to /console, reaches it,
and only same-origin pages may connect: no CORS, unlike the widget's server).

Only a hint travels ("the queue changed", "conversation X has a new message");
the console then fetches what changed through the authenticated API, so
nothing is sent to a socket that the API would not show to that adviser.
With several gateways (REDIS_URL) the hints go through Redis, so an adviser
hears of a change whichever gateway made it.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import socketio
from anyio import to_thread

from bot.console.auth import Accounts

NAMESPACE = "/"
SOCKETIO_PATH = "console/socket.io"
ROOM = "advisers"
SESSION_COOKIE = "console_session"


class ConsoleLive:
    def __init__(self, accounts: Accounts, client_manager: socketio.AsyncManager | None = None) -> None:
        # cors_allowed_origins=None: python-socketio accepts only the gateway's own origin.
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=None, client_manager=client_manager)
        self.accounts = accounts
        self.sio.on("connect", self.on_connect, namespace=NAMESPACE)

    def asgi(self, other_app: object) -> socketio.ASGIApp:
        return socketio.ASGIApp(self.sio, other_asgi_app=other_app, socketio_path=SOCKETIO_PATH)

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> bool:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        token = cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else None
        signed_in = await to_thread.run_sync(self.accounts.session_of, token)
        if signed_in is None:
            return False
        await self.sio.enter_room(sid, ROOM, namespace=NAMESPACE)
        return True

    async def publish(self, kind: str, data: dict[str, Any]) -> None:
        await self.sio.emit("changed", {"kind": kind, **data}, room=ROOM, namespace=NAMESPACE)
