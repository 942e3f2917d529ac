"""Turn latency with Rasa's in-memory tracker store and with the SQLite tracker store that
config/endpoints.yml uses in development (the measurement behind that choice,
docs/security.md).

    python -m scripts.tracker_store_latency [turns] [model]

For each store: REST webhook turns followed by the gateway's tracker read (what one web
chat turn costs Rasa), in conversations of 10 turns, and the last 10 turns of one
conversation of 60 turns (does it grow with the conversation?). Real Rasa and action
servers, started as `make run` starts them; the stores take turns, twice, so that the
load of the machine hits both alike.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

from scripts.bench import percentile
from scripts.model import model_path
from scripts.nlu_eval import heldout_sets
from tests.helpers import Servers, running_servers

LONG = 60


def turn(servers: Servers, sender: str, text: str) -> float:
    started = time.perf_counter()
    servers.say(sender, text)
    servers.tracker(sender)
    return (time.perf_counter() - started) * 1000


def measure(model: Path, in_memory: bool, texts: list[str]) -> tuple[list[float], list[float]]:
    with running_servers(model, in_memory_tracker_store=in_memory) as servers:
        turn(servers, "warm-up", "moi")
        short = []
        sender = ""
        for index, text in enumerate(texts):
            if index % 10 == 0:
                sender = f"latency-{uuid.uuid4().hex}"
            short.append(turn(servers, sender, text))
        sender = f"latency-long-{uuid.uuid4().hex}"
        long = [turn(servers, sender, texts[i % len(texts)]) for i in range(LONG)]
    return short, long[-10:]


def main() -> None:
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    model = Path(sys.argv[2]) if len(sys.argv) > 2 else model_path()
    texts = [t for examples in heldout_sets().values() for t, _ in examples][:turns]
    results: dict[str, tuple[list[float], list[float]]] = {"memory": ([], []), "sqlite": ([], [])}
    for _ in range(2):
        for name in results:
            short, long = measure(model, name == "memory", texts)
            results[name][0].extend(short)
            results[name][1].extend(long)
    print("== REST turn + tracker read (ms)")
    print(f"{'store':<8}{'path':<16}{'n':>5}{'p50':>9}{'p95':>9}")
    for name, (short, long) in results.items():
        for path, values in (("turn", short), (f"turn_{LONG - 9}..{LONG}", long)):
            print(f"{name:<8}{path:<16}{len(values):>5}{statistics.median(values):>9.1f}"
                  f"{percentile(values, 0.95):>9.1f}")


if __name__ == "__main__":
    main()
