"""A local fake of Telegram's Bot API, for testing the Telegram channel with the real
python-telegram-bot client.

It serves POST /bot<token>/<method> on 127.0.0.1 (Starlette + uvicorn in a thread),
answers the methods the channel and PTB use (getMe, getUpdates with long polling
and offsets, sendMessage, sendPhoto, sendChatAction, answerCallbackQuery,
editMessageReplyMarkup, deleteWebhook, setWebhook, getWebhookInfo, setMyCommands,
deleteMyCommands, close, logOut), records every call, and can answer the next
calls of a method with an error (429 with retry_after, or a 500). Unknown methods
get Telegram's 404 and are recorded in `unknown_methods`.

Several gateways can share one fake: each is given its own API address,
`api_url("a")` (`/a/bot<token>/...`), and every call records its `caller`. Like
Telegram, the fake allows one long poll at a time per bot: a getUpdates from
another caller while one is open is answered 409 Conflict (and recorded as such);
`polls` lists each getUpdates with its caller, start and end (a poll ends early when
its client goes away).

Tests inject updates from users: `send_text`, `send_command`, `press` (a callback
query on a message the bot sent), `send_voice`, `send_photo`, `send_sticker`,
`send_location`, and wait for the bot's messages with a deadline (`wait_for`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.helpers import free_port, wait_until

T = TypeVar("T")

# Parameters PTB sends JSON-encoded inside form fields.
JSON_FIELDS = {
    "reply_markup", "allowed_updates", "commands", "scope", "entities", "link_preview_options",
    "reply_parameters", "caption_entities",
}
INT_FIELDS = {"chat_id", "offset", "limit", "timeout", "message_id", "max_connections"}
BOT_USER = {"id": 123, "is_bot": True, "first_name": "Espoo test bot", "username": "espoo_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass(frozen=True)
class TelegramUser:
    id: int
    language_code: str | None = "fi"
    first_name: str = "Testi"

    @property
    def chat_id(self) -> int:  # private chats have the user's id
        return self.id

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    caller: str = ""


@dataclass
class Poll:
    """One getUpdates request: who asked, and from when to when it was open."""

    caller: str
    started: float
    ended: float | None = None
    status: int = 200


@dataclass
class Sent:
    """A message the bot sent."""

    message_id: int
    chat_id: int
    text: str | None
    reply_markup: dict[str, Any] | None
    method: str = "sendMessage"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.message_id, "date": int(time.time()), "from": BOT_USER,
            "chat": {"id": self.chat_id, "type": "private", "first_name": "Testi"},
        }
        if self.text is not None:
            message["text"] = self.text
        if self.method == "sendPhoto":
            message["photo"] = [{"file_id": "photo1", "file_unique_id": "u1", "width": 10, "height": 10}]
        if self.reply_markup:
            message["reply_markup"] = self.reply_markup
        return message


class FakeTelegram:
    def __init__(self, token: str = "123:TEST") -> None:
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1000
        self._confirmed = 0  # updates below this id were confirmed by an offset
        self._failures: dict[str, deque[tuple[int, dict[str, Any]]]] = {}
        self.calls: list[Call] = []
        self.polls: list[Poll] = []
        self.sent: list[Sent] = []
        self.unknown_methods: list[str] = []
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self._closing = False
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- running ------------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                                Route("/{caller}/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="none",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-telegram", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Telegram server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._closing = True
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test controls ------------------------------------------------------------------------

    def api_url(self, caller: str) -> str:
        """The Bot API address for one gateway of several (TELEGRAM_API_URL): its calls carry `caller`."""
        return f"{self.url}/{caller}/bot"

    def fail_next(self, method: str, times: int = 1, *, retry_after: int | None = 1, status: int | None = None) -> None:
        """Answer the next `times` calls of `method` with 429 Too Many Requests (retry_after
        seconds), or with `status` (e.g. 500) when given."""
        if status is None:
            status = 429
            body = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after}}
        else:
            body = {"ok": False, "error_code": status, "description": "Internal Server Error"}
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend((status, body) for _ in range(times))

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def polls_of(self, caller: str | None = None) -> list[Poll]:
        with self._lock:
            return [p for p in self.polls if caller is None or p.caller == caller]

    def messages(self, chat_id: int | None = None, since: int = 0) -> list[Sent]:
        """Messages the bot sent (to one chat), from the `since`-th on."""
        with self._lock:
            found = [m for m in self.sent if chat_id is None or m.chat_id == chat_id]
        return found[since:]

    def count(self, chat_id: int) -> int:
        return len(self.messages(chat_id))

    def wait_for(self, condition: Callable[[], T], timeout: float = 60.0, what: str = "condition") -> T:
        try:
            return wait_until(condition, timeout, what, interval=0.05)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; sent: "
                                 f"{[(m.chat_id, (m.text or '')[:60]) for m in self.messages()][-10:]}") from None

    def wait_for_message(
        self, chat_id: int, matches: Callable[[Sent], bool], since: int = 0, timeout: float = 60.0,
        what: str = "a message",
    ) -> Sent:
        return self.wait_for(
            lambda: next((m for m in self.messages(chat_id, since) if matches(m)), None), timeout, what
        )

    def wait_for_text(self, chat_id: int, fragment: str, since: int = 0, timeout: float = 60.0) -> Sent:
        return self.wait_for_message(chat_id, lambda m: fragment in (m.text or ""), since, timeout, repr(fragment))

    # --- injecting updates --------------------------------------------------------------------

    def _queue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            update = {"update_id": self._next_update_id, kind: payload}
            self._next_update_id += 1
            self._updates.append(update)
        return update

    def _message(self, user: TelegramUser, **content: Any) -> dict[str, Any]:
        with self._lock:
            message_id = self._next_message_id
            self._next_message_id += 1
        return {"message_id": message_id, "date": int(time.time()), "from": user.as_dict(), "chat": user.chat(),
                **content}

    def send_text(self, user: TelegramUser, text: str) -> dict[str, Any]:
        return self._queue("message", self._message(user, text=text))

    def send_command(self, user: TelegramUser, command: str) -> dict[str, Any]:
        command = command if command.startswith("/") else "/" + command
        length = len(command.split()[0])
        return self._queue("message", self._message(
            user, text=command, entities=[{"type": "bot_command", "offset": 0, "length": length}]
        ))

    def press(self, user: TelegramUser, message: Sent, callback_data: str) -> dict[str, Any]:
        """The user presses a button of `message` (any callback data can be forged, as in reality)."""
        with self._lock:
            query_id = str(self._next_update_id * 7919)
        return self._queue("callback_query", {
            "id": query_id, "from": user.as_dict(), "chat_instance": f"ci{user.id}",
            "message": message.as_message(), "data": callback_data,
        })

    def send_voice(self, user: TelegramUser) -> dict[str, Any]:
        return self._queue("message", self._message(user, voice={
            "file_id": "voice1", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"}))

    def send_photo(self, user: TelegramUser) -> dict[str, Any]:
        return self._queue("message", self._message(user, photo=[
            {"file_id": "photo1", "file_unique_id": "p1", "width": 90, "height": 90}]))

    def send_sticker(self, user: TelegramUser) -> dict[str, Any]:
        return self._queue("message", self._message(user, sticker={
            "file_id": "sticker1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False}))

    def send_location(self, user: TelegramUser) -> dict[str, Any]:
        return self._queue("message", self._message(user, location={"latitude": 60.2055, "longitude": 24.6559}))

    def update_json(self, update: dict[str, Any]) -> bytes:
        return json.dumps(update).encode()

    def take_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Remove a queued update (to deliver it another way, e.g. through a webhook)."""
        with self._lock:
            self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
        return update

    # --- the Bot API --------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        caller = request.path_params.get("caller", "")
        params = await self._params(request)
        if request.path_params["token"] != self.token:
            self._record(method, params, 401, caller)
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        with self._lock:
            failures = self._failures.get(method)
            failure = failures.popleft() if failures else None
        if failure:
            status, body = failure
            self._record(method, params, status, caller)
            return JSONResponse(body, status_code=status)
        if method == "getUpdates":
            return await self._poll(params, caller, request)
        self._record(method, params, 200, caller)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            with self._lock:
                self.unknown_methods.append(method)
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        return JSONResponse({"ok": True, "result": result})

    async def _poll(self, params: dict[str, Any], caller: str, request: Request) -> JSONResponse:
        """getUpdates: one long poll at a time per bot, as at Telegram (another caller's gets 409)."""
        poll = Poll(caller, time.monotonic())
        with self._lock:
            busy = any(p.ended is None and p.caller != caller for p in self.polls)
            if busy:
                poll.status, poll.ended = 409, poll.started
            self.polls.append(poll)
        self._record("getUpdates", params, poll.status, caller)
        if busy:
            return JSONResponse({"ok": False, "error_code": 409, "description": "Conflict: terminated by other "
                                 "getUpdates request; make sure that only one bot instance is running"},
                                status_code=409)
        try:
            result = await self._api_getUpdates(params, request)
        finally:
            with self._lock:
                poll.ended = time.monotonic()
        return JSONResponse({"ok": True, "result": result})

    @staticmethod
    async def _params(request: Request) -> dict[str, Any]:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if not body:
            raw: dict[str, Any] = dict(request.query_params)
        elif "json" in content_type:
            raw = json.loads(body)
        elif "multipart" in content_type:
            raise NotImplementedError("the fake does not accept file uploads")
        else:
            raw = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and key in JSON_FIELDS:
                value = json.loads(value)
            elif isinstance(value, str) and key in INT_FIELDS:
                try:
                    value = int(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    def _record(self, method: str, params: dict[str, Any], status: int, caller: str = "") -> None:
        with self._lock:
            self.calls.append(Call(method, params, time.monotonic(), status, caller))

    def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return BOT_USER

    async def _api_getUpdates(self, params: dict[str, Any], request: Request) -> list[dict[str, Any]]:  # noqa: N802
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            with self._lock:
                if offset:
                    self._confirmed = max(self._confirmed, offset)
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                pending = [u for u in self._updates if u["update_id"] >= self._confirmed]
            if pending or time.monotonic() >= deadline or self._closing or await request.is_disconnected():
                return pending[:100]
            await asyncio.sleep(0.05)

    def _sent(self, method: str, params: dict[str, Any], text: str | None) -> dict[str, Any]:
        with self._lock:
            message = Sent(self._next_message_id, int(params["chat_id"]), text, params.get("reply_markup"), method,
                           params)
            self._next_message_id += 1
            self.sent.append(message)
        return message.as_message()

    def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._sent("sendMessage", params, params.get("text"))

    def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._sent("sendPhoto", params, params.get("caption"))

    def _api_sendChatAction(self, params: dict[str, Any]) -> bool:  # noqa: N802
        return True

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:  # noqa: N802
        return True

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any] | bool:  # noqa: N802
        with self._lock:
            for message in self.sent:
                if message.message_id == params.get("message_id") and message.chat_id == params.get("chat_id"):
                    message.reply_markup = params.get("reply_markup")
                    return message.as_message()
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        with self._lock:
            self.webhook = {}
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        with self._lock:
            self.webhook = dict(params)
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        with self._lock:
            return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:  # noqa: N802
        with self._lock:
            self.commands[params.get("language_code")] = params.get("commands") or []
        return True

    def _api_deleteMyCommands(self, params: dict[str, Any]) -> bool:  # noqa: N802
        return True

    def _api_close(self, params: dict[str, Any]) -> bool:
        return True

    def _api_logOut(self, params: dict[str, Any]) -> bool:  # noqa: N802
        return True
