"""Two gateway processes on one PostgreSQL database and one Redis, behind nginx (Debian's
package, configured with the production template deploy/nginx/templates/), one Rasa and
the action server (issue 16):

- a web chat user on gateway A and an adviser on gateway B: claim, messages both ways,
  the console's live hints; then A is killed (kill -9), the user's client reconnects
  through the proxy to B, the history is restored and the chat goes on; nothing is lost
  or duplicated, and the queue's messages and timers reach each user once;
- the timers (handoff sweep, stranded messages, retention) run on the gateway holding the
  lease, and another takes them over within seconds when it is killed;
- one conversation reaching both gateways (two tabs) takes its turns one at a time and
  shares one rate limit; the proxy upgrades socket.io to a WebSocket.

They skip, saying so, only when PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) is
not running. nginx comes from `make browsers` (apt-get install nginx-light)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import socketio
from sqlalchemy import create_engine, select, text

from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.paths import PROJECT_ROOT
from bot.shared import deployment_namespace
from bot.store.db import Database
from bot.store.models import Conversation, Handoff, Message
from bot.texts import text as localized
from tests.chat_client import ChatClient, http_session
from tests.console_helpers import PASSWORD, sign_in
from tests.faults.cluster import Service, base_url, gateway_service
from tests.helpers import Servers, wait_until
from tests.nginx_proxy import Proxy, running_nginx
from tests.postgres import POSTGRES_ADMIN_URL
from tests.redis_server import require_redis
from tests.responses import response_text
from tests.test_handoff_flow import handoff_config

pytestmark = pytest.mark.servers

REDIS_URL = "redis://127.0.0.1:6379/13"
LEASE_SECONDS = 2
# The second user in the queue gives up waiting after this long (the timer under test).
WAITING_TIMEOUT_MINUTES = 0.4
CONVERSATION_LIMIT = 8


# --- the cluster ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_redis(REDIS_URL)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database of this module's own on the local PostgreSQL server."""
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__})")
    name = f"scaleout_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@dataclass
class Cluster:
    a: Service
    b: Service
    proxy: Proxy
    database_url: str
    redis_url: str

    @staticmethod
    def upstream(gateway: Service) -> str:
        return base_url(gateway).removeprefix("http://")

    def address_on(self, gateway: Service) -> str:
        """A client address the proxy sends to `gateway` (it must be up)."""
        return self.proxy.address_served_by(self.upstream(gateway))

    def ensure_up(self, gateway: Service) -> None:
        """Start a killed gateway again and wait until the proxy sends its clients to it."""
        if gateway.process is None or gateway.process.poll() is not None:
            gateway.start()
        deadline = time.monotonic() + 30  # the proxy tries a failed gateway again after fail_timeout
        while time.monotonic() < deadline:
            try:
                self.address_on(gateway)
                return
            except AssertionError:
                time.sleep(1)
        raise AssertionError("the proxy does not route to the restarted gateway")


