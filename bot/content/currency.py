"""Content currency: which topics' answers are due for a re-check.

One row per catalogue topic: when its answers were last reviewed (content/reviewed.yml),
whether the catalogue marks it volatile and with which facts, how old the review is
against the limit of config/content.yml, and whether the catalogue's facts or sources
changed since that review. Used by `python -m scripts.content_check` (make content-check,
make test) and meant for the analyst console.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import yaml

from bot.content.catalogue import topic_digest, topics
from bot.content.paths import CONTENT_CONFIG, REVIEWED_FILE


@dataclass(frozen=True)
class TopicCurrency:
    topic: str
    reviewed: dt.date | None
    age_days: int | None
    volatile: bool
    volatile_facts: tuple[str, ...]
    max_age_days: int
    catalogue_changed: bool  # the topic's facts or sources differ from those it was reviewed against

    @property
    def overdue(self) -> bool:
        return self.age_days is None or self.age_days > self.max_age_days

    @property
    def needs_review(self) -> bool:
        return self.overdue or self.catalogue_changed


def max_ages() -> dict[str, int]:
    data = yaml.safe_load(CONTENT_CONFIG.read_text(encoding="utf-8"))
    return {"volatile": int(data["max_age_days"]["volatile"]), "stable": int(data["max_age_days"]["stable"])}


def reviews() -> dict[str, dict]:
    return (yaml.safe_load(REVIEWED_FILE.read_text(encoding="utf-8")) or {}).get("topics") or {}


def currency_rows(today: dt.date | None = None) -> list[TopicCurrency]:
    """Every catalogue topic, those most in need of a review first."""
    today = today or dt.date.today()
    limits = max_ages()
    recorded = reviews()
    rows = []
    for name, entry in topics().items():
        volatile = bool(entry.get("volatile"))
        review = recorded.get(name) or {}
        reviewed = review.get("reviewed")
        rows.append(
            TopicCurrency(
                topic=name,
                reviewed=reviewed,
                age_days=(today - reviewed).days if reviewed else None,
                volatile=volatile,
                volatile_facts=tuple(entry.get("facts", [])) if volatile else (),
                max_age_days=limits["volatile" if volatile else "stable"],
                catalogue_changed=review.get("catalogue") != topic_digest(name),
            )
        )
    never = 10**6  # a topic never reviewed sorts as the oldest
    return sorted(rows, key=lambda r: (not r.needs_review, -(never if r.age_days is None else r.age_days), r.topic))
