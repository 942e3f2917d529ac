"""Attacks on the internal surfaces (issue 11), against real processes started the way
`make run` starts them (tests/helpers.py running_servers: scripts/serve.py).

- Rasa's HTTP API: without the token nobody reads a tracker, writes events, runs the
  model or posts to the REST webhook; the gateway, which sends the token, still works.
- Rasa, the action server and the gateway listen on 127.0.0.1 only.
- /readyz and /metrics: details only to the internal network or with the ops token;
  a flood of /readyz calls makes one round of outbound checks per period.
- Rasa's SQL tracker store: a conversation past its retention period is gone from
  Rasa's database too, its text included.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.chat_client import ChatClient
from tests.helpers import Servers, running_gateway, running_servers
from tests.security.listening import listening_addresses

pytestmark = pytest.mark.servers

LOOPBACK = {"127.0.0.1", "::1"}
OUTSIDER = {"X-Forwarded-For": "203.0.113.9"}  # from the trusted proxy 127.0.0.1: an Internet client
OPS_TOKEN = "ops-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def rasa(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Rasa and the action server of this module alone (the purge below must not touch
    the conversations of other test modules)."""
    with running_servers(trained_model, tmp_path_factory.mktemp("internal")) as servers:
        yield servers


def status_of(method: str, url: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# --- Rasa's API behind the token ---------------------------------------------------------

def test_rasa_api_refuses_requests_without_the_token(rasa: Servers) -> None:
    sender = f"victim-{uuid.uuid4().hex}"
    rasa.say(sender, "my phone number is 040 1234567")
    base = rasa.rasa_url
    attacks = [
        ("GET", f"/conversations/{sender}/tracker", None),
        ("GET", f"/conversations/{sender}/story", None),
        ("POST", f"/conversations/{sender}/tracker/events", {"event": "slot", "name": "language", "value": "en"}),
        ("PUT", f"/conversations/{sender}/tracker/events", []),
        ("POST", f"/conversations/{sender}/trigger_intent", {"name": "greet"}),
        ("POST", "/model/parse", {"text": "hello"}),
        ("GET", "/domain", None),
        ("GET", "/status", None),
        ("DELETE", "/model", None),
        # The REST channel is a route of its own: bot/rasa_channel.py asks for the token there too.
        ("POST", "/webhooks/rest/webhook", {"sender": sender, "message": "hello"}),
        ("POST", "/webhooks/turn/webhook", {"sender": sender, "message": "hello"}),
    ]
    for method, path, body in attacks:
        for query in ("", "?token=wrong", "?token="):
            assert status_of(method, base + path + query, body) in (401, 403), (method, path, query)
    # The conversation is untouched, and with the token the API answers.
    tracker = rasa.tracker(sender)
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["my phone number is 040 1234567"]
    assert status_of("POST", rasa.url("/model/parse"), {"text": "hello"}) == 200
    assert rasa.say(sender, "kiitos")


def test_the_gateway_sends_the_token(rasa: Servers, tmp_path: Path) -> None:
    with running_gateway(rasa.rasa_url, tmp_path, {"ACTIONS_URL": rasa.actions_url}) as gateway:
        client = ChatClient(gateway.url)
        replies = client.say("hur anmäler jag mig som arbetssökande")
        assert replies and all(r["metadata"]["language"] == "sv" for r in replies), replies
        assert not any("inte tillgänglig" in (r.get("text") or "") for r in replies), replies
        client.close()
        # /readyz checks Rasa's /status, which needs the token.
        readiness = httpx.get(gateway.url + "/readyz", timeout=30).json()
        assert readiness["status"] == "ok" and readiness["checks"]["rasa"][rasa.rasa_url]["ok"], readiness


def test_internal_services_listen_on_loopback_only(rasa: Servers, tmp_path: Path) -> None:
    rasa_pid, actions_pid = rasa.pids
    with running_gateway(rasa.rasa_url, tmp_path) as gateway:
        listening = {name: listening_addresses(pid) for name, pid in
                     (("rasa", rasa_pid), ("actions", actions_pid), ("gateway", gateway.process.pid))}
    for name, url in (("rasa", rasa.rasa_url), ("actions", rasa.actions_url), ("gateway", gateway.url)):
        port = int(url.rsplit(":", 1)[1])
        assert port in {p for _, p in listening[name]}, (name, listening[name])
        assert {address for address, _ in listening[name]} <= LOOPBACK, (name, listening[name])


# --- /readyz and /metrics ------------------------------------------------------------------

class _CountingStandIn(BaseHTTPRequestHandler):
    """Rasa (/status) and the action server (/health), counting the checks."""

    seen: Counter = Counter()
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802
        with self.lock:
            self.seen[self.path.split("?")[0]] += 1
        time.sleep(0.2)  # a check takes a while: concurrent callers must share it
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[tuple[str, Counter]]:
    _CountingStandIn.seen = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _CountingStandIn.seen
    server.shutdown()
    server.server_close()


def test_readyz_and_metrics_keep_their_details_to_the_inside(stand_in: tuple[str, Counter], tmp_path: Path) -> None:
    url, seen = stand_in
    env = {"ACTIONS_URL": url, "OPS_TOKEN": OPS_TOKEN, "READYZ_CACHE_SECONDS": "60"}
    with running_gateway(url, tmp_path, env) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:
        outside = http.get("/readyz", headers=OUTSIDER)
        assert outside.status_code == 200 and outside.json() == {"status": "ok"}
        assert url not in outside.text
        wrong = http.get("/readyz", headers={**OUTSIDER, "Authorization": "Bearer nope"})
        assert wrong.json() == {"status": "ok"}
        for headers in ({}, {**OUTSIDER, "Authorization": f"Bearer {OPS_TOKEN}"}):  # the inside, or the token
            inside = http.get("/readyz", headers=headers).json()
            assert inside["checks"]["rasa"][url]["ok"] and inside["checks"]["actions"]["ok"], (headers, inside)
        assert http.get("/metrics", headers=OUTSIDER).status_code == 403
        assert "assistant_" not in http.get("/metrics", headers=OUTSIDER).text
        assert http.get("/metrics", headers={**OUTSIDER, "Authorization": "Bearer nope"}).status_code == 403
        assert "assistant_handoff_queue_oldest_wait_seconds" in http.get("/metrics").text
        assert http.get("/metrics", headers={**OUTSIDER, "Authorization": f"Bearer {OPS_TOKEN}"}).status_code == 200
        # A flood, 100 calls 20 at a time: the checks made above are reused.
        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(lambda _: http.get("/readyz", headers=OUTSIDER).status_code, range(100)))
    assert codes == [200] * 100
    assert seen == {"/status": 1, "/health": 1}, seen


