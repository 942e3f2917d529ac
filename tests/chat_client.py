"""A web chat user for tests: python-socketio's client speaking the Rasa
SocketIO protocol to the gateway."""

from __future__ import annotations

import time

import requests
import socketio

# A turn whose last message is not marked: its messages have all come once the channel
# has been quiet this long.
QUIET_SECONDS = 1.5


def http_session(headers: dict[str, str] | None) -> requests.Session:
    """An HTTP session sending `headers` with every request of the long-polling transport
    (python-engineio sends a connect's own headers with the first request only)."""
    session = requests.Session()
    session.headers.update(headers or {})
    return session


class ChatClient:
    """A web chat user, with python-socketio's threaded client over the polling transport, the
    fallback a browser behind a WebSocket-blocking proxy uses (the browser tests speak the widget's
    WebSocket, and so do the bench's users: scripts/load_bench.py)."""

    def __init__(self, url: str, session_id: str | None = None, *, headers: dict[str, str] | None = None,
                 confirm: bool = True, reconnect: bool = False) -> None:
        """`headers` go with every request (e.g. X-Forwarded-For through the trusted proxy);
        with `confirm=False` the session is requested but not waited for (it may be refused);
        with `reconnect=True` a lost connection is made again and the session asked for
        again, as the widget does (a `reconnected` event marks the moment)."""
        self.events: list[tuple[str, object]] = []
        self.session_id: str | None = session_id
        self.sio = socketio.Client(reconnection=reconnect, reconnection_delay=0.5, reconnection_delay_max=2,
                                   http_session=http_session(headers))
        for name in ("session_confirm", "bot_uttered", "history", "session_ended"):
            self.sio.on(name, lambda data=None, name=name: self.events.append((name, data)))
        self.sio.on("connect", self._on_connect)
        self._connected_before = False
        self.sio.connect(url, transports=["polling"], socketio_path="socket.io", headers=headers or {})
        self._connected_before = True
        self.sio.emit("session_request", {"session_id": session_id})
        self.session_id = self.wait_for("session_confirm") if confirm else None

    def _on_connect(self) -> None:
        if self._connected_before:  # a reconnection: the widget asks for its session again
            self.events.append(("reconnected", None))
            self.sio.emit("session_request", {"session_id": self.session_id})

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
        # The rest of the turn's messages: up to the one marked as the turn's last
        # (metadata.turn_end); without one, until the channel has been quiet for a while.
        deadline = time.monotonic() + timeout
        seen, quiet_since = len(self.events), time.monotonic()
        while not self._turn_ended(start) and time.monotonic() < deadline:
            if time.monotonic() - quiet_since >= QUIET_SECONDS:
                break
            time.sleep(0.02)
            if len(self.events) != seen:
                seen, quiet_since = len(self.events), time.monotonic()
        return [data for event, data in self.events[start:] if event == "bot_uttered"]

    def _turn_ended(self, start: int) -> bool:
        return any(event == "bot_uttered" and (data.get("metadata") or {}).get("turn_end")
                   for event, data in self.events[start:])

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
