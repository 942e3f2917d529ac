"""The adviser console under /console: sign-in, the queue, chats, contact requests.

Pages are Jinja2 templates (bot/templates/console/) with one script
(bot/static/console/); everything else is
a JSON API. Every API route needs a signed-in session (401 otherwise), every
state-changing one also the session's CSRF token in the `X-CSRF-Token` header
or the `csrf_token` form field (403 otherwise). Acting on a chat needs it to
be the adviser's own (a claim, or a transfer to them); an admin may also take
over or requeue another adviser's chat.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from anyio import to_thread
from babel import Locale
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.client_address import client_address
from bot.console.auth import ROLES, UI_LANGUAGES, Accounts, SignedIn, Throttled
from bot.console.contacts import conversation as contact_conversation
from bot.console.contacts import questions as contact_questions
from bot.console.live import SESSION_COOKIE
from bot.console.presence import client_status
from bot.console.texts import Texts, console_text, console_texts
from bot.console.topics import catalogue, topic_titles
from bot.handoff.service import HandoffService
from bot.handoff.store import HandoffStore, HandoffView
from bot.language.catalog import load_catalog
from bot.store.client_presence import ClientTimes
from bot.store.models import Adviser, utcnow
from bot.store.repository import ConversationStore
from bot.templating import render

LOGIN_CSRF_COOKIE = "console_login_csrf"
# OWASP's device cookie: this browser signed in to the account before (bot/console/auth.py).
DEVICE_COOKIE = "console_device"
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONSOLE_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CHAT_ROLES = ("adviser", "admin")
ADMIN_ROLES = ("admin",)
# Every failed sign-in answers only after this pause (on top of the lock-out after repeated failures).
FAILED_SIGN_IN_PAUSE = 0.5
MAX_ADVISER_MESSAGE = 4000
TRANSCRIPT_LIMIT = 500

Handler = Callable[[Request, SignedIn], Awaitable[Response]]
FormHandler = Callable[[Request, SignedIn, FormData], Awaitable[Response]]


async def session_of(accounts: Accounts, request: Request) -> SignedIn | None:
    return await to_thread.run_sync(accounts.session_of, request.cookies.get(SESSION_COOKIE))


def form_action(
    accounts: Accounts, handler: FormHandler, roles: tuple[str, ...]
) -> Callable[[Request], Awaitable[Response]]:
    """A state-changing HTML form: a session (401), its CSRF token in the form field
    `csrf_token` (403), and one of `roles` (403)."""

    async def endpoint(request: Request) -> Response:
        signed_in = await session_of(accounts, request)
        if signed_in is None:
            return _json({"error": "unauthenticated"}, 401)
        form = await request.form()
        if not accounts.csrf_ok(signed_in, str(form.get("csrf_token") or "")):
            return _json({"error": "csrf"}, 403)
        if signed_in.adviser.role not in roles:
            return _json({"error": "forbidden"}, 403)
        return await handler(request, signed_in, form)

    return endpoint


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=SECURITY_HEADERS)


def language_label(code: str, ui: str) -> str:
    catalog = load_catalog()
    native = catalog.languages[code].native_name if code in catalog.languages else code
    try:
        name = Locale.parse(ui).languages.get(code) or code
    except (ValueError, LookupError):
        name = code
    return f"{name} ({native})" if name.lower() != native.lower() else name


class Console:
    def __init__(self, accounts: Accounts, handoffs: HandoffService, *, secure_cookies: bool) -> None:
        self.accounts = accounts
        self.handoffs = handoffs
        self.store: HandoffStore = handoffs.store
        self.conversations: ConversationStore = handoffs.conversations
        self.secure_cookies = secure_cookies
        self.catalog = load_catalog()

    def routes(self) -> list[Route]:
        api = self._api
        return [
            Route("/console", self.app_page),
            Route("/console/", self.app_page),
            Route("/console/login", self.login_page, methods=["GET"]),
            Route("/console/login", self.login, methods=["POST"]),
            Route("/console/logout", self._form(self.logout), methods=["POST"]),
            Route("/console/api/me", api(self.me)),
            Route("/console/api/queue", api(self.queue)),
            Route("/console/api/handoffs/{id:int}", api(self.transcript)),
            Route("/console/api/handoffs/{id:int}/claim", api(self.claim, write=True), methods=["POST"]),
            Route("/console/api/handoffs/{id:int}/messages", api(self.message, write=True), methods=["POST"]),
            Route("/console/api/handoffs/{id:int}/transfer", api(self.transfer, write=True), methods=["POST"]),
            Route("/console/api/handoffs/{id:int}/close", api(self.close, write=True), methods=["POST"]),
            Route("/console/api/handoffs/{id:int}/take-over", api(self.take_over, write=True, roles=ADMIN_ROLES),
                  methods=["POST"]),
            Route("/console/api/handoffs/{id:int}/requeue", api(self.requeue, write=True, roles=ADMIN_ROLES),
                  methods=["POST"]),
            Route("/console/api/contact-requests", api(self.contact_requests)),
            Route("/console/api/contact-requests/{id:int}/handled", api(self.contact_handled, write=True),
                  methods=["POST"]),
            Route("/console/api/contact-requests/{id:int}/conversation", api(self.contact_conversation)),
            Route("/console/api/presence", api(self.presence, write=True), methods=["POST"]),
            Route("/console/api/ui-language", api(self.ui_language, write=True), methods=["POST"]),
            Route("/console/api/password", api(self.password, write=True, roles=ROLES), methods=["POST"]),
        ]

    # --- sessions -------------------------------------------------------------

    async def _signed_in(self, request: Request) -> SignedIn | None:
        return await session_of(self.accounts, request)

    def _api(self, handler: Handler, write: bool = False,
             roles: tuple[str, ...] = CHAT_ROLES) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            signed_in = await self._signed_in(request)
            if signed_in is None:
                return _json({"error": "unauthenticated"}, 401)
            if write and not self.accounts.csrf_ok(signed_in, request.headers.get("x-csrf-token")):
                return _json({"error": "csrf"}, 403)
            if signed_in.adviser.role not in roles:
                return _json({"error": "forbidden"}, 403)
            return await handler(request, signed_in)

        return endpoint

    def _form(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return form_action(self.accounts, lambda request, signed_in, form: handler(request, signed_in), ROLES)

    def _cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/console", httponly=True, samesite="strict",
                            secure=self.secure_cookies)

    # --- pages ----------------------------------------------------------------

    async def login_page(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        ui = request.query_params.get("lang") if request.query_params.get("lang") in UI_LANGUAGES else "fi"
        token = secrets.token_urlsafe(32)
        other = "en" if ui == "fi" else "fi"
        body = render("console/login.html", ui=ui, csrf_token=None, t=Texts(ui), error=error, login_token=token,
                      other={"code": other, "label": "Suomeksi" if other == "fi" else "In English"})
        response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
        self._cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        ui = request.query_params.get("lang") if request.query_params.get("lang") in UI_LANGUAGES else "fi"
        form = await request.form()
        presented, expected = str(form.get("csrf_token") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if not presented or not secrets.compare_digest(presented, expected):
            return _json({"error": "csrf"}, 403)
        try:
            signed_in = await to_thread.run_sync(
                self.accounts.sign_in, str(form.get("username") or ""), str(form.get("password") or ""),
                client_address(request.scope), request.cookies.get(DEVICE_COOKIE))
        except Throttled as throttled:
            response = await self.login_page(request, console_text(ui, "throttled", seconds=throttled.retry_after),
                                             429)
            response.headers["Retry-After"] = str(throttled.retry_after)
            return response
        if signed_in is None:
            await asyncio.sleep(FAILED_SIGN_IN_PAUSE)
            return await self.login_page(request, console_text(ui, "sign_in_failed"), 401)
        response = RedirectResponse("/console/", status_code=303, headers=SECURITY_HEADERS)
        self._cookie(response, SESSION_COOKIE, signed_in.token,
                     max_age=int(self.accounts.session_lifetime.total_seconds()))
        if signed_in.device_token:
            self._cookie(response, DEVICE_COOKIE, signed_in.device_token,
                         max_age=int(self.accounts.device_lifetime.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
        return response

    async def logout(self, request: Request, signed_in: SignedIn) -> Response:
        await to_thread.run_sync(self.accounts.sign_out, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/console/login", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    async def app_page(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        if signed_in is None:
            return RedirectResponse("/console/login", status_code=303, headers=SECURITY_HEADERS)
        if signed_in.adviser.role == "analyst":
            # Analysts have no chats: their views are the reports and the inbox (bot/console/analyst.py).
            return RedirectResponse("/console/reports", status_code=303, headers=SECURITY_HEADERS)
        ui = signed_in.adviser.ui_language
        body = render("console/adviser.html", ui=ui, csrf_token=signed_in.csrf_token, t=Texts(ui))
        return HTMLResponse(body, headers=SECURITY_HEADERS)

    # --- API --------------------------------------------------------------------

    async def me(self, request: Request, signed_in: SignedIn) -> Response:
        adviser = signed_in.adviser
        ui = adviser.ui_language
        advisers = await to_thread.run_sync(self.store.advisers)
        return _json({
            "adviser": {"id": adviser.id, "name": adviser.display_name, "username": adviser.username,
                        "role": adviser.role, "languages": adviser.languages, "ui_language": ui,
                        "available": adviser.available},
            "texts": console_texts(ui),
            "ui_languages": list(UI_LANGUAGES),
            "outcomes": catalogue(ui),
            "advisers": [{"id": a.id, "name": a.display_name} for a in advisers
                         if a.active and a.role in CHAT_ROLES and a.id != adviser.id],
        })

    def _item(self, handoff: HandoffView, ui: str, now: datetime, names: dict[int, str],
              clients: dict[str, ClientTimes] | None = None) -> dict[str, Any]:
        return {
            "id": handoff.id,
            "status": handoff.status,
            "language": handoff.language,
            "language_name": language_label(handoff.language, ui),
            "direction": self.catalog.direction(handoff.language) if handoff.language in self.catalog.languages
            else "ltr",
            "channel": handoff.channel,
            "reason": handoff.reason,
            "topic": handoff.topic,
            "topic_title": topic_titles(ui).get(handoff.topic or "", handoff.topic),
            "waited_minutes": int((now - handoff.requested_at).total_seconds() // 60),
            "preview": (handoff.preview or "")[:200],
            "adviser": names.get(handoff.adviser_id) if handoff.adviser_id else None,
            "adviser_id": handoff.adviser_id,
            # Is the user still there: the web chat open or closed, Telegram blocked; when they last wrote.
            "client": client_status((clients or {}).get(handoff.conversation_id), now),
        }

    async def queue(self, request: Request, signed_in: SignedIn) -> Response:
        adviser = signed_in.adviser
        now = utcnow()
        await to_thread.run_sync(lambda: self.store.update_adviser(adviser.id, last_seen_at=now))
        waiting = await to_thread.run_sync(self.store.waiting)
        chatting = await to_thread.run_sync(self.store.with_adviser)
        advisers = await to_thread.run_sync(self.store.advisers)
        online = await to_thread.run_sync(self.store.online_advisers, self.handoffs.config.adviser_online_seconds)
        names = {a.id: a.display_name for a in advisers}
        clients = await to_thread.run_sync(self.conversations.client_times,
                                           [h.conversation_id for h in [*waiting, *chatting]])
        ui = adviser.ui_language
        spoken = set(adviser.languages or [])
        # The users whose language this adviser speaks first, then first come first.
        waiting.sort(key=lambda h: (h.language not in spoken, h.requested_at))
        items = [{**self._item(h, ui, now, names, clients), "speaks": h.language in spoken} for h in waiting]
        return _json({
            "open": self.handoffs.config.hours.is_open(now),
            "online": len(online),
            "available": adviser.available,
            "waiting": items,
            "mine": [self._item(h, ui, now, names, clients) for h in chatting if h.adviser_id == adviser.id],
            "others": [self._item(h, ui, now, names, clients) for h in chatting if h.adviser_id != adviser.id],
        })

    async def _handoff_for(self, request: Request) -> HandoffView | None:
        return await to_thread.run_sync(self.store.get, int(request.path_params["id"]))

    async def transcript(self, request: Request, signed_in: SignedIn) -> Response:
        handoff = await self._handoff_for(request)
        if handoff is None:
            return _json({"error": "not_found"}, 404)
        adviser = signed_in.adviser
        mine = handoff.status == "with_adviser" and handoff.adviser_id == adviser.id
        # Readable: the queue (to decide whom to take), the adviser's own chats (also after
        # they ended), and everything for an admin.
        if not (handoff.adviser_id == adviser.id or handoff.status == "waiting" or adviser.role == "admin"):
            return _json({"error": "not_yours"}, 403)
        messages = await to_thread.run_sync(self.conversations.history, handoff.conversation_id, TRANSCRIPT_LIMIT)
        advisers = {a.id: a.display_name for a in await to_thread.run_sync(self.store.advisers)}
        out = []
        for m in messages:
            payload = m.payload or {}
            if m.sender == "bot" and not m.text and not payload.get("buttons"):
                continue  # custom payloads (the handoff request itself)
            language = m.language or handoff.language
            out.append({
                "id": m.id, "sender": m.sender, "direction": m.direction, "text": m.text,
                "language": language,
                "script_direction": self.catalog.direction(language) if language in self.catalog.languages
                else "ltr",
                "buttons": [b.get("title") for b in payload.get("buttons", [])],
                "event": payload.get("event"), "adviser": payload.get("adviser"),
                "time": m.created_at.isoformat() if m.created_at else None,
            })
        # An admin may take over or requeue another adviser's chat.
        manage = adviser.role in ADMIN_ROLES and handoff.status == "with_adviser" and not mine
        return _json({"handoff": self._item(handoff, adviser.ui_language, utcnow(), advisers), "mine": mine,
                      "can_manage": manage, "messages": out})

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def _act(self, request: Request, signed_in: SignedIn, action: Callable[[HandoffView], Awaitable[bool]],
                   *, own_chat: bool = True) -> Response:
        """`action` on the handoff of the path; `own_chat`: only on the adviser's own chat."""
        handoff = await self._handoff_for(request)
        if handoff is None:
            return _json({"error": "not_found"}, 404)
        if own_chat and not (handoff.status == "with_adviser" and handoff.adviser_id == signed_in.adviser.id):
            return _json({"error": "not_yours"}, 403)
        if not await action(handoff):
            return _json({"error": "conflict"}, 409)
        return _json({"ok": True})

    async def claim(self, request: Request, signed_in: SignedIn) -> Response:
        return await self._act(request, signed_in, lambda h: self.handoffs.claim(h.id, signed_in.adviser),
                               own_chat=False)

    async def message(self, request: Request, signed_in: SignedIn) -> Response:
        text = str((await self._body(request)).get("text") or "").strip()
        if not text or len(text) > MAX_ADVISER_MESSAGE:
            return _json({"error": "invalid_text"}, 400)
        return await self._act(request, signed_in,
                               lambda h: self.handoffs.adviser_message(h.id, signed_in.adviser, text))

    async def transfer(self, request: Request, signed_in: SignedIn) -> Response:
        target_id = (await self._body(request)).get("to")
        target: Adviser | None = None
        if target_id is not None:
            target = await to_thread.run_sync(self.store.adviser, int(target_id)) if str(target_id).isdigit() \
                else None
            if target is None or target.role not in CHAT_ROLES or not target.active:
                return _json({"error": "unknown_adviser"}, 400)
        return await self._act(request, signed_in,
                               lambda h: self.handoffs.transfer(h.id, signed_in.adviser, target))

    async def close(self, request: Request, signed_in: SignedIn) -> Response:
        outcome = str((await self._body(request)).get("outcome") or "")
        if outcome != "other" and outcome not in topic_titles(signed_in.adviser.ui_language):
            return _json({"error": "invalid_outcome"}, 400)
        return await self._act(request, signed_in,
                               lambda h: self.handoffs.close(h.id, signed_in.adviser, outcome))

    async def take_over(self, request: Request, signed_in: SignedIn) -> Response:
        """Admin: take another adviser's chat (e.g. one who left without closing it)."""
        return await self._act(request, signed_in, lambda h: self.handoffs.take_over(h.id, signed_in.adviser),
                               own_chat=False)

    async def requeue(self, request: Request, signed_in: SignedIn) -> Response:
        """Admin: put another adviser's chat back in the queue."""
        return await self._act(request, signed_in, lambda h: self.handoffs.requeue(h.id, signed_in.adviser),
                               own_chat=False)

    async def contact_requests(self, request: Request, signed_in: SignedIn) -> Response:
        ui = signed_in.adviser.ui_language
        rows = await to_thread.run_sync(self.store.contact_requests)
        titles = topic_titles(ui)
        asked = await to_thread.run_sync(contact_questions, self.store.db, rows, self.catalog)
        return _json({"contact_requests": [{
            "id": r.id, "contact": r.contact, "contact_type": r.contact_type, "language": r.language,
            "language_name": language_label(r.language, ui), "channel": r.channel,
            "topic_title": titles.get(r.topic or "", r.topic), "created_at": r.created_at.isoformat(),
            "handled": r.handled_at is not None,
            # The user's question (masked); the whole conversation from contact-requests/{id}/conversation.
            "question": asked.get(r.id),
        } for r in rows]})

    async def contact_conversation(self, request: Request, signed_in: SignedIn) -> Response:
        """The conversation that led to a contact request, masked (for advisers and admins)."""
        row = await to_thread.run_sync(self.store.contact_request, int(request.path_params["id"]))
        if row is None:
            return _json({"error": "not_found"}, 404)
        messages = await to_thread.run_sync(contact_conversation, self.store.db, row, self.catalog)
        return _json({"id": row.id, "stored": row.conversation_id is not None, "messages": messages})

    async def contact_handled(self, request: Request, signed_in: SignedIn) -> Response:
        done = await to_thread.run_sync(self.store.mark_contact_handled, int(request.path_params["id"]),
                                        signed_in.adviser.id)
        if done:
            await self.handoffs.publish("contacts")
            request_row = await to_thread.run_sync(self.store.contact_request, int(request.path_params["id"]))
            if self.handoffs.insights is not None and request_row and request_row.conversation_id:
                await to_thread.run_sync(self.handoffs.insights.record_outcome, request_row.conversation_id,
                                         "contact_handled")
        return _json({"ok": done}, 200 if done else 409)

    async def presence(self, request: Request, signed_in: SignedIn) -> Response:
        available = bool((await self._body(request)).get("available"))
        await to_thread.run_sync(lambda: self.store.update_adviser(signed_in.adviser.id, available=available,
                                                                   last_seen_at=utcnow()))
        return _json({"ok": True, "available": available})

    async def password(self, request: Request, signed_in: SignedIn) -> Response:
        """A new password for the signed-in adviser; ends the account's other sessions."""
        body = await self._body(request)
        current, new = body.get("current"), body.get("new")
        if not isinstance(current, str) or not isinstance(new, str) or len(current) > 256 or len(new) > 256:
            return _json({"error": "invalid_password"}, 400)
        try:
            changed = await to_thread.run_sync(
                self.accounts.change_password, signed_in, request.cookies.get(SESSION_COOKIE) or "", current, new,
                client_address(request.scope), request.cookies.get(DEVICE_COOKIE))
        except ValueError:
            return _json({"error": "password_too_short"}, 400)
        except Throttled as throttled:
            response = _json({"error": "throttled", "retry_after": throttled.retry_after}, 429)
            response.headers["Retry-After"] = str(throttled.retry_after)
            return response
        if not changed:
            await asyncio.sleep(FAILED_SIGN_IN_PAUSE)
            return _json({"error": "wrong_password"}, 400)
        return _json({"ok": True})

    async def ui_language(self, request: Request, signed_in: SignedIn) -> Response:
        language = (await self._body(request)).get("language")
        if language not in UI_LANGUAGES:
            return _json({"error": "invalid_language"}, 400)
        await to_thread.run_sync(lambda: self.store.update_adviser(signed_in.adviser.id, ui_language=language))
        return _json({"ok": True})