def test_readyz_checks_again_after_the_period(stand_in: tuple[str, Counter], tmp_path: Path) -> None:
    url, seen = stand_in
    with running_gateway(url, tmp_path, {"ACTIONS_URL": url, "READYZ_CACHE_SECONDS": "1"}) as gateway:
        with ThreadPoolExecutor(10) as pool:
            started = time.monotonic()
            list(pool.map(lambda _: httpx.get(gateway.url + "/readyz", headers=OUTSIDER, timeout=30), range(40)))
            time.sleep(max(0.0, 1.2 - (time.monotonic() - started)))
            list(pool.map(lambda _: httpx.get(gateway.url + "/readyz", headers=OUTSIDER, timeout=30), range(40)))
        elapsed = time.monotonic() - started
    # One round checks the action server once: at most one round per started second
    # (and at least the two the pause forces), not one per call.
    rounds = seen["/health"]
    assert 2 <= rounds <= int(elapsed) + 2, (seen, elapsed)


# --- Retention of Rasa's tracker store -----------------------------------------------------

def test_purge_deletes_old_conversations_from_rasas_tracker_store(rasa: Servers) -> None:
    from bot.insights.tracker_retention import purge_tracker_store

    assert rasa.tracker_store is not None and rasa.tracker_store.exists(), "make run keeps trackers in SQLite"
    marker = uuid.uuid4().hex
    old, recent = f"old-{uuid.uuid4().hex}", f"recent-{uuid.uuid4().hex}"
    rasa.say(old, f"call me on 040 1234567, reference {marker}")
    rasa.say(old, '/change_language{"language": "sv"}')
    with sqlite3.connect(rasa.tracker_store) as connection:
        last_old, old_events = connection.execute(
            "SELECT max(timestamp), count(*) FROM events WHERE sender_id = ?", (old,)).fetchone()
    time.sleep(0.5)
    rasa.say(recent, "how do I register as a jobseeker")
    # 90 days after the old conversation's last event: only that one has been idle so long.
    now = datetime.fromtimestamp(last_old + 0.2, timezone.utc) + timedelta(days=90)
    url = f"sqlite:///{rasa.tracker_store}"
    assert purge_tracker_store(url, {"conversations": 90}, now, dry_run=True)["tracker_events"] >= old_events
    deleted = purge_tracker_store(url, {"conversations": 90}, now)
    assert deleted["tracker_events"] >= old_events and deleted["tracker_conversations"] >= 1
    with sqlite3.connect(rasa.tracker_store) as connection:
        senders = {row[0] for row in connection.execute("SELECT DISTINCT sender_id FROM events")}
    assert old not in senders and recent in senders
    # Gone from the file itself, not only from queries (deleted pages are overwritten).
    assert marker.encode() not in rasa.tracker_store.read_bytes()
    # Rasa no longer knows the old conversation; the recent one goes on in its language.
    assert not [e for e in rasa.tracker(old)["events"] if e["event"] == "user"]
    assert rasa.say(recent, "kiitos")
    assert purge_tracker_store(url, {"conversations": 90}, now) == {"tracker_conversations": 0, "tracker_events": 0}
