"""The data of the analyst views (reports, candidate topics, the NLU inbox) for their
templates in bot/templates/console/: plain dataclasses of strings and numbers, in the
console language of the signed-in user. No HTML here: the templates escape everything.

Every question or example shown is masked here once more (`mask` is idempotent), in
case a row was written some other way than through the insights log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bot.console.routes import language_label
from bot.console.texts import Texts
from bot.console.topics import topic_titles
from bot.insights.clusters import Cluster
from bot.insights.inbox import DISMISSED, INBOX_REASONS, NEW, NEW_TOPIC, STATUSES, InboxItem
from bot.insights.report import DEFAULT_TIMEZONE, Report, as_utc
from bot.language.catalog import LanguageCatalog
from bot.privacy.masking import mask

HELSINKI = ZoneInfo(DEFAULT_TIMEZONE)
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
# The CSV files of render.write_csvs, by name (clusters.csv needs the clustering run too).
CSV_NAMES = ("volumes", "understanding", "unresolved_reasons", "handoffs", "handoff_outcomes", "contact_requests",
             "unsupported_languages", "feedback_topics", "feedback_ratings", "clusters")
# The one hint on topic names of a page, referred to by every new-topic field.
TOPIC_HINT = "topic-hint"
ALL = "all"


# --- the pieces the templates draw ---------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A text in a language: shown with lang and dir (unknown: lang="" and the direction from the text)."""

    text: str
    lang: str = ""
    dir: str = "auto"


@dataclass(frozen=True)
class Cell:
    text: str = ""
    numeric: bool = False
    examples: tuple[Text, ...] = ()


@dataclass(frozen=True)
class Table:
    """The first column heads its row."""

    header: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool = False


@dataclass(frozen=True)
class Select:
    name: str
    options: list[Option]


@dataclass(frozen=True)
class LabelForms:
    """The forms that label one question or a whole cluster (analyst_macros.html, label_forms)."""

    action: str
    key: str
    here: str
    described_by: str
    intents: list[Option]
    suggested: bool
    hidden: list[tuple[str, str]] = field(default_factory=list)
    many: bool = False
    can_unlabel: bool = False
    hint_id: str = TOPIC_HINT
    new_topic: str = NEW_TOPIC
    dismissed: str = DISMISSED
    new: str = NEW


# --- numbers and times as shown --------------------------------------------------------------------


