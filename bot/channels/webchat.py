"""Web chat over socket.io, speaking the protocol of Rasa's SocketIO channel so
that existing Rasa web chat widgets (rasa-webchat 1.0.1) work unchanged:

client `session_request {session_id}` -> server `session_confirm <session_id>`
client `user_uttered {message, session_id, customData}` -> server `bot_uttered`
(`text`, `quick_replies`, `attachment`, or a custom payload as is).

Additions for our widget (other widgets ignore them): `metadata.feedback` /
`metadata.rating` with the message id on answers that ask for 👍/👎 or a 1-5
rating, and the client events `feedback {message_id, value: 1|-1}` and
`rating {message_id, value: 1..5}`; `metadata.handoff` on every message the
gateway sends (and on the last item of the history): "waiting",
"with_adviser" or "none", so that the widget shows the "End the chat" bar for
as long as a handoff lasts; the client event `greet {language_hints}`, sent
when the widget opens on a new conversation: the assistant's greeting and
topic menu (router.GREETING_PAYLOAD, the only payload a client can ask for
this way, and only while the conversation has no messages); and
`customData.language_hints` (the browser's languages, at most 10) beside
`customData.language`; `metadata.links` (URL -> short title, bot/link_titles.py)
on answers whose links the link map knows.

Differences that matter for safety: session ids are issued by the server
(unguessable, 32 random bytes); a client's id is accepted only if the store
knows it, the conversation has not been ended and it was active within
`webchat_session_idle_hours`, so a reload restores the conversation from the
database and a shared computer does not keep it for ever. Our own widget also
gets an extra `history` event and a `metadata` key on each message (language
and script direction); Rasa widgets ignore both. The client event
`end_session` ("end and forget") ends the conversation (and a handoff in
progress) and answers with a new session.

Limits (bot/limits.py), keyed on the client address behind the trusted
proxies: new sessions per client address, messages per client address over
all its sessions, and (in the router) messages per conversation. Turns of one
session are handled one at a time, in order.

Several gateways (bot/shared/): with REDIS_URL the server's rooms go through Redis
(python-socketio's AsyncRedisManager), so an emit to a session's room (an adviser's
message, a handoff event, a reply) reaches that session's tabs on every gateway. The
socket.io connection id -> session map below stays in this process: a connection lives
on one gateway (the proxy routes every request of a client to the same one), and after
a reconnect the client asks for its session again. Turns of one session are one at a
time across gateways too (bot/shared/locks.py), for two tabs that reached two gateways.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

import socketio
from anyio import to_thread

from bot.client_address import socketio_client_address
from bot.feedback import FeedbackService
from bot.handoff.service import WAITING, WITH_ADVISER
from bot.language.catalog import load_catalog
from bot.language.decision import normalise_tag
from bot.link_titles import link_titles
from bot.router import Reply, Router, Turn
from bot.shared.locks import TurnLocks
from bot.store.models import as_utc, utcnow
from bot.texts import text as localized

log = logging.getLogger(__name__)
CHANNEL = "webchat"
HISTORY_LIMIT = 200
NO_HANDOFF = "none"


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def message_metadata(language: str | None) -> dict[str, str]:
    catalog = load_catalog()
    code = language or catalog.default
    return {"language": code, "direction": catalog.direction(code)}


def bot_uttered(reply: Reply) -> list[dict[str, Any]]:
    """One reply as the events Rasa's SocketIO channel would emit."""
    meta: dict[str, Any] = message_metadata(reply.language)
    if reply.sender != "bot":
        meta = {**meta, "sender": reply.sender, "sender_name": reply.sender_name}
    if reply.message_id and reply.asks_feedback:
        meta = {**meta, "feedback": {"message_id": reply.message_id}}
    if reply.message_id and reply.asks_rating:
        meta = {**meta, "rating": {"message_id": reply.message_id}}
    titles = link_titles(reply.text, reply.language) if reply.sender == "bot" else {}
    if titles:  # the widget shows "Kela: Unemployment" for the URL
        meta = {**meta, "links": titles}
    events: list[dict[str, Any]] = []
    if reply.text is not None or reply.buttons:
        event: dict[str, Any] = {"text": reply.text or "", "metadata": meta}
        if reply.buttons:
            event["quick_replies"] = [
                {"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in reply.buttons
            ]
        events.append(event)
    if reply.image:
        events.append({"attachment": {"type": "image", "payload": {"src": reply.image}}, "metadata": meta})
    if reply.custom is not None:
        events.append({**reply.custom, "metadata": meta})
    return events


def handoff_state(state: str | None) -> str:
    """What the widget's handoff bar shows (from the conversation's state): waiting, with_adviser or none."""
    return state if state in (WAITING, WITH_ADVISER) else NO_HANDOFF


def with_metadata(events: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    return [{**event, "metadata": {**event.get("metadata", {}), **extra}} for event in events]


def language_hints(data: Any) -> list[str] | None:
    """The client's `language_hints` list as sent (the router validates each)."""
    hints = data.get("language_hints") if isinstance(data, dict) else None
    return hints if isinstance(hints, list) else None


def request_language(data: Any) -> str:
    """The language to answer a session request in, before there is a conversation:
    the first supported one of the widget's hints, else the default."""
    catalog = load_catalog()
    hints = data.get("language_hints") if isinstance(data, dict) else None
    for hint in (hints if isinstance(hints, list) else [])[:10]:
        code = normalise_tag(hint)
        if catalog.is_supported(code):
            return code
    return catalog.default


class WebChat:
    def __init__(self, router: Router, feedback: FeedbackService | None = None, *,
                 session_idle_hours: float = 24.0, client_manager: socketio.AsyncManager | None = None,
                 turn_locks: TurnLocks | None = None) -> None:
        """`client_manager`: socket.io's rooms shared through Redis (None: this process's own);
        `turn_locks`: one turn at a time per session (two tabs, a double click), across gateways
        when they share Redis."""
        self.router = router
        self.feedback = feedback
        self.session_idle = timedelta(hours=session_idle_hours)
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", max_http_buffer_size=64_000,
                                        client_manager=client_manager)
        # socket.io connection id -> session id, and -> client address (for the per-client limits)
        self._sessions: dict[str, str] = {}
        self._clients: dict[str, str] = {}
        self.turn_locks = turn_locks or TurnLocks()
        self.sio.on("connect", self.on_connect)
        self.sio.on("disconnect", self.on_disconnect)
        self.sio.on("session_request", self.on_session_request)
        self.sio.on("user_uttered", self.on_user_uttered)
        self.sio.on("end_session", self.on_end_session)
        self.sio.on("greet", self.on_greet)
        self.sio.on("feedback", self.on_feedback)
        self.sio.on("rating", self.on_rating)
        router.outbox[CHANNEL] = self.deliver

    async def deliver(self, session_id: str, replies: list[Reply]) -> None:
        """Messages outside a user turn (an adviser's, handoff events) to every open tab of the session."""
        await self._emit_replies(session_id, replies)

    async def _emit_replies(self, session_id: str, replies: list[Reply], state: str | None = None,
                            *, turn_end: bool = False, **metadata: Any) -> None:
        """Replies as `bot_uttered` events, each with the conversation's handoff state after them
        (`state`, when the turn knows it; else read from the store). With `turn_end`, the last
        event of a user's turn says so (`metadata.turn_end`), so that a client knows the turn's
        answer is complete without waiting for silence."""
        if not replies:
            return
        try:
            if state is None:
                conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, session_id)
                state = conversation.state if conversation is not None else None
            metadata["handoff"] = handoff_state(state)
        except Exception:  # noqa: BLE001 - the database is down: the replies (e.g. "it failed") still go
            log.warning("no handoff state for session replies (database unavailable)")
        events = [event for reply in replies for event in with_metadata(bot_uttered(reply), **metadata)]
        if turn_end and events:
            events[-1] = with_metadata(events[-1:], turn_end=True)[0]
        for event in events:
            await self.sio.emit("bot_uttered", event, room=session_id)

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        self._clients[sid] = socketio_client_address(environ)

    async def on_disconnect(self, sid: str, *args: Any) -> None:
        session_id = self._sessions.pop(sid, None)
        self._clients.pop(sid, None)
        # Gone for the advisers' console when the last tab of the session (on this process) closes.
        if session_id is not None and session_id not in self._sessions.values():
            await to_thread.run_sync(self.router.store.mark_client, CHANNEL, session_id, "disconnected")

    async def on_session_request(self, sid: str, data: Any = None) -> None:
        requested = data.get("session_id") if isinstance(data, dict) else None
        session_id = requested if await self._restorable(requested) else None
        if session_id is None:
            if not await self.router.limits.hit("client_sessions", self._clients.get(sid, "unknown")):
                # No new session: the client is told why (in the widget's language) and may ask again later.
                language = request_language(data)
                await self.sio.emit("bot_uttered", {"text": localized(language, "gateway.rate_limited"),
                                                    "metadata": {**message_metadata(language), "turn_end": True}},
                                    room=sid, ignore_queue=True)
                return
            session_id = new_session_id()
        await self._confirm(sid, session_id)

    async def _confirm(self, sid: str, session_id: str) -> None:
        previous = self._sessions.get(sid)
        if previous and previous != session_id:
            await self.sio.leave_room(sid, previous)
        self._sessions[sid] = session_id
        await to_thread.run_sync(self.router.store.mark_client, CHANNEL, session_id, "connected")
        # Awaited: Rasa 3.6.21's own channel forgets to, and replies get lost.
        await self.sio.enter_room(sid, session_id)
        # To this connection, which is on this gateway: not through Redis.
        await self.sio.emit("session_confirm", session_id, room=sid, ignore_queue=True)
        await self.sio.emit("history", await self._history(session_id), room=sid, ignore_queue=True)

    async def _restorable(self, session_id: Any) -> bool:
        """A session id the store knows, whose conversation was not ended and is not idle too long."""
        if not (isinstance(session_id, str) and 20 <= len(session_id) <= 128):
            return False
        conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, session_id)
        if conversation is None or conversation.ended_at is not None:
            return False
        last = await to_thread.run_sync(self.router.store.last_activity, conversation.id)
        return utcnow() - as_utc(last) <= self.session_idle

    async def on_end_session(self, sid: str, data: Any = None) -> None:
        """The widget's "end and forget" (a shared computer): the conversation ends, any handoff with it,
        and this tab gets a new, empty session."""
        session_id = self._sessions.get(sid)
        if session_id is None:
            return
        async with self._turn_lock(session_id):
            conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, session_id)
            if conversation is not None:
                if self.router.handoff is not None:
                    await self.router.handoff.end_for_user(conversation.id)
                await to_thread.run_sync(self.router.store.end_conversation, conversation.id)
            # Other tabs of the same session start afresh too (this one gets its new session below).
            await self.sio.emit("session_ended", {}, room=session_id, skip_sid=sid)
        await self._confirm(sid, new_session_id())

    async def _history(self, session_id: str) -> list[dict[str, Any]]:
        conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, session_id)
        if conversation is None:
            return []
        messages = await to_thread.run_sync(self.router.store.history, conversation.id, HISTORY_LIMIT)
        out: list[dict[str, Any]] = []
        for m in messages:
            if m.status == "refused" and m.direction == "in":
                continue  # an empty or over-long message: only its length was kept
            if m.direction == "in":
                out.append({"sender": "user", "text": m.text or "", "metadata": message_metadata(m.language)})
                continue
            payload = m.payload or {}
            reply = Reply(text=m.text, buttons=payload.get("buttons", []), custom=payload.get("custom"),
                          image=payload.get("image"), language=m.language,
                          sender="adviser" if m.sender == "adviser" else "bot", sender_name=payload.get("adviser"))
            if isinstance(reply.custom, dict) and "handoff" in reply.custom:
                reply.custom = None
            given = payload.get("feedback_given") or []
            reply.message_id = m.id
            reply.asks_feedback = bool(payload.get("asks_feedback")) and "answer" not in given
            reply.asks_rating = bool(payload.get("asks_rating")) and "rating" not in given
            out.extend({"sender": m.sender, **event} for event in bot_uttered(reply))
        if out:  # the state now, for the widget to restore its handoff bar after a reload
            out[-1:] = with_metadata(out[-1:], handoff=handoff_state(conversation.state))
        return out

    async def on_feedback(self, sid: str, data: Any = None) -> None:
        await self._give(sid, data, "answer")

    async def on_rating(self, sid: str, data: Any = None) -> None:
        await self._give(sid, data, "rating")

    async def _give(self, sid: str, data: Any, kind: str) -> None:
        session_id = self._sessions.get(sid)
        if session_id is None or self.feedback is None or not isinstance(data, dict):
            return
        reply = await self.feedback.give(CHANNEL, session_id, data.get("message_id"), kind, data.get("value"))
        if reply is not None:
            await self._emit_replies(session_id, [reply])

    def _turn_lock(self, session_id: str):  # noqa: ANN202 - an async context manager
        return self.turn_locks.hold(f"{CHANNEL}:{session_id}")

    async def on_user_uttered(self, sid: str, data: Any = None) -> None:
        session_id = self._sessions.get(sid)
        # rasa-webchat emits user_uttered without a message when its window opens: nothing to answer.
        if session_id is None or not isinstance(data, dict) or data.get("message") is None:
            return
        custom = data.get("customData") if isinstance(data.get("customData"), dict) else {}
        async with self._turn_lock(session_id):
            turn = await self.router.handle(
                CHANNEL,
                session_id,
                data.get("message"),
                language_hint=custom.get("language"),
                language_hints=language_hints(custom),
                language_choice=custom.get("language_choice"),
                client=self._clients.get(sid, "unknown"),
            )
            await self._send(session_id, turn)
        await turn.finish()

    async def on_greet(self, sid: str, data: Any = None) -> None:
        """The widget opened on a new conversation: the assistant greets and shows its topic menu,
        in the first supported language of the browser's (only while the conversation is empty)."""
        session_id = self._sessions.get(sid)
        if session_id is None:
            return
        hint = data.get("language") if isinstance(data, dict) else None
        async with self._turn_lock(session_id):
            turn = await self.router.greet(CHANNEL, session_id, language_hint=hint, language_hints=language_hints(data),
                                           client=self._clients.get(sid, "unknown"))
            # Marked, so that the widget keeps the greeting above anything typed meanwhile.
            await self._emit_replies(session_id, turn.replies, turn.state, greeting=True)

    async def _send(self, session_id: str, turn: Turn) -> None:
        await self._emit_replies(session_id, turn.replies, turn.state, turn_end=True)
