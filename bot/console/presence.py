"""Whether the user is still there, as the console shows it in the queue and the chat
(issue 12, item 12): from the times the channels store (bot/store/client_presence.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.client_presence import ClientTimes

WEBCHAT = "webchat"


def minutes_since(moment: datetime | None, now: datetime) -> int | None:
    return None if moment is None else max(0, int((now - moment).total_seconds() // 60))


def client_status(times: ClientTimes | None, now: datetime) -> dict[str, Any]:
    """{"state", "minutes", "last_wrote_minutes"}: state `open` (the web chat widget is connected),
    `closed` (it disconnected `minutes` ago), `blocked` (Telegram refused a message to the user
    after they last wrote), or None when the channel cannot tell (Telegram otherwise)."""
    if times is None:
        return {"state": None, "minutes": None, "last_wrote_minutes": None}
    state, since = None, None
    if times.blocked_at and (times.last_wrote_at is None or times.blocked_at > times.last_wrote_at):
        state, since = "blocked", times.blocked_at
    elif times.channel == WEBCHAT and times.disconnected_at and (
            times.connected_at is None or times.disconnected_at >= times.connected_at):
        state, since = "closed", times.disconnected_at
    elif times.channel == WEBCHAT and times.connected_at:
        state, since = "open", times.connected_at
    return {"state": state, "minutes": minutes_since(since, now),
            "last_wrote_minutes": minutes_since(times.last_wrote_at, now)}
