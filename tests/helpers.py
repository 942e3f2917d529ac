"""Starting the real Rasa and action servers for tests and benchmarks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import yaml

from bot.paths import PROJECT_ROOT
from bot.rasa_token import resolve_rasa_token
from scripts.serve import actions_command, rasa_command

# Debian's Chromium, headless, as root, on a machine without outside network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_processes(processes: list[subprocess.Popen], timeout: float) -> None:
    """Ask every process to stop at once, wait up to `timeout` s for each, kill what is still there."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def logged_process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A process of the project, its output in `log`, stopped on leaving."""
    with open(log, "w") as out:
        started = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield started
    finally:
        stop_processes([started], timeout=20)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url.split('?')[0]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url.split('?')[0]} did not come up in {timeout:.0f}s")


@dataclass
class Servers:
    rasa_url: str
    actions_url: str
    endpoints: Path
    # Rasa's API token (RASA_TOKEN, else the project's .rasa_token: the gateway finds the same).
    token: str = ""
    # Rasa's SQLite tracker store (None: another store).
    tracker_store: Path | None = None
    # The processes, Rasa first.
    pids: tuple[int, ...] = ()

    def url(self, path: str, **params: str) -> str:
        return f"{self.rasa_url}{path}?{urlencode({**params, 'token': self.token})}"

    def post(self, path: str, payload: dict) -> object:
        request = urllib.request.Request(
            self.url(path),
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read().decode())

    def say(self, sender: str, text: str, **metadata: object) -> list[dict]:
        return self.post(
            "/webhooks/rest/webhook", {"sender": sender, "message": text, "metadata": metadata}
        )

    def parse(self, text: str) -> dict:
        return self.post("/model/parse", {"text": text})

    def tracker(self, sender: str) -> dict:
        with urllib.request.urlopen(self.url(f"/conversations/{sender}/tracker"), timeout=30) as r:
            return json.loads(r.read().decode())


def development_endpoints(actions_port: int, tracker_store: Path | None) -> dict:
    """config/endpoints.yml (what `make run` uses) with this run's action server and, when
    it is a SQLite file, this run's tracker store; `tracker_store=None`: Rasa's in-memory one."""
    endpoints = yaml.safe_load((PROJECT_ROOT / "config" / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{actions_port}/webhook"
    if tracker_store is None:
        endpoints.pop("tracker_store", None)
    elif endpoints.get("tracker_store", {}).get("dialect") == "sqlite":
        endpoints["tracker_store"]["db"] = str(tracker_store)
    return endpoints


@contextmanager
def running_servers(model: Path, log_dir: Path | None = None, *, in_memory_tracker_store: bool = False
                    ) -> Iterator[Servers]:
    """The action server and Rasa, started as `make run` starts them (scripts/serve.py: on
    127.0.0.1, Rasa's API behind the token, config/endpoints.yml with a tracker store of this run's own)."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="assistant-logs-"))
    actions_port, rasa_port = free_port(), free_port()
    endpoints = log_dir / "endpoints.yml"
    tracker_store = None if in_memory_tracker_store else log_dir / "rasa_tracker.db"
    endpoints.write_text(yaml.safe_dump(development_endpoints(actions_port, tracker_store)), encoding="utf-8")
    token = resolve_rasa_token()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    processes = []
    try:
        with (
            open(log_dir / "actions.log", "w") as actions_log,
            open(log_dir / "rasa.log", "w") as rasa_log,
        ):
            actions = subprocess.Popen(
                actions_command(actions_port),
                cwd=PROJECT_ROOT,
                env=env,
                stdout=actions_log,
                stderr=subprocess.STDOUT,
            )
            processes.append(actions)
            command = rasa_command(rasa_port, str(model))
            command[command.index("--endpoints") + 1] = str(endpoints)
            rasa = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=rasa_log, stderr=subprocess.STDOUT
            )
            processes.append(rasa)
            wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions)
            wait_until_up(f"http://127.0.0.1:{rasa_port}/status?token={token}", rasa)
            yield Servers(
                f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}", endpoints,
                token=token, tracker_store=tracker_store, pids=(rasa.pid, actions.pid),
            )
    finally:
        stop_processes(processes, timeout=20)


@dataclass
class Gateway:
    url: str
    database_url: str
    process: subprocess.Popen


@contextmanager
def running_gateway(rasa_url: str, work_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Gateway]:
    """The gateway (`python -m bot serve`) on a free port with its own SQLite file."""
    port = free_port()
    database_url = (extra_env or {}).get("DATABASE_URL") or f"sqlite:///{work_dir / 'gateway.db'}"
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "RASA_URL": rasa_url,
        "DATABASE_URL": database_url,
        "GATEWAY_PORT": str(port),
        **(extra_env or {}),
    }
    with open(work_dir / "gateway.log", "a") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=PROJECT_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, timeout=60)
        yield Gateway(f"http://127.0.0.1:{port}", database_url, process)
    finally:
        stop_processes([process], timeout=15)


def wait_until(condition, timeout: float, what: str, interval: float = 0.1):  # noqa: ANN001, ANN201
    """The condition's first true value within `timeout` seconds (polled), else a failed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
