"""Content currency report: per topic the last review, volatility and volatile facts, and
which answers are older than config/content.yml allows or were reviewed against a catalogue
that has changed since. A report, never a failure (exit 0).

    python -m scripts.content_check              # the full list
    python -m scripts.content_check --summary    # one line, plus the topics to re-check
    python -m scripts.content_check --reviewed appeal_decision [--date 2026-12-06]
        # record a finished review: the date and the catalogue it was checked against
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import textwrap

from bot.content.catalogue import topic_digest, topics
from bot.content.currency import TopicCurrency, currency_rows
from bot.content.paths import REVIEWED_FILE


def _status(row: TopicCurrency) -> str:
    reasons = []
    if row.overdue:
        reasons.append(f"older than {row.max_age_days} days")
    if row.catalogue_changed:
        reasons.append("catalogue changed since review")
    return "RE-CHECK: " + ", ".join(reasons) if reasons else "ok"


def full_report(rows: list[TopicCurrency]) -> str:
    lines = []
    for row in rows:
        reviewed = row.reviewed.isoformat() if row.reviewed else "never"
        age = f"{row.age_days} d" if row.age_days is not None else "-"
        kind = "volatile" if row.volatile else "stable"
        lines.append(f"{row.topic:28} reviewed {reviewed} ({age}, {kind}, max {row.max_age_days} d)  {_status(row)}")
        for fact in row.volatile_facts:
            lines.append(textwrap.fill(fact, 116, initial_indent="    - ", subsequent_indent="      "))
    return "\n".join(lines)


def summary(rows: list[TopicCurrency]) -> str:
    due = [r for r in rows if r.needs_review]
    head = (
        f"Content check: {len(rows)} topics, {sum(r.volatile for r in rows)} volatile, "
        f"{sum(r.overdue for r in rows)} past their review age, "
        f"{sum(r.catalogue_changed for r in rows)} changed in the catalogue since review"
    )
    return "\n".join([head] + [f"  {r.topic}: {_status(r)}" for r in due])


def record_review(topic: str, date: dt.date) -> None:
    """Set one topic's review date and catalogue fingerprint in content/reviewed.yml, in place
    (the file's comments and order stay)."""
    if topic not in topics():
        raise SystemExit(f"unknown topic {topic}")
    text = REVIEWED_FILE.read_text(encoding="utf-8")
    block = re.compile(rf"(\n  {re.escape(topic)}:\n    reviewed: )[^\n]*(\n    catalogue: )[^\n]*")
    if not block.search(text):
        text = text.rstrip("\n") + f"\n  {topic}:\n    reviewed: x\n    catalogue: x\n"
    text = block.sub(lambda m: f"{m.group(1)}{date.isoformat()}{m.group(2)}{topic_digest(topic)}", text)
    REVIEWED_FILE.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="one line and the topics to re-check")
    parser.add_argument("--today", type=dt.date.fromisoformat, help="report as of this date (YYYY-MM-DD)")
    parser.add_argument("--reviewed", metavar="TOPIC", help="record that TOPIC's answers were reviewed")
    parser.add_argument("--date", type=dt.date.fromisoformat, help="the review date for --reviewed (default today)")
    args = parser.parse_args(argv)
    if args.reviewed:
        record_review(args.reviewed, args.date or dt.date.today())
        print(f"recorded the review of {args.reviewed}; run python -m scripts.build_content")
        return 0
    rows = currency_rows(args.today)
    print(summary(rows) if args.summary else full_report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
