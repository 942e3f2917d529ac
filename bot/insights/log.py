"""The unresolved-question log and feedback (work package 6).

`classify_turn(parse_data)` decides, from Rasa's parse result of one user message
(`tracker.latest_message`, or `/model/parse`), whether the assistant failed to
resolve it and why. `InsightsLog` writes the log: every text goes through
`mask` inside `record`, so no caller can store raw text, and conversations are
identified only by their pseudonymous key (bot/insights/pseudonym.py).

The methods are synchronous, like bot.store.repository; the async gateway calls them
through a worker thread (`anyio.to_thread.run_sync`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import select, update

from bot.insights.pseudonym import conversation_key
from bot.paths import CONFIG_DIR
from bot.privacy.masking import mask
from bot.store.db import Database
from bot.store.models import Feedback, UnresolvedQuestion, utcnow

# Reasons. The first four are decided per message by classify_turn; the others are
# recorded where they happen (feedback buttons, the handoff payload, contact requests).
NLU_FALLBACK = "nlu_fallback"
AMBIGUOUS = "ambiguous"
OUT_OF_SCOPE = "out_of_scope"
UNSUPPORTED_LANGUAGE = "unsupported_language"
NEGATIVE_FEEDBACK = "negative_feedback"
HANDOFF_REQUEST = "handoff_request"
CONTACT_REQUEST = "contact_request"
TURN_REASONS = (NLU_FALLBACK, AMBIGUOUS, OUT_OF_SCOPE, UNSUPPORTED_LANGUAGE)
REASONS = (*TURN_REASONS, NEGATIVE_FEEDBACK, HANDOFF_REQUEST, CONTACT_REQUEST)
# Why a person was asked for (the `reason` of the handoff payload of actions/handoff.py).
HANDOFF_TRIGGERS = ("user_request", "button", "fallback_offer", "interpreter")
# What became of an unresolved question.
OUTCOMES = ("answered_by_adviser", "contact_handled", "user_left", "timeout")
# Feedback kinds: thumbs on one answer (value 1 or -1), or a rating of the conversation (1-5).
ANSWER, RATING = "answer", "rating"
THUMBS_UP, THUMBS_DOWN = 1, -1

FALLBACK_INTENT = "nlu_fallback"
UNSUPPORTED_ENTITY = "unsupported_language"
# classify_turn's defaults: the FallbackClassifier threshold of config/config.yml, and
# "ambiguous" = the two best real intents both at least AMBIGUITY_FLOOR and closer than AMBIGUITY_GAP.
DEFAULT_FALLBACK_THRESHOLD = 0.15
AMBIGUITY_GAP = 0.1
AMBIGUITY_FLOOR = 0.1
TOP_INTENTS = 3
# How far back an outcome reaches: older open questions of the same conversation keep no outcome.
OUTCOME_WINDOW = timedelta(days=30)
# A "did you mean" choice labels the conversation's unresolved question of at most this long ago.
CHOICE_WINDOW = timedelta(hours=2)
# Who labelled a question that the user labelled by picking a suggested topic.
CHOSEN_BY_USER = "user:did_you_mean"


def fallback_threshold_from_config(path=CONFIG_DIR / "config.yml") -> float:
    """The FallbackClassifier threshold of the Rasa pipeline (config/config.yml)."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        return DEFAULT_FALLBACK_THRESHOLD
    for component in config.get("pipeline") or []:
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", DEFAULT_FALLBACK_THRESHOLD))
    return DEFAULT_FALLBACK_THRESHOLD


def top_intents(parse_data: dict[str, Any], n: int = TOP_INTENTS) -> list[dict[str, Any]]:
    """The classifier's best `n` real intents (nlu_fallback left out): [{"name", "confidence"}]."""
    ranking = parse_data.get("intent_ranking") or []
    if not ranking and parse_data.get("intent"):
        ranking = [parse_data["intent"]]
    best = []
    for entry in ranking:
        name = (entry or {}).get("name")
        if not name or name == FALLBACK_INTENT:
            continue
        best.append({"name": name, "confidence": round(float(entry.get("confidence") or 0.0), 4)})
    best.sort(key=lambda e: -e["confidence"])
    return best[:n]


def unsupported_language_of(parse_data: dict[str, Any]) -> str | None:
    """The language of a message the assistant does not speak (LanguageDecider), if so."""
    language = parse_data.get("language")
    if isinstance(language, dict) and language.get("unsupported"):
        return str(language["unsupported"])
    for entity in parse_data.get("entities") or []:
        if entity.get("entity") == UNSUPPORTED_ENTITY and entity.get("value"):
            return str(entity["value"])
    return None