def number(value: float | int | None, ui: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    shown = f"{value:.2f}".rstrip("0").rstrip(".")
    return shown.replace(".", ",") if ui == "fi" else shown


def percent(value: float | None, ui: str) -> str:
    if value is None:
        return "–"
    shown = f"{value * 100:.1f}"
    return (shown.replace(".", ",") if ui == "fi" else shown) + "\u00a0%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"


def local_time(moment: datetime | None) -> tuple[str, str]:
    """(ISO timestamp, 'YYYY-MM-DD HH:MM' in Helsinki time) of a stored UTC time."""
    if moment is None:
        return "", ""
    local = as_utc(moment).astimezone(HELSINKI)
    return local.isoformat(timespec="minutes"), local.strftime("%Y-%m-%d %H:%M")


def num_cell(value: float | int | None, ui: str) -> Cell:
    return Cell(number(value, ui), numeric=True)


def cell(value: str | int | float | None, ui: str) -> Cell:
    """Numbers right-aligned, anything else as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return num_cell(value, ui)
    return Cell("" if value is None else str(value))


def table(header: list[str], rows: Iterable[Iterable[str | int | float | Cell | None]], ui: str) -> Table:
    return Table(header, [[c if isinstance(c, Cell) else cell(c, ui) for c in row] for row in rows])


# --- the views -----------------------------------------------------------------------------------


class AnalystViews:
    """Builds the data of each analyst page in the console language `ui`."""

    def __init__(self, catalog: LanguageCatalog, ui: str) -> None:
        self.catalog = catalog
        self.ui = ui
        self.t = Texts(ui, "analyst.")
        self.console = Texts(ui)
        self.titles = topic_titles(ui)

    # --- languages ---

    def in_language(self, text: str, code: str | None) -> Text:
        if code and code in self.catalog.languages:
            return Text(text, code, self.catalog.direction(code))
        if code and LANGUAGE_CODE.fullmatch(code):
            return Text(text, code, "auto")
        return Text(text)

    def language_name(self, code: str | None) -> str:
        if not code or code == "unknown":
            return self.t("unknown_language")
        return language_label(code, self.ui) if LANGUAGE_CODE.fullmatch(code) else code

    def language_codes(self, seen: Iterable[str]) -> list[str]:
        return sorted({*self.catalog.codes, *(c for c in seen if c and LANGUAGE_CODE.fullmatch(c))})

    def language_select(self, name: str, chosen: str | None, codes: list[str]) -> Select:
        return Select(name, [Option(code, self.language_name(code), code == chosen) for code in codes])

    # --- labels ---

    def reason(self, reason: str) -> str:
        return self.t.get(f"reasons.{reason}", reason)

    def channel(self, channel: str) -> str:
        return self.console.get(f"channels.{channel}", channel)

    def trigger(self, trigger: str) -> str:
        return self.console.get(f"reasons.{trigger}", trigger)

    def handoff_status(self, status: str) -> str:
        return self.t.get(f"handoff_statuses.{status}", status)

    def topic(self, name: str) -> str:
        return self.titles.get(name, name)

    def examples(self, texts: Iterable[str], language: str | None) -> tuple[Text, ...]:
        return tuple(self.in_language(mask(text), language) for text in texts)

    # --- reports ---

    def report(self, report: Report, charts: dict[str, str | None]) -> dict:
        t, ui = self.t, self.ui
        h, c, r = report.handoffs, report.contacts, report.ratings
        questions = sum(row.questions for row in report.understanding)
        understood = sum(row.understood for row in report.understanding)
        language = self.language_name
        return {
            "since": report.since,
            "until": report.until,
            "summary": [
                {"label": t("sum_messages"), "value": number(report.total_messages, ui)},
                {"label": t("sum_resolved"), "value": percent(understood / questions if questions else None, ui)},
                {"label": t("sum_handoffs"), "value": number(h.requests, ui)},
                {"label": t("sum_contacts"), "value": number(c.requests, ui)},
                {"label": t("sum_rating"), "value": number(r.mean, ui)},
            ],
            "charts": charts,
            "tables": {
                "volumes": table(
                    [t("col_week"), t("col_language"), t("col_channel"), t("col_messages"), t("col_conversations")],
                    [[row.week, language(row.language), self.channel(row.channel), row.messages, row.conversations]
                     for row in report.volumes], ui),
                "understanding": table(
                    [t("col_language"), t("col_questions"), t("reasons.nlu_fallback"), t("reasons.ambiguous"),
                     t("reasons.out_of_scope"), t("reasons.unsupported_language"), t("col_resolved"),
                     t("col_resolved_share")],
                    [[language(row.language), row.questions, row.nlu_fallback, row.ambiguous, row.out_of_scope,
                      row.unsupported_language, row.understood, Cell(percent(row.understood_share, ui), True)]
                     for row in report.understanding], ui),
                "reasons": table(
                    [t("col_reason"), t("col_questions"), t("col_share"), t("col_conversations"), t("col_examples")],
                    [[self.reason(row.reason), row.count, Cell(percent(row.share, ui), True), row.conversations,
                      Cell(examples=self.examples(row.examples, None))] for row in report.reasons], ui),
                "handoffs": table([t("col_measure"), t("col_value")], [
                    [t("handoff_requests"), h.requests], [t("handoff_claimed"), h.claimed],
                    [t("wait_median"), Cell(duration(h.wait_median_seconds), True)],
                    [t("wait_p90"), Cell(duration(h.wait_p90_seconds), True)],
                    *[[f'{t("by_trigger")}: {self.trigger(k)}', v] for k, v in h.by_trigger.items()],
                    *[[f'{t("col_language")}: {language(k)}', v] for k, v in h.by_language.items()],
                    *[[f'{t("col_status")}: {self.handoff_status(k)}', v] for k, v in h.by_status.items()],
                ], ui),
                "outcomes": table([t("col_topic"), t("col_handoffs")], [[self.topic(k), v] for k, v in h.outcomes],
                                  ui),
                "contacts": table([t("col_measure"), t("col_value")], [
                    [t("contact_requests"), c.requests], [t("contact_handled"), c.handled],
                    [t("contact_handled_share"), Cell(percent(c.handled_share, ui), True)],
                    *[[f'{t("col_language")}: {language(k)}', v] for k, v in c.by_language.items()],
                ], ui),
                "unsupported": table(
                    [t("col_language"), t("col_messages"), t("col_conversations")],
                    [[language(row.language), row.messages, row.conversations]
                     for row in report.unsupported_languages], ui),
                "feedback": table(
                    [t("col_topic"), t("col_up"), t("col_down"), t("col_positive_share")],
                    [[self.topic(row.topic), row.up, row.down, Cell(percent(row.positive_share, ui), True)]
                     for row in report.feedback_topics], ui),
                "ratings": table([t("col_measure"), t("col_value")], [
                    [t("ratings_count"), r.count], [t("ratings_mean"), num_cell(r.mean, ui)],
                    *[[t("rating_score", score=k), v] for k, v in r.distribution.items()],
                    *[[t("rating_mean_in", language=language(k)), num_cell(v, ui)] for k, v in r.by_language.items()],
                ], ui),
            },
            "csv_names": CSV_NAMES,
            "csv_query": urlencode({"since": report.since.isoformat(), "until": report.until.isoformat()}),
        }

    # --- candidate topics ---

    def intent_options(self, intents: Iterable[str], suggestion: str | None = None) -> list[Option]:
        return [Option(intent, f"{intent} – {self.titles[intent]}" if intent in self.titles else intent,
                       intent == suggestion) for intent in sorted(intents)]

    def clusters(self, found: dict[str, list[Cluster]], here: str, intents: Iterable[str]) -> list[dict]:
        options = self.intent_options(intents)
        groups = []
        for code, clusters in found.items():
            views = []
            for index, cluster in enumerate(clusters, start=1):
                key = f"{code}-{index}"
                heading_id = f"cluster-{key}"
                before, after = self.t("cluster_heading", size=cluster.size, keywords="\x00").split("\x00", 1)
                reasons = ", ".join(f"{self.reason(k)} {number(v, self.ui)}" for k, v in cluster.reasons.items())
                views.append({
                    "heading_id": heading_id,
                    "heading": (before, after),
                    "keywords": self.in_language(", ".join(cluster.keywords), cluster.language)
                    if cluster.keywords else None,
                    "reasons": reasons,
                    "size": number(cluster.size, self.ui),
                    "examples": self.examples(cluster.examples, cluster.language),
                    "forms": LabelForms("/console/topics/label", key, here, heading_id, options, suggested=False,
                                        hidden=[("ids", ",".join(str(i) for i in cluster.item_ids))], many=True),
                })
            groups.append({"code": code, "name": self.language_name(code), "clusters": views})
        return groups

    # --- the inbox ---

    def inbox_filters(self, language: str | None, reason: str | None, status: str, codes: list[str]) -> dict:
        return {
            "languages": self.language_select("language", language, codes),
            "reasons": [Option(r, self.reason(r), r == reason) for r in INBOX_REASONS],
            "statuses": [Option(s, self.t("statuses." + s), s == status) for s in (*STATUSES, ALL)],
        }

    def counts(self, counts: dict[str, dict[str, int]]) -> Table:
        t = self.t
        rows: list[list[str | int]] = [
            [self.language_name(code), *[by_status.get(s, 0) for s in STATUSES], sum(by_status.values())]
            for code, by_status in sorted(counts.items())]
        if counts:
            rows.append([t("total"), *[sum(c.get(s, 0) for c in counts.values()) for s in STATUSES],
                         sum(sum(c.values()) for c in counts.values())])
        return table([t("col_language"), *[t("statuses." + s) for s in STATUSES], t("total")], rows, self.ui)

    def inbox_items(self, items: list[InboxItem], here: str, intents: Iterable[str]) -> list[dict]:
        out = []
        intents = sorted(intents)
        for item in items:
            stamp, shown = local_time(item.created_at)
            best = (item.intents or [{}])[0]
            options = self.intent_options(intents, item.suggestion)
            out.append({
                "id": item.id,
                "question": self.in_language(mask(item.text or ""), item.language),
                "time": {"iso": stamp, "shown": shown},
                "language": self.language_name(item.language),
                "reason": self.reason(item.reason),
                "guess": {"name": best["name"], "confidence": percent(best.get("confidence"), self.ui)}
                if best.get("name") else None,
                "adviser_topic": self.topic(item.outcome_topic) if item.outcome_topic else None,
                "status": self.t("statuses." + item.status) if self.t.has("statuses." + item.status)
                else item.status,
                "label_intent": item.label_intent,
                "labelled_by": item.labelled_by,
                "forms": LabelForms(f"/console/inbox/{item.id}/label", str(item.id), here, f"q-{item.id}", options,
                                    suggested=any(o.selected for o in options), can_unlabel=item.status != NEW),
            })
        return out

    def exports(self, counts: dict[str, dict[str, int]]) -> list[dict]:
        return [{"code": code, "language": self.language_name(code), "count": c["labelled"]}
                for code, c in sorted(counts.items()) if c.get("labelled") and LANGUAGE_CODE.fullmatch(code)]
