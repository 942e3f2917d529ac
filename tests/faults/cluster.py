"""Processes a fault test can kill with SIGKILL and start again on the same port: the
action server, a Rasa server and the gateway, each logging to its own file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.paths import PROJECT_ROOT
from bot.rasa_token import resolve_rasa_token
from scripts.serve import actions_command, rasa_command
from tests.helpers import development_endpoints, free_port, stop_processes, wait_until_up


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    timeout: float = 300.0

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **self.env}
        with open(self.log_path, "a") as log:
            log.write(f"\n--- start {time.strftime('%H:%M:%S')} ---\n")
            log.flush()
            self.process = subprocess.Popen(self.command, cwd=PROJECT_ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_until_up(self.health_url, self.process, timeout=self.timeout)

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            stop_processes([self.process], timeout=20)


def actions_service(work: Path) -> Service:
    port = free_port()
    return Service("actions", actions_command(port), f"http://127.0.0.1:{port}/health", work / "actions.log")


def rasa_service(work: Path, model: Path, actions: Service) -> Service:
    port = free_port()
    # config/endpoints.yml (the response generator and all) with this run's action server;
    # Rasa's in-memory tracker store, as before.
    actions_port = int(actions.health_url.rsplit(":", 1)[1].split("/")[0])
    endpoints = work / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump(development_endpoints(actions_port, None)), encoding="utf-8")
    command = rasa_command(port, str(model))
    command[command.index("--endpoints") + 1] = str(endpoints)
    # Rasa's /status needs the API token (the gateway finds the same one).
    return Service("rasa", command, f"http://127.0.0.1:{port}/status?token={resolve_rasa_token()}", work / "rasa.log")


def gateway_service(work: Path, rasa_url: str, env: dict[str, str]) -> Service:
    port = free_port()
    return Service("gateway", [sys.executable, "-m", "bot", "serve"], f"http://127.0.0.1:{port}/healthz",
                   work / "gateway.log", env={"RASA_URL": rasa_url, "GATEWAY_PORT": str(port), **env},
                   timeout=90)


def base_url(service: Service) -> str:
    return service.health_url.rsplit("/", 1)[0]
