"""The NLU inbox: service developers label unresolved questions, and the labelled ones
become Rasa NLU training examples.

Each question is `new` until someone labels it: with an existing intent (`labelled`,
it becomes a training example of that intent), as a `new_topic` (a question the
assistant has no answer for yet; the proposed topic name is kept in label_intent),
or `dismissed` (noise, abuse, not a question). The export writes, per language,
`nlu_<language>.yml` in Rasa's NLU format (version "3.1"), only masked text, and
`new_topics.csv` with the questions waiting for a new answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select

from bot.insights.csv_safe import write_rows
from bot.insights.log import AMBIGUOUS, NEGATIVE_FEEDBACK, NLU_FALLBACK, OUT_OF_SCOPE, UNSUPPORTED_LANGUAGE
from bot.paths import PROJECT_ROOT
from bot.privacy.masking import TOKENS, mask
from bot.store.db import Database
from bot.store.models import UnresolvedQuestion, utcnow

NEW, LABELLED, NEW_TOPIC, DISMISSED = "new", "labelled", "new_topic", "dismissed"
STATUSES = (NEW, LABELLED, NEW_TOPIC, DISMISSED)
# What needs a person's decision: questions the assistant did not understand or answered
# badly. Handoff and contact requests are not here: the assistant understood them (a
# request in words that it did not understand is logged as nlu_fallback or ambiguous
# too), and they are counted in the report's handoff and contact figures.
INBOX_REASONS = (NLU_FALLBACK, AMBIGUOUS, OUT_OF_SCOPE, UNSUPPORTED_LANGUAGE, NEGATIVE_FEEDBACK)
DOMAIN_DIR = PROJECT_ROOT / "domain"
NLU_VERSION = "3.1"
# Intents that are no training target: the fallback, and the gateway's events
# (/EXTERNAL_<event> payloads that users cannot type).
NOT_LABELS = {"nlu_fallback"}
EVENT_PREFIX = "EXTERNAL_"
TOPIC_NAME = re.compile(r"[a-z][a-z0-9_]{1,63}")
_TOKEN = re.compile("|".join(re.escape(t) for t in TOKENS.values()))
# Rasa reads "[text](entity)", "[text]{...}" and "[text][...]" as entity annotations.
_ANNOTATION = re.compile(r"\](?=[({\[])")
# Characters YAML does not allow in a document (control characters, surrogates, U+FFFE/FFFF).
_NOT_YAML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_IN_INBOX = (UnresolvedQuestion.text.is_not(None), UnresolvedQuestion.reason.in_(INBOX_REASONS))


def domain_intents(domain_dir: Path = DOMAIN_DIR) -> set[str]:
    """The intents of the Rasa domain (every yml file of domain/)."""
    intents: set[str] = set()
    for path in sorted(Path(domain_dir).rglob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in content.get("intents") or []:
            intents.add(next(iter(entry)) if isinstance(entry, dict) else str(entry))
    return intents


@dataclass
class InboxItem:
    id: int
    created_at: datetime
    channel: str
    language: str | None
    reason: str
    text: str | None
    intents: list[dict] | None
    detected_language: str | None
    topic: str | None
    outcome: str | None
    outcome_topic: str | None
    status: str
    label_intent: str | None
    labelled_by: str | None
    labelled_at: datetime | None

    @classmethod
    def of(cls, row: UnresolvedQuestion) -> InboxItem:
        return cls(row.id, row.created_at, row.channel, row.language, row.reason, row.text, row.intents,
                   row.detected_language, row.topic, row.outcome, row.outcome_topic, row.label_status,
                   row.label_intent, row.labelled_by, row.labelled_at)

    @property
    def suggestion(self) -> str | None:
        """What to label it with, if anything suggests it: the adviser's topic, else the best guess."""
        if self.outcome_topic:
            return self.outcome_topic
        return (self.intents or [{}])[0].get("name")


def training_text(text: str | None) -> str | None:
    """The example as it goes into NLU data: masked, one line, no entity markup; None if
    nothing is left but masking tokens and punctuation."""
    if not text:
        return None
    line = " ".join(_NOT_YAML.sub(" ", mask(text)).split())
    line = _ANNOTATION.sub("] ", line)
    if sum(ch.isalpha() for ch in _TOKEN.sub("", line)) < 2:
        return None
    return line


