"""`make bench`'s load section (scripts/bench.py, section 5; `python -m scripts.bench --only load`).

Closed loop: each simulated user sends its next message as soon as its turn is answered.
Gateway web chat users speak the widget's protocol (python-socketio over WebSocket, as the
widget after its upgrade; BENCH_WEBCHAT_TRANSPORT=polling for HTTP long-polling:
`session_request`, `user_uttered`, `bot_uttered`); a turn counts as answered at its first
`bot_uttered`, and the user then waits until the turn's other replies (emitted together
with the first) have arrived, i.e. until no event came for QUIET seconds, before the next
message, so that no reply is taken for the next turn's. Rasa REST users post to Rasa's REST
webhook. Both get the same messages (the held-out sets, each user from its own offset) in
conversations of CONVERSATION_TURNS turns.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.rasa_client import rendezvous_order
from scripts.bench import WEBCHAT_TRANSPORT, percentile
from scripts.nlu_eval import heldout_sets
from tests.helpers import Servers, running_gateway, running_servers

USERS = (1, 10, 50)
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "20"))
RASA_INSTANCES = int(os.environ.get("BENCH_RASA_INSTANCES", "1"))
CONVERSATION_TURNS = 10
LONG_TURNS = 100
# No event for this long after a turn's first reply: the turn's replies are all in.
QUIET = 0.015
TIMEOUT = 60.0


@dataclass
class Run:
    turns_ms: list[float] = field(default_factory=list)
    failures: int = 0
    # The kinds of failure (exception class names), to print below the table.
    kinds: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.turns_ms) / self.seconds if self.seconds else 0.0


class RestUser:
    def __init__(self, client: httpx.AsyncClient, servers: list[Servers]) -> None:
        self.client, self.servers = client, servers
        self.sender = ""

    async def start(self) -> None:
        self.sender = f"load-rest-{uuid.uuid4().hex}"

    async def say(self, text: str) -> None:
        urls = {s.rasa_url: s for s in self.servers}
        server = urls[rendezvous_order(list(urls), self.sender)[0]]
        response = await self.client.post(server.url("/webhooks/rest/webhook"),
                                          json={"sender": self.sender, "message": text, "metadata": {}})
        response.raise_for_status()

    async def close(self) -> None:
        pass


class WebchatUser:
    """A web chat user as the widget talks: socket.io over WebSocket (BENCH_WEBCHAT_TRANSPORT,
    default "websocket"; "polling" for a browser behind a proxy that blocks WebSocket). It is
    python-socketio's threaded client: its asyncio client needs aiohttp 3.10+, which Rasa 3.6
    does not allow. Its events are handed to the bench's event loop."""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.sio = None
        self.session_id: str | None = None
        self.replies = asyncio.Event()
        self.confirmed = asyncio.Event()
        self.last_event = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None

    def _on_confirm(self, session_id: str) -> None:
        self.session_id = session_id
        self.loop.call_soon_threadsafe(self.confirmed.set)

    def _on_reply(self, data: object = None) -> None:
        self.last_event = time.perf_counter()
        self.loop.call_soon_threadsafe(self.replies.set)

    def _connect(self) -> None:
        import socketio

        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.on("bot_uttered", self._on_reply)
        self.sio.connect(self.gateway_url, transports=[WEBCHAT_TRANSPORT], socketio_path="socket.io")
        self.sio.emit("session_request", {"session_id": None})

    async def start(self) -> None:
        if self.sio is not None:
            await self.close()
        self.loop = asyncio.get_running_loop()
        self.confirmed.clear()
        await asyncio.to_thread(self._connect)
        await asyncio.wait_for(self.confirmed.wait(), TIMEOUT)

    async def say(self, text: str) -> None:
        self.replies.clear()
        # A WebSocket frame (or one POST when polling): short, so sent from the loop's thread.
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id, "customData": {}})
        await asyncio.wait_for(self.replies.wait(), TIMEOUT)

    async def settle(self) -> None:
        """Until the turn's other replies are in (not part of the turn's time)."""
        while time.perf_counter() - self.last_event < QUIET:
            await asyncio.sleep(QUIET / 3)

    async def close(self) -> None:
        if self.sio is not None:
            sio, self.sio = self.sio, None
            # Without waiting for a pending long poll (up to the ping interval).
            await asyncio.to_thread(sio.eio.disconnect, abort=True)


async def closed_loop(users: list, texts: list[str], seconds: float) -> Run:
    run = Run()

    async def user_loop(index: int, user: object) -> None:
        position = index * 37
        turn = 0
        while time.perf_counter() < deadline:
            text = texts[position % len(texts)]
            position, turn = position + 1, turn + 1
            try:
                if turn % CONVERSATION_TURNS == 1:
                    await user.start()
                started = time.perf_counter()
                await user.say(text)
            except Exception as error:  # noqa: BLE001 - counted; the loop goes on with a new conversation
                run.failures += 1
                run.kinds[type(error).__name__] += 1
                turn = 0
                await asyncio.sleep(0.5)
                continue
            run.turns_ms.append((time.perf_counter() - started) * 1000)
            if isinstance(user, WebchatUser):
                await user.settle()
        await user.close()

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(user_loop(i, u) for i, u in enumerate(users)))
    run.seconds = time.perf_counter() - started
    return run


