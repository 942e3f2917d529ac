"""Retention of Rasa's SQL tracker store: the `conversations` period of config/retention.yml
applied to Rasa's copy of every conversation (every raw message, slot and parse result).

Rasa's SQLTrackerStore keeps one row per event in its `events` table (sender_id = the
gateway's conversation id, timestamp = Unix seconds). A conversation whose last event is
older than the period is deleted whole, with the same rule as the gateway's own
conversations (no activity for that long). On SQLite the deleted rows are overwritten in
the file (secure_delete); PostgreSQL drops them from every query at once and reuses their
space after (auto)vacuum. The store is reached through
`tracker_store_url` (TRACKER_STORE_URL): Rasa's database, e.g. PostgreSQL's `rasa`
database in production, config/endpoints.yml's SQLite file in development.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Column, Float, MetaData, String, Table, create_engine, delete, func, inspect, select
from sqlalchemy.engine import make_url

# Rasa 3.6's SQLTrackerStore.SQLEvent, as far as retention needs it.
EVENTS = Table("events", MetaData(), Column("sender_id", String(255)), Column("timestamp", Float))


def _missing_sqlite_file(url: str) -> bool:
    """A SQLite file that does not exist yet (Rasa has not written any conversation): not
    created by looking at it."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and bool(parsed.database) and parsed.database != ":memory:" \
        and not Path(parsed.database).exists()


def purge_tracker_store(url: str | None, days_by_kind: dict[str, int | None], now: datetime | None = None,
                        *, dry_run: bool = False) -> dict[str, int]:
    """Delete the events of the conversations whose last event is older than the
    `conversations` period; {"tracker_conversations": n, "tracker_events": m}, or {} when
    there is no tracker store to purge (no URL, no period, no file or table yet). With
    `dry_run`, what would be deleted."""
    days = days_by_kind.get("conversations")
    if not url or days is None or _missing_sqlite_file(url):
        return {}
    cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=days)).timestamp()
    engine = create_engine(url, future=True)
    try:
        if not inspect(engine).has_table("events"):
            return {}
        old_senders = (select(EVENTS.c.sender_id).group_by(EVENTS.c.sender_id)
                       .having(func.max(func.coalesce(EVENTS.c.timestamp, 0.0)) < cutoff))
        old_events = EVENTS.c.sender_id.in_(old_senders)
        with engine.connect() as connection, connection.begin() as transaction:
            if engine.dialect.name == "sqlite":
                # Overwrite what is deleted: otherwise the text stays in the file's free pages.
                connection.exec_driver_sql("PRAGMA secure_delete = ON")
            conversations = connection.execute(select(func.count()).select_from(old_senders.subquery())).scalar_one()
            if dry_run:
                events = connection.execute(select(func.count()).select_from(EVENTS).where(old_events)).scalar_one()
                transaction.rollback()
            else:
                events = connection.execute(delete(EVENTS).where(old_events)).rowcount
        return {"tracker_conversations": conversations, "tracker_events": events}
    finally:
        engine.dispose()
