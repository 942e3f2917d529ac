"""What the console shows with a contact request: the user's question and the conversation
that led to it (issue 12, item 11), personal data masked (bot/privacy/masking.py) as in
every other view that is not a live chat. The contact details themselves are shown
unmasked in the request: the adviser needs them to call back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.language.catalog import LanguageCatalog
from bot.privacy.masking import mask
from bot.store.db import Database
from bot.store.models import ContactRequest, Handoff, Message, as_utc

# The conversation shown with a contact request: at most this many messages before it.
CONVERSATION_LIMIT = 200


def _asked_before(request: ContactRequest, requested_at: datetime | None) -> datetime:
    """The time before which the user's question was written: the handoff request, else the contact request."""
    return as_utc(requested_at or request.created_at)


def questions(database: Database, requests: list[ContactRequest],
              catalog: LanguageCatalog) -> dict[int, dict[str, str]]:
    """The last thing each user typed (not a button) before asking for a person: masked
    text, its language and script direction."""
    out: dict[int, dict[str, str]] = {}
    with database.session() as session:
        for request in requests:
            if request.conversation_id is None:
                continue
            requested_at = session.get(Handoff, request.handoff_id).requested_at if request.handoff_id else None
            found = session.execute(
                select(Message.text, Message.language).where(
                    Message.conversation_id == request.conversation_id, Message.direction == "in",
                    Message.text.is_not(None), ~Message.text.startswith("/"),
                    Message.created_at <= _asked_before(request, requested_at))
                .order_by(Message.id.desc()).limit(1)
            ).first()
            if found:
                language = found.language or request.language
                out[request.id] = {"text": mask(found.text), "language": language,
                                   "direction": _direction(catalog, language)}
    return out


def _direction(catalog: LanguageCatalog, language: str | None) -> str:
    return catalog.direction(language) if language in catalog.languages else "ltr"


def conversation(database: Database, request: ContactRequest, catalog: LanguageCatalog) -> list[dict[str, Any]]:
    """The messages of the request's conversation up to the request (the last CONVERSATION_LIMIT),
    masked, in the shape of the console's transcript."""
    if request.conversation_id is None:  # deleted by retention
        return []
    with database.session() as session:
        rows = session.execute(
            select(Message).where(Message.conversation_id == request.conversation_id,
                                  Message.created_at <= as_utc(request.created_at))
            .order_by(Message.id.desc()).limit(CONVERSATION_LIMIT)
        ).scalars().all()
    out = []
    for m in reversed(rows):
        payload = m.payload or {}
        if m.sender == "bot" and not m.text and not payload.get("buttons"):
            continue  # custom payloads (the handoff request itself)
        language = m.language or request.language
        out.append({
            "id": m.id, "sender": m.sender, "direction": m.direction, "text": mask(m.text) if m.text else m.text,
            "language": language,
            "script_direction": _direction(catalog, language),
            "buttons": [b.get("title") for b in payload.get("buttons", [])],
            "event": payload.get("event"), "adviser": payload.get("adviser"),
            "time": as_utc(m.created_at).isoformat() if m.created_at else None,
        })
    return out
