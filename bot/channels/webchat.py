"""Web chat over socket.io, speaking the protocol of Rasa's SocketIO channel so
that existing Rasa web chat widgets (rasa-webchat 1.0.1) work unchanged:

client `session_request {session_id}` -> server `session_confirm <session_id>`
client `user_uttered {message, session_id, customData}` -> server `bot_uttered`
(`text`, `quick_replies`, `attachment`, or a custom payload as is).

Additions for our widget (other widgets ignore them): `metadata.feedback` /
`metadata.rating` with the message id on answers that ask for 👍/👎 or a 1-5
rating, and the client events `feedback {message_id, value: 1|-1}` and
`rating {message_id, value: 1..5}`.

Differences that matter for safety: session ids are issued by the server
(unguessable, 32 random bytes); a client's id is accepted only if the store
knows it, so a reload restores the conversation from the database. Our own
widget also gets an extra `history` event and a `metadata` key on each
message (language and script direction); Rasa widgets ignore both.
"""

from __future__ import annotations

import secrets
from typing import Any

import socketio
from anyio import to_thread

from bot.feedback import FeedbackService
from bot.language.catalog import load_catalog
from bot.router import Reply, Router

CHANNEL = "webchat"
HISTORY_LIMIT = 200


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


class WebChat:
    def __init__(self, router: Router, feedback: FeedbackService | None = None) -> None:
        self.router = router
        self.feedback = feedback
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", max_http_buffer_size=64_000)
        self._sessions: dict[str, str] = {}
        self.sio.on("connect", self.on_connect)
        self.sio.on("disconnect", self.on_disconnect)
        self.sio.on("session_request", self.on_session_request)
        self.sio.on("user_uttered", self.on_user_uttered)
        self.sio.on("feedback", self.on_feedback)
        self.sio.on("rating", self.on_rating)
        router.outbox[CHANNEL] = self.deliver

    async def deliver(self, session_id: str, replies: list[Reply]) -> None:
        """Messages outside a user turn (an adviser's, handoff events) to every open tab of the session."""
        for reply in replies:
            for event in bot_uttered(reply):
                await self.sio.emit("bot_uttered", event, room=session_id)

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        return None

    async def on_disconnect(self, sid: str, *args: Any) -> None:
        self._sessions.pop(sid, None)

    async def on_session_request(self, sid: str, data: Any = None) -> None:
        requested = data.get("session_id") if isinstance(data, dict) else None
        session_id = None
        if isinstance(requested, str) and 20 <= len(requested) <= 128:
            if await to_thread.run_sync(self.router.store.find, CHANNEL, requested):
                session_id = requested
        session_id = session_id or new_session_id()
        self._sessions[sid] = session_id
        # Awaited: Rasa 3.6.21's own channel forgets to, and replies get lost.
        await self.sio.enter_room(sid, session_id)
        await self.sio.emit("session_confirm", session_id, room=sid)
        await self.sio.emit("history", await self._history(session_id), room=sid)

    async def _history(self, session_id: str) -> list[dict[str, Any]]:
        conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, session_id)
        if conversation is None:
            return []
        messages = await to_thread.run_sync(self.router.store.history, conversation.id, HISTORY_LIMIT)
        out = []
        for m in messages:
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
            for event in bot_uttered(reply):
                await self.sio.emit("bot_uttered", event, room=session_id)

    async def on_user_uttered(self, sid: str, data: Any = None) -> None:
        session_id = self._sessions.get(sid)
        # rasa-webchat emits user_uttered without a message when its window opens: nothing to answer.
        if session_id is None or not isinstance(data, dict) or data.get("message") is None:
            return
        custom = data.get("customData") if isinstance(data.get("customData"), dict) else {}
        turn = await self.router.handle(
            CHANNEL,
            session_id,
            data.get("message"),
            language_hint=custom.get("language"),
            language_choice=custom.get("language_choice"),
            language_hints=custom.get("language_hints"),
        )
        for reply in turn.replies:
            for event in bot_uttered(reply):
                await self.sio.emit("bot_uttered", event, room=session_id)