def classify_turn(
    parse_data: dict[str, Any],
    fallback_threshold: float = DEFAULT_FALLBACK_THRESHOLD,
    ambiguity_gap: float = AMBIGUITY_GAP,
    ambiguity_floor: float = AMBIGUITY_FLOOR,
) -> str | None:
    """Why the assistant did not resolve this message, or None when it did.

    - `unsupported_language`: written in a language the assistant does not speak (the
      `language.unsupported` key or the `unsupported_language` entity of LanguageDecider);
    - `out_of_scope`: classified as outside employment services;
    - `ambiguous`: the fallback (intent `nlu_fallback`, or a top intent below
      `fallback_threshold`) while the two best real intents are both at least
      `ambiguity_floor` and closer than `ambiguity_gap`: it was torn between two topics;
    - `nlu_fallback`: the fallback otherwise (nothing matched well enough).

    Button payloads ("/intent{...}") are never unresolved.
    """
    if (parse_data.get("text") or "").startswith("/"):
        return None
    if unsupported_language_of(parse_data):
        return UNSUPPORTED_LANGUAGE
    intent = parse_data.get("intent") or {}
    name = intent.get("name")
    if name == OUT_OF_SCOPE:
        return OUT_OF_SCOPE
    candidates = top_intents(parse_data, 2)
    fell_back = name == FALLBACK_INTENT or not name or float(intent.get("confidence") or 0.0) < fallback_threshold
    if not fell_back:
        return None
    if (
        len(candidates) == 2
        and candidates[1]["confidence"] >= ambiguity_floor
        and candidates[0]["confidence"] - candidates[1]["confidence"] < ambiguity_gap
    ):
        return AMBIGUOUS
    return NLU_FALLBACK


def _storable(text: str | None) -> str | None:
    """Masked, and without NUL characters (PostgreSQL cannot store them in text)."""
    return mask(text).replace("\x00", " ") if text else None


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}: one of {', '.join(allowed)}")