@pytest.fixture(scope="module")
def cluster(servers: Servers, redis_url: str, postgres_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("scaleout")
    # The one-shot migration (compose's `migrate` service), then gateways that do not migrate.
    subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=PROJECT_ROOT, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": postgres_url})
    env = {
        "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "MIGRATE_ON_START": "false",
        "LEASE_SECONDS": str(LEASE_SECONDS), "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "HANDOFF_CONFIG": str(handoff_config(work / "handoff.yml", timeout_minutes=WAITING_TIMEOUT_MINUTES)),
        "TRACKER_STORE_URL": f"sqlite:///{servers.tracker_store}",
        "LIMIT_CONVERSATION_MESSAGES": f"{CONVERSATION_LIMIT}/minute",
    }
    gateways = []
    for name in ("a", "b"):
        (work / name).mkdir()
        gateways.append(gateway_service(work / name, servers.rasa_url, env))
    try:
        for gateway in gateways:
            gateway.start()
        with running_nginx([Cluster.upstream(g) for g in gateways], work / "nginx") as proxy:
            yield Cluster(*gateways, proxy, postgres_url, redis_url)
    finally:
        for gateway in gateways:
            gateway.stop()


# --- helpers ----------------------------------------------------------------------------------------

class ConsoleUser:
    """An adviser using the console's API and live socket through the proxy, from one address."""

    def __init__(self, cluster: Cluster, username: str, name: str, address: str) -> None:
        store = HandoffStore(Database(cluster.database_url))
        if store.adviser_by_username(username) is None:
            store.add_adviser(username, name, hash_password(PASSWORD), "adviser", ["en", "fi"], "en")
        self.http = httpx.Client(base_url=cluster.proxy.url, timeout=60, headers={"X-Forwarded-For": address})
        self.csrf = sign_in(self.http, username)
        self.hints: list[dict] = []
        self.live = socketio.Client(reconnection=False, http_session=http_session({"X-Forwarded-For": address}))
        self.live.on("changed", lambda data: self.hints.append(data))
        self.live.connect(cluster.proxy.url, socketio_path="console/socket.io", transports=["polling"],
                          headers={"X-Forwarded-For": address,
                                   "Cookie": f"console_session={self.http.cookies.get('console_session')}"})
        self.queue()  # the console is open: the adviser is online

    def queue(self) -> dict:
        return self.http.get("/console/api/queue").json()

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.http.post(f"/console/api/{path}", json=body or {}, headers={"X-CSRF-Token": self.csrf})

    def transcript_texts(self, handoff_id: int) -> list[str]:
        return [m["text"] for m in self.http.get(f"/console/api/handoffs/{handoff_id}").json()["messages"]]

    def close(self) -> None:
        self.live.eio.disconnect(abort=True)
        self.http.close()


def conversation_id(database_url: str, session_id: str) -> str:
    with Database(database_url).session() as session:
        return session.execute(select(Conversation.id).where(Conversation.external_id == session_id)).scalar_one()


def stored(database_url: str, session_id: str) -> list[Message]:
    with Database(database_url).session() as session:
        return list(session.execute(
            select(Message).join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.external_id == session_id).order_by(Message.id)).scalars())


def latest_handoff(database_url: str, session_id: str) -> Handoff:
    with Database(database_url).session() as session:
        return session.execute(
            select(Handoff).join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(Conversation.external_id == session_id).order_by(Handoff.id.desc())).scalars().first()


def live_texts(client: ChatClient, fragment: str) -> int:
    """How many live messages (not the history replayed on reconnect) contain `fragment`."""
    return sum(1 for event, data in client.events if event == "bot_uttered" and fragment in (data.get("text") or ""))


def ask_for_person(user: ChatClient, position: str) -> None:
    start = user.send("I want to talk to a person", language="en")
    user.wait_for_text(response_text("utter_handoff_queued", "en", queue_position=position).split(".")[0],
                       after=start)


def lease_holder_pid(cluster: Cluster, name: str = "timers") -> int | None:
    import redis

    value = redis.Redis.from_url(cluster.redis_url).get(f"{deployment_namespace(cluster.database_url)}:lease:{name}")
    return int(value.decode().split(":")[1]) if value else None


def metric(gateway: Service, name: str, labels: str) -> float:
    body = httpx.get(base_url(gateway) + "/metrics", timeout=10).text
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} ([0-9.e+]+)$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


# --- the acceptance test -----------------------------------------------------------------------------