class Inbox:
    def __init__(self, database: Database, intents: set[str] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = database
        self.intents = {i for i in (intents if intents is not None else domain_intents())
                        if i not in NOT_LABELS and not i.startswith(EVENT_PREFIX)}
        self._clock = clock

    def items(
        self,
        *,
        status: str | None = NEW,
        language: str | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InboxItem]:
        """Questions with text and a reason of INBOX_REASONS, newest first; `status=None` for every status."""
        query = select(UnresolvedQuestion).where(*_IN_INBOX)
        if status is not None:
            query = query.where(UnresolvedQuestion.label_status == status)
        if language is not None:
            query = query.where(UnresolvedQuestion.language == language)
        if reason is not None:
            query = query.where(UnresolvedQuestion.reason == reason)
        if since is not None:
            query = query.where(UnresolvedQuestion.created_at >= since)
        if until is not None:
            query = query.where(UnresolvedQuestion.created_at < until)
        query = query.order_by(UnresolvedQuestion.created_at.desc(), UnresolvedQuestion.id.desc())
        with self.db.session() as session:
            rows = session.execute(query.limit(limit).offset(offset)).scalars().all()
            return [InboxItem.of(row) for row in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        """{language: {status: count}} of the questions in the inbox."""
        with self.db.session() as session:
            rows = session.execute(
                select(UnresolvedQuestion.language, UnresolvedQuestion.label_status, func.count())
                .where(*_IN_INBOX)
                .group_by(UnresolvedQuestion.language, UnresolvedQuestion.label_status)
            ).all()
        counts: dict[str, dict[str, int]] = {}
        for language, status, count in rows:
            counts.setdefault(language or "unknown", {})[status] = count
        return counts

    def get(self, item_id: int) -> InboxItem | None:
        with self.db.session() as session:
            row = session.get(UnresolvedQuestion, item_id)
            return InboxItem.of(row) if row else None

    def label(self, item_id: int, label: str, by: str, topic_name: str | None = None) -> InboxItem:
        """Label one question: with an intent of the domain, NEW_TOPIC (optionally with a
        proposed `topic_name`, lower_snake_case) or DISMISSED; NEW takes a label back.
        `by` is who labelled it (the console user name)."""
        if not by:
            raise ValueError("who labelled it is needed")
        if label == NEW_TOPIC:
            if topic_name is not None and not TOPIC_NAME.fullmatch(topic_name):
                raise ValueError("a topic name is lower_snake_case, 2-64 characters")
            status, intent = NEW_TOPIC, topic_name
        elif label in (DISMISSED, NEW):
            status, intent = label, None
        elif label in self.intents:
            status, intent = LABELLED, label
        else:
            raise ValueError(f"{label!r} is not an intent of the domain, {NEW_TOPIC} or {DISMISSED}")
        with self.db.session() as session:
            row = session.get(UnresolvedQuestion, item_id)
            if row is None:
                raise KeyError(item_id)
            if row.text is None:
                raise ValueError("a question without text cannot be labelled")
            row.label_status, row.label_intent = status, intent
            row.labelled_by, row.labelled_at = (None, None) if status == NEW else (by, self._clock())
            session.flush()
            return InboxItem.of(row)

    def label_many(self, item_ids: list[int], label: str, by: str, topic_name: str | None = None) -> int:
        """Label several questions alike (e.g. a whole cluster of clusters.py)."""
        for item_id in item_ids:
            self.label(item_id, label, by, topic_name)
        return len(item_ids)

    def labelled_examples(self, language: str | None = None) -> dict[str, dict[str, list[str]]]:
        """{language: {intent: [examples]}} of the labelled questions, deduplicated, sorted."""
        query = select(UnresolvedQuestion.language, UnresolvedQuestion.label_intent, UnresolvedQuestion.text).where(
            UnresolvedQuestion.label_status == LABELLED, UnresolvedQuestion.text.is_not(None))
        if language is not None:
            query = query.where(UnresolvedQuestion.language == language)
        examples: dict[str, dict[str, set[str]]] = {}
        with self.db.session() as session:
            for lang, intent, text in session.execute(query):
                line = training_text(text)
                if line and intent in self.intents:
                    examples.setdefault(lang or "unknown", {}).setdefault(intent, set()).add(line)
        return {lang: {intent: sorted(lines, key=str.casefold) for intent, lines in sorted(by_intent.items())}
                for lang, by_intent in sorted(examples.items())}

    def export_yaml(self, language: str) -> str:
        """Rasa NLU training data (YAML, version "3.1") of one language's labelled questions."""
        by_intent = self.labelled_examples(language).get(language, {})
        return nlu_yaml(by_intent, f"Labelled in the NLU inbox, language {language}: masked user questions.")

    def export(self, out: Path, languages: list[str] | None = None) -> dict[str, Path]:
        """Write nlu_<language>.yml for every language with labelled questions, and
        new_topics.csv; returns {language: path} of the NLU files."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for language, by_intent in self.labelled_examples().items():
            if languages and language not in languages:
                continue
            path = out / f"nlu_{language}.yml"
            path.write_text(nlu_yaml(by_intent, f"Labelled in the NLU inbox, language {language}: "
                                                "masked user questions."), encoding="utf-8")
            written[language] = path
        with (out / "new_topics.csv").open("w", newline="", encoding="utf-8") as file:
            write_rows(file, ["id", "created_at", "language", "proposed_topic", "text", "labelled_by"], [
                [item.id, item.created_at.isoformat(), item.language, item.label_intent or "",
                 training_text(item.text) or mask(item.text or ""), item.labelled_by]
                for item in self.items(status=NEW_TOPIC, limit=100_000)
                if not languages or item.language in languages
            ])
        return written


def nlu_yaml(by_intent: dict[str, list[str]], comment: str = "") -> str:
    """Rasa NLU YAML: each intent with its examples as a literal block of "- example" lines."""
    lines = [f"# {comment}"] if comment else []
    lines += [f'version: "{NLU_VERSION}"', "nlu:" if by_intent else "nlu: []"]
    for intent, examples in by_intent.items():
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {example}" for example in examples)
    return "\n".join(lines) + "\n"
