"""Capacity probe for docs/scaling.md (issue 16): what one Rasa process and one gateway
process cost per turn, measured on this machine with the production stores.

Starts the action server and one Rasa process with config/endpoints.production.yml (the
tracker store in a fresh PostgreSQL database, the lock store in Redis), then runs
closed-loop web chat users (each sends a message, waits for the answer, sends the next;
a new session every SESSION_TURNS messages) for a fixed time, in three set-ups:

1. `rasa`: REST turns straight to Rasa (no gateway), for Rasa's own cost;
2. `one gateway`: socket.io users on one gateway (PostgreSQL, Redis);
3. `two gateways + nginx`: the same users through nginx (tests/nginx_proxy.py, the
   production template) to two gateways.

For each: turns per second, turn latency p50/p95 at the client, CPU seconds per turn of
each process (from /proc: utime + stime), PostgreSQL transactions and row writes per
turn (pg_stat_database of the gateway's and of the tracker store's database) and Redis
commands per turn (INFO stats of the whole server: other users of the same Redis add
to it) and the processes' resident memory at the end. Needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379.

    .venv/bin/python -m scripts.capacity_probe [--users 8] [--seconds 40] [--json out.json]

RATE_LIMITS=off for the run (one client address sends everything). Turns per second
depend on what else the machine is doing; CPU seconds per turn much less so.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bot.paths import PROJECT_ROOT
from bot.rasa_token import resolve_rasa_token
from scripts.model import model_path
from scripts.serve import actions_command, rasa_command
from tests.chat_client import ChatClient
from tests.helpers import free_port, logged_process, running_gateway, wait_until_up
from tests.nginx_proxy import running_nginx

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/11"
SESSION_TURNS = 6
QUESTIONS = [
    "miten ilmoittaudun työttömäksi työnhakijaksi",
    "how much is the unemployment benefit",
    "hur anmäler jag mig som arbetssökande",
    "mitä on starttiraha",
    "what is a pay subsidy",
    "kiitos",
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                pass
    return found


@contextmanager
def database(name_prefix: str) -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    name = f"{name_prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def pg_writes(names: list[str]) -> dict[str, tuple[int, int]]:
    """{database: (transactions committed, rows inserted + updated + deleted)}."""
    admin = create_engine(POSTGRES_ADMIN_URL, future=True)
    with admin.connect() as connection:
        rows = connection.execute(text(
            "SELECT datname, xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
            "WHERE datname = ANY(:names)"), {"names": names}).all()
    admin.dispose()
    return {name: (int(commits), int(writes)) for name, commits, writes in rows}


def redis_commands() -> int:
    import redis

    return int(redis.Redis.from_url(REDIS_URL).info("stats")["total_commands_processed"])


def closed_loop(users: int, seconds: float, turn: Callable[[int, int], None]) -> list[float]:
    """`users` threads calling turn(user, n) back to back for `seconds`; the latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user(number: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            turn(number, n)
            with lock:
                latencies.append(time.perf_counter() - started)
            n += 1

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def measure(name: str, users: int, seconds: float, turn: Callable[[int, int], None],
            pids: dict[str, list[int]], databases: list[str]) -> dict:
    cpu_before = {role: sum(cpu_seconds(p) for p in ps) for role, ps in pids.items()}
    pg_before, redis_before = pg_writes(databases), redis_commands()
    started = time.monotonic()
    latencies = closed_loop(users, seconds, turn)
    elapsed = time.monotonic() - started
    cpu_after = {role: sum(cpu_seconds(p) for p in ps) for role, ps in pids.items()}
    time.sleep(2)  # PostgreSQL publishes its counters at most once a second
    pg_after, redis_after = pg_writes(databases), redis_commands()
    turns = len(latencies)
    result = {
        "setup": name, "users": users, "seconds": round(elapsed, 1), "turns": turns,
        "turns_per_second": round(turns / elapsed, 2),
        "latency_ms_p50": round(statistics.median(latencies) * 1000),
        "latency_ms_p95": round(sorted(latencies)[int(0.95 * (turns - 1))] * 1000),
        "cpu_ms_per_turn": {role: round((cpu_after[role] - cpu_before[role]) / turns * 1000, 1) for role in pids},
        "postgres_per_turn": {
            db: {"transactions": round((pg_after[db][0] - pg_before[db][0]) / turns, 1),
                 "row_writes": round((pg_after[db][1] - pg_before[db][1]) / turns, 1)}
            for db in databases if db in pg_after and db in pg_before},
        "redis_commands_per_turn": round((redis_after - redis_before) / turns, 1),
        "rss_mb": {role: round(sum(rss_mb(p) for p in ps)) for role, ps in pids.items()},
    }
    print(json.dumps(result), flush=True)
    return result


def socketio_turns(urls: list[str]) -> Callable[[int, int], None]:
    """A web chat user per thread, a new session every SESSION_TURNS messages; user i on urls[i % n],
    with an address of its own (the proxy routes by it)."""
    clients: dict[int, ChatClient] = {}

    def turn(user: int, n: int) -> None:
        if n % SESSION_TURNS == 0:
            if user in clients:
                clients[user].close()
            clients[user] = ChatClient(urls[user % len(urls)],
                                       headers={"X-Forwarded-For": f"127.{user + 1}.{user % 5}.1"})
        client = clients[user]
        start = len(client.events)
        client.sio.emit("user_uttered", {"message": QUESTIONS[n % len(QUESTIONS)], "session_id": client.session_id,
                                         "customData": {}})
        client.wait_for("bot_uttered", 120, after=start)

    turn.clients = clients  # type: ignore[attr-defined]
    return turn


def close_clients(turn: Callable) -> None:
    for client in getattr(turn, "clients", {}).values():
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)  # "packet queue is empty" on close
    work = Path(tempfile.mkdtemp(prefix="capacity-"))
    token = resolve_rasa_token()
    results = []
    with ExitStack() as stack:
        tracker_db = stack.enter_context(database("capacity_rasa"))
        gateway_db = stack.enter_context(database("capacity_gateway"))
        actions_port, rasa_port = free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT),
               "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
               "DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_NAME": tracker_db, "DB_LOGIN_DB": "test",
               "DB_USER": "postgres", "DB_PASSWORD": "", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379",
               "REDIS_DB": "11", "REDIS_PASSWORD": "", "REDIS_KEY_PREFIX": f"capacity{uuid.uuid4().hex[:8]}"}
        actions = stack.enter_context(logged_process(actions_command(actions_port), env, work / "actions.log"))
        command = rasa_command(rasa_port, str(model_path()))
        command[command.index("--endpoints") + 1] = str(PROJECT_ROOT / "config" / "endpoints.production.yml")
        rasa = stack.enter_context(logged_process(command, env, work / "rasa.log"))
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/status?token={token}", rasa, timeout=600)
        rasa_url = f"http://127.0.0.1:{rasa_port}"
        backend = {"rasa": [rasa.pid], "actions": [actions.pid]}

        http = httpx.Client(timeout=120)
        run = uuid.uuid4().hex[:8]

        def rest_turn(user: int, n: int) -> None:
            http.post(f"{rasa_url}/webhooks/rest/webhook", params={"token": token},
                      json={"sender": f"rest-{run}-{user}-{n // SESSION_TURNS}",
                            "message": QUESTIONS[n % len(QUESTIONS)]})

        rest_turn(0, 0)  # warm up
        results.append(measure("rasa", options.users, options.seconds, rest_turn, backend, [tracker_db]))

        gateway_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + gateway_db
        subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=PROJECT_ROOT, check=True, capture_output=True,
                       env={**env, "DATABASE_URL": gateway_url})
        gateway_env = {"DATABASE_URL": gateway_url, "REDIS_URL": REDIS_URL, "RATE_LIMITS": "off",
                       "MIGRATE_ON_START": "false", "LOG_FORMAT": "text",
                       "TRACKER_STORE_URL": POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + tracker_db}
        for count in (1, 2):
            with ExitStack() as gateways:
                running = []
                for index in range(count):
                    (work / f"gw{count}{index}").mkdir()
                    running.append(gateways.enter_context(running_gateway(rasa_url, work / f"gw{count}{index}",
                                                                          gateway_env)))
                pids = {**backend, "gateways": [g.process.pid for g in running]}
                urls = [g.url for g in running]
                name = "one gateway"
                if count == 2:
                    proxy = gateways.enter_context(running_nginx([u.removeprefix("http://") for u in urls],
                                                                 work / "nginx"))
                    pids["nginx"] = [proxy.process.pid, *children(proxy.process.pid)]
                    urls, name = [proxy.url], "two gateways + nginx"
                turn = socketio_turns(urls)
                turn(0, 0)  # warm up
                try:
                    results.append(measure(name, options.users, options.seconds, turn, pids,
                                           [gateway_db, tracker_db]))
                finally:
                    close_clients(turn)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
