"""Pushing changes to open consoles over socket.io (namespace /console).

Only a hint travels ("the queue changed", "conversation X has a new message");
the console then fetches what changed through the authenticated API, so
nothing is sent to a socket that the API would not show to that adviser.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import socketio
from anyio import to_thread

from bot.console.auth import Accounts

NAMESPACE = "/console"
ROOM = "advisers"
SESSION_COOKIE = "console_session"


class ConsoleLive:
    def __init__(self, sio: socketio.AsyncServer, accounts: Accounts) -> None:
        self.sio = sio
        self.accounts = accounts
        sio.on("connect", self.on_connect, namespace=NAMESPACE)

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
