"""A web chat user for tests: python-socketio's client speaking the Rasa
SocketIO protocol to the gateway."""

from __future__ import annotations

import time

import socketio


class ChatClient:
    """A web chat user, with python-socketio's client over the polling transport
    (the websocket transport needs a newer aiohttp than Rasa allows)."""

    def __init__(self, url: str, session_id: str | None = None, *, headers: dict[str, str] | None = None,
                 confirm: bool = True) -> None:
        """`headers` go with every request (e.g. X-Forwarded-For through the trusted proxy);
        with `confirm=False` the session is requested but not waited for (it may be refused)."""
        self.events: list[tuple[str, object]] = []
        self.sio = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "history", "session_ended"):
            self.sio.on(name, lambda data=None, name=name: self.events.append((name, data)))
        self.sio.connect(url, transports=["polling"], socketio_path="socket.io", headers=headers or {})
        self.sio.emit("session_request", {"session_id": session_id})
        self.session_id = self.wait_for("session_confirm") if confirm else None

    def wait_for(self, name: str, timeout: float = 60.0, after: int = 0) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event, data in self.events[after:]:
                if event == name:
                    return data
            time.sleep(0.05)
        raise TimeoutError(f"no {name} event")

    def wait_for_any(self, names: tuple[str, ...], timeout: float = 60.0, after: int = 0) -> tuple[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event, data in self.events[after:]:
                if event in names:
                    return event, data
            time.sleep(0.05)
        raise TimeoutError(f"none of {names}")

    def replies_after(self, start: int, wait: float = 3.0) -> list[dict]:
        """Whatever the gateway sent after event `start` within `wait` seconds (maybe nothing)."""
        time.sleep(wait)
        return [data for event, data in self.events[start:] if event == "bot_uttered"]

    def say(self, text: str, timeout: float = 60.0, **custom: str) -> list[dict]:
        start = len(self.events)
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id, "customData": custom})
        self.wait_for("bot_uttered", timeout, after=start)
        # The rest of the turn's messages: wait until the channel has been quiet for a while.
        seen, quiet_since = len(self.events), time.monotonic()
        while time.monotonic() - quiet_since < 1.5:
            time.sleep(0.1)
            if len(self.events) != seen:
                seen, quiet_since = len(self.events), time.monotonic()
        return [data for event, data in self.events[start:] if event == "bot_uttered"]

    def send(self, text: str, **custom: str) -> int:
        """Send without waiting for an answer (to an adviser nothing comes back at once)."""
        start = len(self.events)
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id, "customData": custom})
        return start

    def wait_for_text(self, fragment: str, timeout: float = 60.0, after: int = 0) -> dict:
        """The first message from the gateway after `after` whose text contains `fragment`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event, data in self.events[after:]:
                if event == "bot_uttered" and fragment in (data.get("text") or ""):
                    return data
            time.sleep(0.05)
        raise TimeoutError(f"no message with {fragment!r}; got {self.texts(after)}")

    def texts(self, after: int = 0) -> list[str]:
        return [data.get("text") or "" for event, data in self.events[after:] if event == "bot_uttered"]

    def close(self) -> None:
        # abort: don't wait for the pending long-poll request to time out (the server's ping interval).
        self.sio.eio.disconnect(abort=True)
