"""The fault suite (issue 11): kill -9 Rasa, the action server and the gateway in the
middle of turns and of a handoff, and cut the database connection, while users keep
writing. Afterwards every stored user message has ended `answered` (or with the adviser,
or refused at the boundary), or `failed` with the user told; none stays `received`.

The counts are printed (run with `-s` to see them) and written to fault-counts.json in
the test's folder.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.store.db import Database, migrate
from bot.store.models import Handoff, Message
from bot.texts import text as localized
from tests.chat_client import ChatClient
from tests.console_helpers import PASSWORD, sign_in
from tests.faults.cluster import Service, actions_service, base_url, gateway_service, rasa_service
from tests.postgres import PostgresUnavailable, create_schema, drop_schema, schema_url
from tests.responses import response_text
from tests.tcp_relay import TcpRelay

pytestmark = [pytest.mark.servers, pytest.mark.faults]

QUESTIONS = [
    "miten ilmoittaudun työttömäksi työnhakijaksi",
    "how much is the unemployment benefit",
    "valikko",
    "blargh fnord quux",  # not understood: the fallback action
    "hur anmäler jag mig som arbetssökande",
    "mitä on starttiraha",
]
STRANDED_SECONDS = 4


def user_told(text: str | None) -> bool:
    """A message that tells the user their message was not answered (in any language)."""
    if not text:
        return False
    from bot.language.catalog import load_catalog

    for code in load_catalog().supported:
        unavailable = localized(code, "gateway.unavailable").split("\n")[0]
        failed = localized(code, "gateway.failed", error_id="@@").split("@@")[0]
        recovered = localized(code, "gateway.recovered")
        if text.startswith(unavailable) or text.startswith(failed) or text == recovered:
            return True
    return False


@dataclass
class Writer:
    """A web chat user who keeps writing, reconnecting (same session) whenever the gateway goes."""

    url: str
    name: str
    stop: threading.Event
    session_id: str | None = None
    sent: int = 0
    answered: int = 0
    told: int = 0
    unanswered: int = 0
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        client: ChatClient | None = None
        index = 0
        while not self.stop.is_set():
            try:
                if client is None:
                    client = ChatClient(self.url, session_id=self.session_id)
                    self.session_id = client.session_id
                question = QUESTIONS[index % len(QUESTIONS)]
                index += 1
                self.sent += 1
                replies = client.say(f"{question} ({self.name} {index})", timeout=30)
                if any(user_told(r.get("text")) for r in replies):
                    self.told += 1
                else:
                    self.answered += 1
                time.sleep(0.3)
            except Exception as error:  # noqa: BLE001 - the gateway went away: reconnect
                self.unanswered += 1
                self.errors.append(type(error).__name__)
                if client is not None:
                    try:
                        client.close()
                    except Exception:  # noqa: BLE001
                        pass
                client = None
                time.sleep(1.0)
        if client is not None:
            client.close()


def always_open(path: Path) -> Path:
    raw = {
        "time_zone": "Europe/Helsinki",
        "weekly": {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "public_holidays": None, "exceptions": {}, "average_chat_minutes": 8, "waiting_timeout_minutes": 60,
        "adviser_online_seconds": 600, "contact_request_days": 30, "sweep_seconds": 0.5,
    }
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
def postgres_schema() -> Iterator[str | None]:
    """A schema of its own on the local PostgreSQL, or None (then SQLite, and no cut)."""
    try:
        schema = create_schema()
    except PostgresUnavailable:
        yield None
        return
    yield schema
    drop_schema(schema)


def test_kill_9_and_a_cut_database_lose_nothing(trained_model: Path, tmp_path: Path,
                                                postgres_schema: str | None) -> None:
    relay = TcpRelay("127.0.0.1", 5432) if postgres_schema else None
    database_url = schema_url(postgres_schema, relay.port) if relay else f"sqlite:///{tmp_path / 'gateway.db'}"
    direct_url = schema_url(postgres_schema) if relay else database_url
    migrate(direct_url)
    HandoffStore(Database(direct_url)).add_adviser("anna", "Anna", hash_password(PASSWORD), "adviser",
                                                    ["fi", "en"], "en")
    actions = actions_service(tmp_path)
    rasa = rasa_service(tmp_path, trained_model, actions)
    gateway = gateway_service(tmp_path, base_url(rasa), {
        "DATABASE_URL": database_url, "RASA_TIMEOUT": "10", "RATE_LIMITS": "off",
        "STRANDED_MESSAGE_SECONDS": str(STRANDED_SECONDS), "HANDOFF_CONFIG": str(always_open(tmp_path / "h.yml")),
    })
    services: list[Service] = [actions, rasa, gateway]
    stop = threading.Event()
    writers = [Writer(base_url(gateway), f"user{i}", stop) for i in range(3)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in writers]
    events: list[str] = []
    try:
        for service in services:
            service.start()
        for thread in threads:
            thread.start()
        time.sleep(4)

        # A user with an adviser, to be carried through a gateway kill.
        adviser = httpx.Client(base_url=base_url(gateway), timeout=60)
        csrf = sign_in(adviser, "anna")
        adviser.get("/console/api/queue")
        chatter = ChatClient(base_url(gateway))
        start = chatter.send("haluan puhua ihmisen kanssa")
        chatter.wait_for_text(response_text("utter_handoff_queued", "fi", queue_position="1")[:15], after=start,
                              timeout=60)
        handoff_id = adviser.get("/console/api/queue").json()["waiting"][0]["id"]
        assert adviser.post(f"/console/api/handoffs/{handoff_id}/claim",
                            headers={"X-CSRF-Token": csrf}).status_code == 200

        for service in (rasa, actions, gateway):
            events.append(f"kill -9 {service.name}")
            service.kill()
            time.sleep(3)
            service.start()
            events.append(f"{service.name} back")
            time.sleep(3)

        # The handoff survived the gateway's death: both directions still work.
        chatter.close()
        chatter = ChatClient(base_url(gateway), session_id=chatter.session_id)
        start = len(chatter.events)
        assert adviser.post(f"/console/api/handoffs/{handoff_id}/messages", json={"text": "Olen yhä täällä."},
                            headers={"X-CSRF-Token": csrf}).status_code == 200
        chatter.wait_for_text("Olen yhä täällä.", after=start, timeout=30)
        chatter.send("Hyvä, kiitos!")
        deadline = time.monotonic() + 30
        while not any(m["text"] == "Hyvä, kiitos!" for m in adviser.get(
                f"/console/api/handoffs/{handoff_id}").json()["messages"]):
            assert time.monotonic() < deadline, "the user's message did not reach the adviser"
            time.sleep(0.5)

        if relay is not None:
            events.append("database connection cut")
            relay.disable()
            time.sleep(4)
            relay.enabled = True
            events.append("database connection back")
        time.sleep(4)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    time.sleep(STRANDED_SECONDS + 3)  # stranded messages are found and their users told
    try:
        database = Database(direct_url)
        with database.session() as session:
            rows = session.execute(select(Message).order_by(Message.id)).scalars().all()
            transcript = adviser.get(f"/console/api/handoffs/{handoff_id}").json()["messages"]
            handoff = session.get(Handoff, handoff_id)
        chatter.close()
    finally:
        for service in reversed(services):
            service.stop()
        if relay is not None:
            relay.close()

    incoming = [m for m in rows if m.direction == "in"]
    statuses = Counter(m.status for m in incoming)
    untold = []
    for message in incoming:
        if message.status == "failed":
            later = [m for m in rows if m.conversation_id == message.conversation_id and m.id > message.id
                     and m.direction == "out"]
            if not any(user_told(m.text) for m in later):
                untold.append(message.text)
    counts = {
        "events": events,
        "stored user messages by status": dict(statuses),
        "failed without the user told": len(untold),
        "writers": [{"sent": w.sent, "answered": w.answered, "told not answered": w.told,
                     "no reply (gateway down)": w.unanswered} for w in writers],
    }
    print(json.dumps(counts, indent=2, ensure_ascii=False))
    (tmp_path / "fault-counts.json").write_text(json.dumps(counts, indent=2, ensure_ascii=False))

    assert statuses["received"] == 0, counts
    assert untold == [], counts
    assert statuses["answered"] > 0 and statuses["failed"] > 0, counts
    assert handoff.status == "with_adviser"
    assert [m["text"] for m in transcript].count("Hyvä, kiitos!") == 1  # once: not lost, not doubled
    assert sum(w.answered for w in writers) > 10, counts