def test_a_user_and_an_adviser_on_two_gateways_and_one_gateway_killed(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    address_a, address_b = cluster.address_on(a), cluster.address_on(b)
    adviser = ConsoleUser(cluster, "anna", "Anna", address_b)
    user = ChatClient(cluster.proxy.url, headers={"X-Forwarded-For": address_a}, reconnect=True)
    second = ChatClient(cluster.proxy.url, headers={"X-Forwarded-For": address_b}, reconnect=True)
    try:
        # The user (on A) and then a second user (on B) ask for a person.
        ask_for_person(user, "1")
        ask_for_person(second, "2")
        handoff_id = latest_handoff(cluster.database_url, user.session_id).id
        assert any(item["id"] == handoff_id for item in adviser.queue()["waiting"])

        # The adviser (on B) claims: the user on A hears it, the second user moves up once.
        mark = len(user.events)
        assert adviser.post(f"handoffs/{handoff_id}/claim").status_code == 200
        joined = response_text("utter_adviser_joined", "en", adviser_name="Anna")
        user.wait_for_text(joined, after=mark)
        moved = response_text("utter_queue_moved", "en", queue_position="1").split(".")[0]
        second.wait_for_text(moved)

        # Both ways across the gateways: B -> the user's socket on A, A -> the console on B.
        mark = len(user.events)
        assert adviser.post(f"handoffs/{handoff_id}/messages", {"text": "Hello, Anna here."}).status_code == 200
        user.wait_for_text("Hello, Anna here.", after=mark)
        hints = len(adviser.hints)
        user.send("My first question.")
        wait_until(lambda: "My first question." in adviser.transcript_texts(handoff_id), 30, "the user's message")
        wait_until(lambda: any(h.get("kind") == "message" for h in adviser.hints[hints:]), 30, "a live hint")

        # Gateway A dies: the user's client reconnects through the proxy (to B) and gets the history.
        a.kill()
        mark = len(user.events)
        user.wait_for("reconnected", timeout=60, after=mark)
        user.wait_for("session_confirm", timeout=60, after=mark)
        assert user.wait_for("session_confirm", after=mark) == user.session_id
        history = [item.get("text") for item in user.wait_for("history", timeout=60, after=mark)]
        for line in ("I want to talk to a person", "Hello, Anna here.", "My first question."):
            assert history.count(line) == 1, (line, history)
        assert sum(1 for line in history if line and line.startswith(joined[:30])) == 1

        # The chat goes on through B.
        user.send("My second question.")
        wait_until(lambda: "My second question." in adviser.transcript_texts(handoff_id), 30, "the second message")
        mark = len(user.events)
        assert adviser.post(f"handoffs/{handoff_id}/messages", {"text": "Here is the answer."}).status_code == 200
        user.wait_for_text("Here is the answer.", after=mark)

        # The second user's wait runs out (whichever gateway holds the timers now): told once.
        timed_out = response_text("utter_wait_timeout", "en")
        second.wait_for_text(timed_out, timeout=WAITING_TIMEOUT_MINUTES * 60 + 30)
        time.sleep(LEASE_SECONDS * 1.5)  # a second gateway's timer would have fired by now
        assert live_texts(second, timed_out) == 1
        assert live_texts(second, moved) == 1
        assert latest_handoff(cluster.database_url, second.session_id).status == "timeout"
        events = [m.payload.get("event") for m in stored(cluster.database_url, second.session_id)
                  if m.status == "event"]
        assert events.count("timeout") == 1, events

        # Nothing lost, nothing twice: in the database and in what the user saw live.
        messages = stored(cluster.database_url, user.session_id)
        said = [m.text for m in messages if m.direction == "in"]
        assert said == ["I want to talk to a person", "My first question.", "My second question."]
        adviser_lines = [m.text for m in messages if m.sender == "adviser"]
        assert adviser_lines == ["Hello, Anna here.", "Here is the answer."]
        assert live_texts(user, "Hello, Anna here.") == 1
        assert live_texts(user, "Here is the answer.") == 1
        assert live_texts(user, joined[:30]) == 1
        transcript = adviser.transcript_texts(handoff_id)
        for line in ("My first question.", "My second question."):
            assert transcript.count(line) == 1
    finally:
        for client in (user, second):
            client.close()
        adviser.close()
        cluster.ensure_up(a)


def test_the_timers_run_on_one_gateway_and_move_within_seconds_when_it_is_killed(cluster: Cluster) -> None:
    gateways = {g.process.pid: g for g in (cluster.a, cluster.b)}
    holder_pid = wait_until(lambda: lease_holder_pid(cluster), LEASE_SECONDS * 3, "a lease holder")
    holder = gateways[holder_pid]
    other = next(g for pid, g in gateways.items() if pid != holder_pid)
    try:
        assert metric(holder, "assistant_lease_held", 'lease="timers"') == 1
        assert metric(other, "assistant_lease_held", 'lease="timers"') == 0
        holder_rounds, other_rounds = (metric(g, "assistant_timer_rounds_total", 'timer="sweep"')
                                       for g in (holder, other))
        time.sleep(2)
        assert metric(holder, "assistant_timer_rounds_total", 'timer="sweep"') > holder_rounds
        assert metric(other, "assistant_timer_rounds_total", 'timer="sweep"') == other_rounds

        holder.kill()
        killed = time.monotonic()
        wait_until(lambda: lease_holder_pid(cluster) == other.process.pid, LEASE_SECONDS * 1.25 + 5,
                   "the other gateway to take the lease")
        taken_over = time.monotonic() - killed
        assert taken_over <= LEASE_SECONDS * 1.25 + 1.5, taken_over
        assert metric(other, "assistant_lease_held", 'lease="timers"') == 1
        rounds = metric(other, "assistant_timer_rounds_total", 'timer="sweep"')
        wait_until(lambda: metric(other, "assistant_timer_rounds_total", 'timer="sweep"') > rounds, 10,
                   "the other gateway's sweep")
    finally:
        cluster.ensure_up(holder)


def test_one_conversation_on_both_gateways_takes_turns_and_shares_one_limit(cluster: Cluster) -> None:
    """Two tabs of one session that reached two gateways (e.g. a phone that changed networks)."""
    tab_a = ChatClient(cluster.proxy.url, headers={"X-Forwarded-For": cluster.address_on(cluster.a)})
    assert tab_a.say("kiitos")  # the conversation exists from its first message on
    tab_b = ChatClient(cluster.proxy.url, tab_a.session_id,
                       headers={"X-Forwarded-For": cluster.address_on(cluster.b)})
    limited = localized("fi", "gateway.rate_limited")
    try:
        assert tab_b.session_id == tab_a.session_id
        # Two messages at the same moment, one through each gateway: one turn after the other.
        tab_a.send("kiitos paljon")
        tab_b.send("kiitos vielä kerran")

        def all_answered() -> list[Message] | None:
            messages = stored(cluster.database_url, tab_a.session_id)
            said = [m for m in messages if m.direction == "in"]
            return messages if len(said) == 3 and all(m.status == "answered" for m in said) else None

        kinds = [m.direction for m in wait_until(all_answered, 60, "both turns")]
        assert kinds[0] == "in" and kinds[-1] == "out", kinds
        assert all(not (x == y == "in") for x, y in zip(kinds, kinds[1:], strict=False)), kinds

        # The conversation's limit counts the messages of both gateways (3 used so far).
        outcomes = []
        for i in range(CONVERSATION_LIMIT - 1):
            replies = (tab_a, tab_b)[i % 2].say(f"kiitos {i}")
            outcomes.append("limited" if any(r.get("text") == limited for r in replies) else "answered")
        assert outcomes == ["answered"] * (CONVERSATION_LIMIT - 3) + ["limited"] * 2, outcomes
    finally:
        tab_a.close()
        tab_b.close()


def test_the_proxy_upgrades_socketio_to_a_websocket(cluster: Cluster) -> None:
    import websockets

    address = cluster.address_on(cluster.b)
    url = cluster.proxy.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    async def handshake() -> str:
        async with websockets.connect(url, extra_headers={"X-Forwarded-For": address}) as socket:
            return await asyncio.wait_for(socket.recv(), 10)

    opened = asyncio.run(handshake())
    assert opened.startswith("0{") and '"sid"' in opened

    def logged() -> list[str]:
        return [line for line in cluster.proxy.access_log.read_text().splitlines()
                if "transport=websocket" in line and line.startswith(address + " ")]

    upgrade = wait_until(logged, 10, "the upgrade in the proxy's log")
    assert upgrade[-1].endswith(" 101") and cluster.upstream(cluster.b) in upgrade[-1]