class InsightsLog:
    """Writes unresolved questions, their outcomes and feedback."""

    def __init__(self, database: Database, secret: bytes | str, *, fallback_threshold: float | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        if not secret:
            raise ValueError("a pseudonym secret is needed (PSEUDONYM_SECRET)")
        self.db = database
        self._secret = secret
        self._clock = clock
        # The Rasa pipeline's own threshold unless told otherwise.
        self.fallback_threshold = (
            fallback_threshold if fallback_threshold is not None else fallback_threshold_from_config()
        )

    def key(self, conversation_id: str) -> str:
        """The pseudonymous key of a conversation."""
        return conversation_key(conversation_id, self._secret)

    def record(
        self,
        conversation_id: str,
        *,
        channel: str,
        reason: str,
        language: str | None = None,
        text: str | None = None,
        intents: list[dict[str, Any]] | None = None,
        detected_language: str | None = None,
        answer: str | None = None,
        topic: str | None = None,
        trigger: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Store one unresolved question; `text` and `answer` are masked here. Returns its id.

        reason `unsupported_language` takes `detected_language`; `negative_feedback` the
        `answer` given and its `topic`; `handoff_request` its `trigger` (user_request,
        button, fallback_offer, interpreter) and `topic`; `contact_request` its `topic`.
        """
        _check(reason, REASONS, "reason")
        if reason == HANDOFF_REQUEST:
            _check(trigger, HANDOFF_TRIGGERS, "handoff trigger")
        elif trigger is not None:
            raise ValueError("a trigger belongs to handoff_request only")
        row = UnresolvedQuestion(
            created_at=at or self._clock(),
            conversation_key=self.key(conversation_id),
            channel=channel,
            language=language,
            text=_storable(text),
            intents=[{"name": str(i["name"]), "confidence": round(float(i.get("confidence") or 0.0), 4)}
                     for i in (intents or [])][:TOP_INTENTS] or None,
            reason=reason,
            detected_language=detected_language,
            answer=_storable(answer),
            topic=topic,
            trigger=trigger,
            label_status="new",
        )
        with self.db.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def record_turn(
        self,
        conversation_id: str,
        *,
        channel: str,
        parse_data: dict[str, Any],
        text: str | None = None,
        at: datetime | None = None,
    ) -> int | None:
        """Classify one parsed user message (Rasa's `latest_message`) and record it if
        unresolved; the row id or None. `text` defaults to the parse result's text."""
        reason = classify_turn(parse_data, self.fallback_threshold)
        if reason is None:
            return None
        language = parse_data.get("language") if isinstance(parse_data.get("language"), dict) else {}
        return self.record(
            conversation_id,
            channel=channel,
            reason=reason,
            language=language.get("code"),
            text=text if text is not None else parse_data.get("text"),
            intents=top_intents(parse_data),
            detected_language=unsupported_language_of(parse_data) if reason == UNSUPPORTED_LANGUAGE else None,
            at=at,
        )

    def record_choice(
        self,
        conversation_id: str,
        *,
        channel: str,
        topic: str,
        language: str | None = None,
        question: str | None = None,
        at: datetime | None = None,
        window: timedelta = CHOICE_WINDOW,
    ) -> int | None:
        """The user picked `topic` among the "did you mean" suggestions: their question
        becomes a labelled example of it in the NLU inbox (label_status labelled,
        label_intent the topic, labelled_by CHOSEN_BY_USER). The question was logged as
        unresolved when it was asked; without that row (older than `window`, or logged
        elsewhere) one is written from `question`, masked here. Returns the row id, or
        None when there is no question to label."""
        now = at or self._clock()
        with self.db.session() as session:
            row = session.execute(
                select(UnresolvedQuestion)
                .where(
                    UnresolvedQuestion.conversation_key == self.key(conversation_id),
                    UnresolvedQuestion.reason.in_((NLU_FALLBACK, AMBIGUOUS)),
                    UnresolvedQuestion.label_status == "new",
                    UnresolvedQuestion.text.is_not(None),
                    UnresolvedQuestion.created_at >= now - window,
                )
                .order_by(UnresolvedQuestion.created_at.desc(), UnresolvedQuestion.id.desc())
                .limit(1)
            ).scalars().first()
            if row is None:
                if not question:
                    return None
                row = UnresolvedQuestion(created_at=now, conversation_key=self.key(conversation_id), channel=channel,
                                         language=language, text=_storable(question), reason=NLU_FALLBACK)
                session.add(row)
            row.label_status, row.label_intent = "labelled", topic
            row.labelled_by, row.labelled_at = CHOSEN_BY_USER, now
            session.flush()
            return row.id

    def record_outcome(
        self,
        conversation_id: str,
        outcome: str,
        outcome_topic: str | None = None,
        *,
        at: datetime | None = None,
        window: timedelta = OUTCOME_WINDOW,
    ) -> int:
        """Set the outcome of the conversation's open unresolved questions (no outcome yet,
        asked within `window`): answered_by_adviser (with the topic the adviser chose),
        contact_handled, user_left or timeout. Returns how many rows it set."""
        _check(outcome, OUTCOMES, "outcome")
        now = at or self._clock()
        with self.db.session() as session:
            result = session.execute(
                update(UnresolvedQuestion)
                .where(
                    UnresolvedQuestion.conversation_key == self.key(conversation_id),
                    UnresolvedQuestion.outcome.is_(None),
                    UnresolvedQuestion.created_at >= now - window,
                )
                .values(outcome=outcome, outcome_topic=outcome_topic, outcome_at=now)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount

    def record_feedback(
        self,
        conversation_id: str,
        *,
        channel: str,
        language: str | None,
        kind: str,
        value: int,
        topic: str | None = None,
        question: str | None = None,
        answer: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Store feedback: kind `answer` with value 1 (thumbs up) or -1 (thumbs down) and the
        `topic` (intent) of the answer, or kind `rating` with value 1-5. A thumbs down is also
        logged as an unresolved question (`negative_feedback`) with the user's `question` and
        the `answer` given, both masked. Returns the feedback id."""
        _check(kind, (ANSWER, RATING), "feedback kind")
        if kind == ANSWER and value not in (THUMBS_UP, THUMBS_DOWN):
            raise ValueError("answer feedback is 1 (thumbs up) or -1 (thumbs down)")
        if kind == RATING and not (isinstance(value, int) and 1 <= value <= 5):
            raise ValueError("a rating is 1-5")
        now = at or self._clock()
        with self.db.session() as session:
            row = Feedback(conversation_key=self.key(conversation_id), channel=channel, language=language,
                           kind=kind, value=int(value), topic=topic, created_at=now)
            session.add(row)
            session.flush()
            feedback_id = row.id
        if kind == ANSWER and value == THUMBS_DOWN:
            self.record(conversation_id, channel=channel, reason=NEGATIVE_FEEDBACK, language=language,
                        text=question, answer=answer, topic=topic, at=now)
        return feedback_id

    def questions_of(self, conversation_id: str) -> list[UnresolvedQuestion]:
        """The logged questions of one conversation, oldest first (for the console)."""
        with self.db.session() as session:
            return list(session.execute(
                select(UnresolvedQuestion)
                .where(UnresolvedQuestion.conversation_key == self.key(conversation_id))
                .order_by(UnresolvedQuestion.created_at, UnresolvedQuestion.id)
            ).scalars())