async def long_conversation(user: object, texts: list[str]) -> list[float]:
    await user.start()
    timings = []
    for index in range(LONG_TURNS):
        started = time.perf_counter()
        await user.say(texts[index % len(texts)])
        timings.append((time.perf_counter() - started) * 1000)
        if isinstance(user, WebchatUser):
            await user.settle()
    await user.close()
    return timings


class Memory:
    """Each process's resident memory, sampled every half second (psutil), and its peak
    (the kernel's high-water mark, VmHWM, where there is one)."""

    def __init__(self, processes: dict[str, int]) -> None:
        import psutil

        self.processes = {name: psutil.Process(pid) for name, pid in processes.items()}
        self.peak_mb = dict.fromkeys(processes, 0.0)
        self.rss_mb = dict.fromkeys(processes, 0.0)

    def sample(self) -> None:
        for name, process in self.processes.items():
            try:
                rss = process.memory_info().rss / 2**20
            except Exception:  # noqa: BLE001 - the process ended
                continue
            self.rss_mb[name] = rss
            self.peak_mb[name] = max(self.peak_mb[name], rss, high_water_mb(process.pid))

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass


def high_water_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextmanager
def stack(model: Path) -> Iterator[tuple[list[Servers], str, dict[str, int]]]:
    """Rasa (RASA_INSTANCES of them, each with its action server) and the gateway in front."""
    with ExitStack() as exit_stack:
        servers = [exit_stack.enter_context(running_servers(model)) for _ in range(RASA_INSTANCES)]
        env = {"RATE_LIMITS": "off", "RASA_URLS": ",".join(s.rasa_url for s in servers),
               "ACTIONS_URL": servers[0].actions_url}
        gateway = exit_stack.enter_context(
            running_gateway(servers[0].rasa_url, Path(tempfile.mkdtemp(prefix="bench-load-")), env))
        processes = {}
        for number, server in enumerate(servers, 1):
            suffix = f"_{number}" if len(servers) > 1 else ""
            processes[f"rasa{suffix}"], processes[f"actions{suffix}"] = server.pids
        processes["gateway"] = gateway.process.pid
        yield servers, gateway.url, processes


def load_section(model: Path) -> None:
    texts = [t for examples in heldout_sets().values() for t, _ in examples]
    with stack(model) as (servers, gateway_url, processes):
        asyncio.run(_load(servers, gateway_url, processes, texts))


async def _load(servers: list[Servers], gateway_url: str, processes: dict[str, int], texts: list[str]) -> None:
    memory = Memory(processes)
    stop = asyncio.Event()
    watcher = asyncio.create_task(memory.watch(stop))
    # Web chat users connect and disconnect in threads (WebchatUser): one for each at once.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2 * max(USERS)))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:
        def rest_users(n: int) -> list[RestUser]:
            return [RestUser(client, servers) for _ in range(n)]

        def webchat_users(n: int) -> list[WebchatUser]:
            return [WebchatUser(gateway_url) for _ in range(n)]

        # Warm up both paths (the first turns load lazily initialised parts).
        await closed_loop(rest_users(2), texts, 3)
        await closed_loop(webchat_users(2), texts, 3)

        print(f"== Load (closed loop, {SECONDS:.0f} s per run, {len(servers)} Rasa process(es), "
              f"web chat over {WEBCHAT_TRANSPORT}; load average {load_average()})")
        print(f"{'users':<6}{'path':<9}{'turns':>7}{'failed':>7}{'turns_s':>9}{'p50':>8}{'p95':>8}{'p99':>8}")
        failures = []
        for users in USERS:
            for path, make in (("rest", rest_users), ("webchat", webchat_users)):
                run = await closed_loop(make(users), texts, SECONDS)
                values = run.turns_ms or [float("nan")]
                print(f"{users:<6}{path:<9}{len(run.turns_ms):>7}{run.failures:>7}{run.rate:>9.1f}"
                      f"{statistics.median(values):>8.0f}{percentile(values, 0.95):>8.0f}"
                      f"{percentile(values, 0.99):>8.0f}")
                if run.kinds:
                    failures.append(f"{users} {path}: " + ", ".join(f"{k} {n}" for k, n in run.kinds.most_common()))
        print(f"(load average after: {load_average()})")
        if failures:
            print("(failed turns: " + "; ".join(failures) + ")")

        print(f"== Conversation length (ms, one conversation of {LONG_TURNS} turns; median of turns "
              f"2-11 and 91-100; load average {load_average()})")
        print(f"{'path':<9}{'turn_2':>8}{'turn_100':>10}{'ratio':>7}")
        for path, user in (("rest", RestUser(client, servers)), ("webchat", WebchatUser(gateway_url))):
            timings = await long_conversation(user, texts)
            early, late = statistics.median(timings[1:11]), statistics.median(timings[-10:])
            print(f"{path:<9}{early:>8.0f}{late:>10.0f}{late / early:>7.2f}")

    stop.set()
    await watcher
    memory.sample()
    print("== Memory (MB, resident)")
    print(f"{'process':<12}{'rss':>8}{'peak':>8}")
    for name in processes:
        print(f"{name:<12}{memory.rss_mb[name]:>8.0f}{memory.peak_mb[name]:>8.0f}")
