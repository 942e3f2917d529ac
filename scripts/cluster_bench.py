"""Time and peak memory of topic discovery (bot.insights.clusters.cluster_texts) on N texts.

`python -m scripts.cluster_bench 10000` prints one JSON line: texts, groups, seconds,
rss_mb (the process's resident memory after the imports and the texts, before
clustering) and peak_rss_mb (its maximum resident memory after clustering: the kernel's
high-water mark VmHWM, which starts again at exec; getrusage's ru_maxrss does not, so in
a process started by `make bench`, which holds the Rasa model, it reported the parent's
1.6 GB). `make bench` runs it in a process of its own, so the peak is the clustering's.

The texts are one language's worst case: every Finnish training example of data/nlu/fi
with a few openers and closers ("hei, ...", "... kiitos"), shuffled with a fixed seed.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time

from bot.insights.clusters import cluster_texts
from bot.paths import PROJECT_ROOT
from scripts.nlu_eval import load_examples

OPENERS = ("", "hei, ", "moi ", "anteeksi, ", "kysyisin: ", "hyvää päivää, ")
CLOSERS = ("", "?", " kiitos", " pliis", "!!", " :)")


def finnish_questions(count: int) -> list[str]:
    """`count` Finnish questions (repeating the variants when there are not enough)."""
    base = sorted({text for path in sorted((PROJECT_ROOT / "data" / "nlu" / "fi").glob("*.yml"))
                   for text, _ in load_examples(path)})
    variants = [opener + text + closer for closer in CLOSERS for opener in OPENERS for text in base]
    random.Random(0).shuffle(variants)
    return [variants[i % len(variants)] for i in range(count)]


def rss_mb() -> float:
    """The maximum resident memory of this program so far, in MB (VmHWM on Linux, in kB)."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(count: int) -> dict[str, float | int]:
    texts = finnish_questions(count)
    baseline = rss_mb()
    started = time.perf_counter()
    groups = cluster_texts(texts)
    seconds = time.perf_counter() - started
    return {"texts": count, "groups": len(groups), "seconds": round(seconds, 2), "rss_mb": round(baseline, 1),
            "peak_rss_mb": round(rss_mb(), 1)}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)))
