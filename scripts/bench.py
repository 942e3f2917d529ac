"""`make bench`: accuracy, language decision and latency figures.

Sections and columns are stable; compare runs line by line.

1. NLU held-out: top-1 accuracy and macro F1 per language (tests/nlu/heldout, cleaned
   of near-duplicates of training: scripts/near_duplicates.py); "did you mean": how often
   the right topic is among the offered buttons (every service-topic message, and the
   ones that fall back); the development sets (tests/nlu/dev) per language and per kind.
2. Language on short messages (shared/langid-data and the held-out sets):
   raw seeded langdetect, the component's detector (its best guess), and the
   component's decision without context (a new conversation) and inside a
   conversation already in that language (one- and two-word messages must not
   flip it); for languages outside the list, how often they are recognised as such.
3. Latency: p50/p95 of an NLU parse, of a full REST webhook turn (Rasa and
   the action server, real processes on this machine), and of a full web chat
   turn through the gateway (socket.io over HTTP long-polling, from
   `user_uttered` to the turn's first `bot_uttered`; the gateway emits a turn's
   replies together), so the gateway's overhead shows beside the REST turn.
4. Topic discovery: time and peak resident memory of clustering 10,000 unresolved
   questions of one language (bot/insights/clusters.py), in a process of its own
   (scripts/cluster_bench.py); rss_mb is the process before clustering.
5. Load: everything `make run` starts (Rasa, the action server, the gateway with
   RATE_LIMITS=off), closed loop (each simulated user sends its next message as soon as
   its turn is answered) with 1, 10 and 50 users, through the gateway's web chat
   (socket.io, the widget's protocol; a turn is answered at its first `bot_uttered`, and
   the user waits for the rest of the turn's replies, which come together, before the
   next message) and through Rasa's REST webhook, the same messages in the same run:
   p50/p95/p99 and turns/s. Then turn 2 against turn 100 of one conversation (median of
   turns 2-11 and 91-100) on both paths, and each process's resident memory (at the end
   and its peak). The machine's load average is printed with each table: the figures
   depend on what else runs. BENCH_LOAD_SECONDS (20) per run, BENCH_RASA_INSTANCES (1):
   2 starts two Rasa processes (each with its own action server and tracker store) and
   the gateway spreads conversations over them as in production (RASA_URLS).

    python -m scripts.bench [model] [--only nlu,language,latency,clustering,load]
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bot.language import LanguageDecider, load_catalog
from bot.paths import PROJECT_ROOT
from scripts.model import model_path
from scripts.nlu_data import DEV_KINDS
from scripts.nlu_eval import (
    DEV,
    HELDOUT,
    did_you_mean_recall,
    evaluate,
    heldout_sets,
    load_agent,
    topic_titles_by_language,
)
from tests.helpers import running_gateway, running_servers

# shared/ beside the project (/work/main), or two levels up from a worktree (/work/wt/<name>).
LANGID_DIR = Path(
    os.environ.get("LANGID_DATA", next(
        (p for p in (PROJECT_ROOT.parent / "shared", PROJECT_ROOT.parent.parent / "shared") if p.exists()),
        PROJECT_ROOT.parent / "shared") / "langid-data" / "main")
)
LANGID_SETS = ("single-words", "word-pairs", "sentences")
OTHER_LANGUAGES = ("tr", "es", "ku", "ckb")
# The widget's transport after its upgrade; "polling" for a browser whose proxy blocks WebSocket.
WEBCHAT_TRANSPORT = os.environ.get("BENCH_WEBCHAT_TRANSPORT", "websocket")
MASH_SET = PROJECT_ROOT / "tests" / "nlu" / "mash" / "mash.txt"
PARSES, TURNS = 200, 100
CLUSTER_TEXTS = 10_000


def webchat_turns(gateway_url: str, texts: list[str], conversation_turns: int = 10) -> list[float]:
    """Each turn's time to its first reply through the gateway, in conversations of
    `conversation_turns` turns, as the REST turns beside them (a longer conversation costs
    Rasa more per turn: the load section's "Conversation length"). The load section's web chat
    user, one turn at a time; a turn not answered within its timeout is left out."""
    import asyncio

    from scripts.load_bench import WebchatUser

    async def conversations() -> list[float]:
        user, timings = WebchatUser(gateway_url), []
        for index, text in enumerate(texts):
            if index % conversation_turns == 0:
                await user.start()
            started = time.perf_counter()
            try:
                await user.say(text)
                timings.append((time.perf_counter() - started) * 1000)
            except asyncio.TimeoutError:
                pass
            await asyncio.sleep(0.3)  # let the rest of the turn arrive before the next message
        await user.close()
        return timings

    return asyncio.run(conversations())


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def nlu_section(model: Path) -> None:
    agent = load_agent(model)
    languages = load_catalog().supported
    heldout = evaluate(model, languages, HELDOUT, agent)
    print("== NLU held-out (top-1 intent)")
    print(f"{'language':<9}{'examples':>9}{'accuracy':>10}{'macro_f1':>10}")
    for language, (score, _) in heldout.items():
        print(f"{language:<9}{score.examples:>9}{score.accuracy:>10.3f}{score.macro_f1:>10.3f}")

    titles = topic_titles_by_language(languages)
    print("== Did you mean (held-out: the right topic among the offered buttons)")
    print(f"{'language':<9}{'topical':>9}{'top3':>8}{'fell_back':>11}{'rescued':>9}")
    for language, (_, predictions) in heldout.items():
        recall, fell, rescued = did_you_mean_recall(predictions, titles[language])
        topical = sum(p.expected in titles[language] for p in predictions)
        rescued_cell = f"{rescued:>9.3f}" if fell else f"{'n/a':>9}"
        print(f"{language:<9}{topical:>9}{recall:>8.3f}{fell:>11}{rescued_cell}")

    print("== NLU development sets (top-1 intent, per kind of message)")
    print(f"{'language':<9}{'examples':>9}{'accuracy':>10}{'macro_f1':>10}" + "".join(f"{k:>14}" for k in DEV_KINDS))
    for language, (score, predictions) in evaluate(model, languages, DEV, agent).items():
        kinds = []
        for kind in DEV_KINDS:
            of_kind = [p for p in predictions if p.kind == kind]
            kinds.append(f"{sum(p.intent == p.expected for p in of_kind) / len(of_kind):>14.3f}" if of_kind
                         else f"{'n/a':>14}")
        print(f"{language:<9}{score.examples:>9}{score.accuracy:>10.3f}{score.macro_f1:>10.3f}" + "".join(kinds))


def language_section() -> None:
    catalog = load_catalog()
    decider = LanguageDecider(catalog)
    detector = decider.detector
    sets: list[tuple[str, str, list[str]]] = []
    for name in LANGID_SETS:
        for language in catalog.codes:
            path = LANGID_DIR / name / f"{language}.txt"
            if path.exists():
                sets.append((name, language, read_lines(path)))
    for language, examples in heldout_sets(catalog.supported).items():
        sets.append(("heldout", language, [text for text, _ in examples]))

    print("== Language on short messages (accuracy)")
    print(
        f"{'set':<14}{'language':<9}{'n':>5}{'langdetect':>12}{'detector':>10}"
        f"{'no_context':>12}{'in_conversation':>17}"
    )
    for name, language, texts in sets:
        raw = sum(detector.raw(t) == language for t in texts) / len(texts)
        guess = sum(detector.detect(t).code == language for t in texts) / len(texts)
        fresh = sum(decider.decide(t).code == language for t in texts) / len(texts)
        if catalog.is_supported(language):
            context = {"conversation_language": language}
            kept = f"{sum(decider.decide(t, context).code == language for t in texts) / len(texts):>17.3f}"
        else:
            kept = f"{'n/a':>17}"
        print(
            f"{name:<14}{language:<9}{len(texts):>5}{raw:>12.3f}{guess:>10.3f}{fresh:>12.3f}{kept}"
        )

    def unsupported_share(texts: list[str], context: dict[str, str] | None = None) -> float:
        return sum(decider.decide(t, context).unsupported is not None for t in texts) / len(texts)

    # in_conversation: inside an English conversation, where both detectors must name the language.
    english = {"conversation_language": "en"}
    print("== Languages outside the list (share recognised as unsupported)")
    print(f"{'set':<14}{'language':<9}{'n':>5}{'recognised':>12}{'in_conversation':>17}")
    for name in ("word-pairs", "sentences"):
        for language in OTHER_LANGUAGES:
            path = LANGID_DIR / name / f"{language}.txt"
            if not path.exists():
                continue
            texts = read_lines(path)
            print(f"{name:<14}{language:<9}{len(texts):>5}{unsupported_share(texts):>12.3f}"
                  f"{unsupported_share(texts, english):>17.3f}")

    mash = [line for line in read_lines(MASH_SET) if not line.startswith("#")]
    print("== Keyboard mash (share taken for another language: lower is better)")
    print(f"{'set':<14}{'n':>5}{'first_message':>15}{'in_conversation':>17}")
    print(f"{'mash':<14}{len(mash):>5}{unsupported_share(mash):>15.3f}{unsupported_share(mash, english):>17.3f}")


def latency_section(model: Path) -> None:
    texts = [t for examples in heldout_sets().values() for t, _ in examples]
    with running_servers(model) as servers:
        servers.parse("warm up")
        servers.say("bench-warmup", "moi")
        parse_ms = []
        for text in texts[:PARSES]:
            started = time.perf_counter()
            servers.parse(text)
            parse_ms.append((time.perf_counter() - started) * 1000)
        turn_ms = []
        sender = f"bench-{uuid.uuid4().hex}"
        for index, text in enumerate(texts[:TURNS]):
            if index % 10 == 0:
                sender = f"bench-{uuid.uuid4().hex}"
            started = time.perf_counter()
            servers.say(sender, text)
            turn_ms.append((time.perf_counter() - started) * 1000)
        with running_gateway(servers.rasa_url, Path(tempfile.mkdtemp(prefix="bench-gateway-")),
                             {"RATE_LIMITS": "off"}) as gateway:  # 100 turns from one address
            webchat_ms = webchat_turns(gateway.url, texts[:TURNS])
    print("== Latency (ms)")
    print(f"{'path':<12}{'n':>5}{'p50':>9}{'p95':>9}")
    for name, values in (("parse", parse_ms), ("rest_turn", turn_ms), ("webchat_turn", webchat_ms)):
        print(
            f"{name:<12}{len(values):>5}{statistics.median(values):>9.1f}{percentile(values, 0.95):>9.1f}"
        )


def clustering_section(texts: int = CLUSTER_TEXTS) -> None:
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "scripts.cluster_bench", str(texts)], cwd=PROJECT_ROOT,
                            check=True, capture_output=True, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print("== Topic discovery")
    print(f"{'texts':<8}{'groups':>8}{'seconds':>9}{'rss_mb':>9}{'peak_rss_mb':>13}")
    print(f"{figures['texts']:<8}{figures['groups']:>8}{figures['seconds']:>9.2f}{figures['rss_mb']:>9.1f}"
          f"{figures['peak_rss_mb']:>13.1f}")


def model_section(model: Path) -> None:
    import json

    timing = model.with_suffix("").with_suffix(".train.json")
    seconds = json.loads(timing.read_text())["train_seconds"] if timing.exists() else None
    print("== Model")
    print(f"{'size_mb':<14}{model.stat().st_size / 1e6:>9.1f}")
    print(f"{'train_seconds':<14}{seconds if seconds is not None else 'n/a':>9}")


SECTIONS = ("model", "nlu", "language", "latency", "clustering", "load")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="the model (default: the one of the current inputs)")
    parser.add_argument("--only", help=f"comma-separated sections of {', '.join(SECTIONS)} (default: all)")
    options = parser.parse_args(argv)
    sections = set(options.only.split(",")) if options.only else set(SECTIONS)
    if sections - set(SECTIONS):
        parser.error(f"unknown section(s): {', '.join(sorted(sections - set(SECTIONS)))}")
    model = Path(options.model) if options.model else model_path()
    # A web chat user hanging up without waiting makes engineio's client log "packet queue is
    # empty, aborting" as an error: nothing went wrong, and it would break up the tables.
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    print(f"model {model.name}")
    if "model" in sections:
        model_section(model)
    if "nlu" in sections:
        nlu_section(model)
    if "language" in sections:
        language_section()
    if "latency" in sections:
        latency_section(model)
    if "clustering" in sections:
        clustering_section()
    if "load" in sections:
        from scripts.load_bench import load_section

        load_section(model)


if __name__ == "__main__":
    main()
