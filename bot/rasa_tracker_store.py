"""Rasa's SQL tracker store with a per-turn cost that does not grow with the conversation
(imported by the Rasa server through config/endpoints.yml and endpoints.production.yml,
`type: bot.rasa_tracker_store.WindowedSQLTrackerStore`, the same keys as `type: SQL`).

Rasa 3.6's SQLTrackerStore loads, deserialises and replays every event of the current
session on each message (a session lasts until an hour of silence: domain/core.yml), and
counts them again on each save. After 100 turns that is ~1,000 events per request. Here a
retrieval reads only

- the events from the `window_turns`-th last user message on (the dialogue the policies,
  the actions and the response generator look at: Memoization's history is 5 turns, the
  actions look back at consecutive fallbacks and the last topic), and
- the latest value of every slot set before that point (one grouped query on the
  `action_name` column, where Rasa keeps a SlotSet's slot name),

and rebuilds the tracker as [SessionStarted, SlotSet..., action_listen] + window, which is
what the policies see at the start of a resumed session, with the same slot values. A
conversation shorter than the window is loaded whole, as Rasa does. What is stored is
unchanged: every event is kept, `retrieve_full_tracker` (the tracker API) still reads the
whole conversation, and `python -m bot retention` deletes as before.

Saving appends the events after those the tracker was loaded with (counted at retrieval)
instead of counting the session's rows again.

Each save also keeps the turn's outcome (Rasa's `latest_message` and the `language` slot)
under the user message's id for bot/rasa_channel.py's turn channel, which answers with it,
so the gateway needs no tracker request after a turn.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

logger = logging.getLogger(__name__)

LANGUAGE_SLOT = "language"
DEFAULT_WINDOW_TURNS = 10
# Events after which the slots start again from their initial values.
SLOT_RESETS = ("session_started", "restart", "reset_slots")
# Outcomes kept for the turn channel, which takes each away at once; the bound only matters
# for turns that came through another channel (REST) and are never asked for.
KEPT_OUTCOMES = 512
# The attribute on a retrieved tracker: how many of its events are already stored.
STORED = "_stored_events"
INDEX = "ix_events_sender_type_id"


class TurnOutcomes:
    """The outcome of recent turns by user message id (thread-safe, bounded)."""

    def __init__(self, size: int = KEPT_OUTCOMES) -> None:
        self.size = size
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, message_id: str, outcome: dict[str, Any]) -> None:
        with self._lock:
            self._items[message_id] = outcome
            self._items.move_to_end(message_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.pop(message_id, None)


OUTCOMES = TurnOutcomes()


def turn_outcome(tracker: DialogueStateTracker) -> dict[str, Any]:
    """What the gateway reads after a turn: the parse result as the tracker API's
    `latest_message`, and the `language` slot."""
    state = tracker.current_state(EventVerbosity.NONE)
    latest = state.get("latest_message")
    slots = state.get("slots") or {}
    return {"latest_message": latest if isinstance(latest, dict) and latest else None,
            "language": slots.get(LANGUAGE_SLOT)}


def remember_outcome(tracker: DialogueStateTracker) -> None:
    message_id = getattr(tracker.latest_message, "message_id", None)
    if message_id:
        OUTCOMES.put(message_id, turn_outcome(tracker))


class WindowedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain: Any = None, window_turns: int | str = DEFAULT_WINDOW_TURNS, **kwargs: Any) -> None:
        super().__init__(domain, **kwargs)
        self.window_turns = max(1, int(window_turns))
        if self.engine.dialect.name == "sqlite":
            self._tune_sqlite()
        """Rasa builds it from the endpoints file: `type: SQL`'s keys and `window_turns`.
        (Rasa falls back to its in-memory store, with a warning, if this raises
        AttributeError or ImportError.)"""
        # The queries below filter by conversation and kind of event (Rasa indexes only sender_id).
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {INDEX} ON events (sender_id, type_name, id)"))
        except sa.exc.SQLAlchemyError as error:  # e.g. another instance creating it at the same moment
            logger.warning("could not create the index %s: %s", INDEX, error)

    def _tune_sqlite(self) -> None:
        """Rasa opens a new SQLite connection per operation (NullPool) in rollback-journal mode
        with a sync to disk at every commit, ~17 ms a turn: here a kept connection, WAL and
        synchronous=NORMAL (a power cut may lose the last turns, never corrupt the file)."""
        self.engine.dispose()
        self.engine = sa.create_engine(self.engine.url, poolclass=sa.pool.QueuePool, pool_size=2, max_overflow=4,
                                       connect_args={"check_same_thread": False})

        @sa.event.listens_for(self.engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    # --- retrieval ---------------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The current session's tracker, its history cut to the last `window_turns` user
        messages (with every slot's value from before the cut)."""
        with self.session_scope() as session:
            rows = self._window_rows(session, sender_id)
        if not rows or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, rows, self.domain.slots)
        setattr(tracker, STORED, len(tracker.events))
        return tracker

    def _window_rows(self, session: Any, sender_id: str) -> list[dict[str, Any]]:
        """The events (as dicts) the tracker is rebuilt from."""
        event = self.SQLEvent
        of_sender = event.sender_id == sender_id
        start = session.query(sa.func.max(event.id)).filter(
            of_sender, event.type_name == "session_started").scalar()
        in_session = [of_sender] + ([event.id >= start] if start is not None else [])
        cut = session.query(event.id).filter(*in_session, event.type_name == "user").order_by(
            event.id.desc()).offset(self.window_turns - 1).limit(1).scalar()
        if cut is None:  # shorter than the window: all of the session, as Rasa does
            return [json.loads(data) for (data,) in session.query(event.data).filter(*in_session)
                    .order_by(event.id)]
        window = [json.loads(data) for (data,) in session.query(event.data).filter(of_sender, event.id >= cut)
                  .order_by(event.id)]
        return [*self._prefix(session, sender_id, start, cut, window[0].get("timestamp")), *window]

    def _prefix(self, session: Any, sender_id: str, start: int | None, cut: int,
                timestamp: float | None) -> Iterator[dict[str, Any]]:
        """SessionStarted (the session's own), every slot's latest value before `cut`, action_listen."""
        event = self.SQLEvent
        of_sender = event.sender_id == sender_id
        if start is not None:
            yield json.loads(session.query(event.data).filter(event.id == start).scalar())
        else:
            yield _as_dict(SessionStarted(timestamp=timestamp))
        reset = session.query(sa.func.max(event.id)).filter(
            of_sender, event.type_name.in_(SLOT_RESETS), event.id < cut).scalar()
        latest = session.query(sa.func.max(event.id)).filter(
            of_sender, event.type_name == SlotSet.type_name, event.id < cut,
            *([event.id > reset] if reset is not None else [])).group_by(event.action_name)
        for (data,) in session.query(event.data).filter(event.id.in_(latest.scalar_subquery())).order_by(event.id):
            yield json.loads(data)
        yield _as_dict(ActionExecuted(ACTION_LISTEN_NAME, timestamp=timestamp))

    # --- saving ------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        if hasattr(tracker, STORED):
            setattr(tracker, STORED, len(tracker.events))
        remember_outcome(tracker)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events after those the tracker was retrieved with (Rasa counts the session's rows)."""
        stored = getattr(tracker, STORED, None)
        if stored is None:
            return super()._additional_events(session, tracker)
        return iter(list(tracker.events)[stored:])


def _as_dict(event: Event) -> dict[str, Any]:
    return event.as_dict()
