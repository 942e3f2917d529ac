"""Rasa's resident memory after a few turns, as `make run` starts it (docs/performance.md, "Memory").

Starts the action server and Rasa (tests/helpers.running_servers: scripts/serve.py, a SQLite
tracker store of its own), sends three conversations of nine messages in nine languages
through the REST webhook, and prints each process's resident memory and its peak
(/proc/<pid>/status). The language detector's models follow `LINGUA_MODE`
(docs/language.md), so the modes compare as:

    LINGUA_MODE=low python -m scripts.rasa_memory
"""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
import psutil

from scripts.load_bench import high_water_mb
from scripts.model import model_path
from tests.helpers import running_servers

MESSAGES = ("hei", "miten ilmoittaudun työttömäksi", "how much is the unemployment benefit",
            "что такое starttiraha", "مرحبا", "hej", "tôi mất việc rồi", "我想找工作",
            "Ich brauche Hilfe mit meinem Arbeitslosengeld bitte")
CONVERSATIONS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the model of the current inputs")
    model = parser.parse_args().model or model_path()
    with running_servers(model) as servers:
        for conversation in range(CONVERSATIONS):
            for text in MESSAGES:
                httpx.post(servers.url("/webhooks/rest/webhook"),
                           json={"sender": f"memory-{conversation}", "message": text}, timeout=60).raise_for_status()
        print(f"{'process':<10}{'rss_mb':>8}{'peak_mb':>9}")
        for name, pid in zip(("rasa", "actions"), servers.pids, strict=True):
            print(f"{name:<10}{psutil.Process(pid).memory_info().rss / 2**20:>8.0f}{high_water_mb(pid):>9.0f}")


if __name__ == "__main__":
    main()
