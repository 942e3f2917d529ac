"""Writes a Report (report.py) as CSV files and one self-contained HTML page whose charts
are PNG images embedded as base64 (matplotlib, Agg backend: no display needed).

Files in the output folder:

- report.html: everything, readable offline, no external resources (the template
  bot/templates/insights/report.html);
- volumes.csv (week, language, channel, messages, conversations);
- understanding.csv (per language: questions, unresolved by reason, understood share);
- unresolved_reasons.csv (reason, count, share, conversations, masked examples);
- handoffs.csv (summary figures), handoff_outcomes.csv (outcome topic, count);
- contact_requests.csv; unsupported_languages.csv;
- feedback_topics.csv (topic, up, down, positive share), feedback_ratings.csv;
- clusters.csv (language, size, keywords, masked examples).
"""

from __future__ import annotations

import base64
import functools
import io
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.insights.csv_safe import write_csv  # noqa: E402
from bot.insights.labels import LANGUAGE_CODE, ReportLabels  # noqa: E402
from bot.insights.report import Report  # noqa: E402
from bot.language.catalog import load_catalog  # noqa: E402
from bot.templating import render  # noqa: E402

PALETTE = ["#0050bb", "#f28c00", "#249fab", "#a3195b", "#5f8a00", "#6f42c1", "#c0392b", "#7f7f7f",
           "#17becf", "#bcbd22", "#8c564b", "#e377c2", "#2ca02c"]


def write_csvs(report: Report, out: Path) -> list[Path]:
    h = report.handoffs
    c = report.contacts
    return [
        write_csv(out / "volumes.csv", ["week", "language", "channel", "messages", "conversations"],
                  [[r.week, r.language, r.channel, r.messages, r.conversations] for r in report.volumes]),
        write_csv(out / "understanding.csv",
                  ["language", "questions", "nlu_fallback", "ambiguous", "out_of_scope", "unsupported_language",
                   "understood", "understood_share"],
                  [[r.language, r.questions, r.nlu_fallback, r.ambiguous, r.out_of_scope, r.unsupported_language,
                    r.understood, r.understood_share] for r in report.understanding]),
        write_csv(out / "unresolved_reasons.csv", ["reason", "count", "share", "conversations", "examples"],
                  [[r.reason, r.count, r.share, r.conversations, " | ".join(r.examples)] for r in report.reasons]),
        write_csv(out / "handoffs.csv", ["measure", "key", "value"],
                  [["requests", "", h.requests], ["claimed", "", h.claimed],
                   ["wait_median_seconds", "", h.wait_median_seconds], ["wait_p90_seconds", "", h.wait_p90_seconds],
                   *[["by_trigger", k, v] for k, v in h.by_trigger.items()],
                   *[["by_language", k, v] for k, v in h.by_language.items()],
                   *[["by_status", k, v] for k, v in h.by_status.items()]]),
        write_csv(out / "handoff_outcomes.csv", ["outcome_topic", "count"], [list(p) for p in h.outcomes]),
        write_csv(out / "contact_requests.csv", ["measure", "key", "value"],
                  [["requests", "", c.requests], ["handled", "", c.handled], ["handled_share", "", c.handled_share],
                   *[["by_language", k, v] for k, v in c.by_language.items()]]),
        write_csv(out / "unsupported_languages.csv", ["language", "messages", "conversations"],
                  [[r.language, r.messages, r.conversations] for r in report.unsupported_languages]),
        write_csv(out / "feedback_topics.csv", ["topic", "up", "down", "positive_share"],
                  [[r.topic, r.up, r.down, r.positive_share] for r in report.feedback_topics]),
        write_csv(out / "feedback_ratings.csv", ["measure", "key", "value"],
                  [["count", "", report.ratings.count], ["mean", "", report.ratings.mean],
                   *[["score", k, v] for k, v in report.ratings.distribution.items()],
                   *[["mean_by_language", k, v] for k, v in report.ratings.by_language.items()]]),
        write_csv(out / "clusters.csv", ["language", "size", "keywords", "reasons", "examples"],
                  [[language, cl.size, " ".join(cl.keywords), " ".join(f"{k}:{v}" for k, v in cl.reasons.items()),
                    " | ".join(cl.examples)]
                   for language, clusters in report.clusters.items() for cl in clusters]),
    ]


# --- charts ---------------------------------------------------------------------------------------

# Chart labels are cut to this many characters (the tables show them whole).
CHART_LABEL_LIMIT = 40
# Bars in a chart and languages in the weekly chart; the rest are summed as "Others (n)".
MAX_BARS = 20
MAX_SERIES = 10


def chart_text(value: object, limit: int = CHART_LABEL_LIMIT) -> str:
    """Any stored string as plain chart text. matplotlib reads text between two "$" as
    mathematics (mathtext) and raises on what it cannot parse ("$\\foo$"), so "$" is
    escaped; control and format characters become spaces, long text is cut, and a
    leading "_" (which would hide a legend entry) gets a space before it."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text or "–"


def _quiet(draw: Callable[..., str | None]) -> Callable[..., str | None]:
    """Glyphs missing from the chart font (e.g. Chinese) are drawn as boxes without a warning each."""
    @functools.wraps(draw)
    def quietly(*args: Any, **kwargs: Any) -> str | None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from current font")
            return draw(*args, **kwargs)

    return quietly


def _png(figure: Figure, names: list[str]) -> str:
    """The chart as a base64 PNG. Its title and the `names` it shows (languages, reasons,
    topics, legend entries) are also in the PNG's Title and Description texts, readable
    without looking at the image."""
    buffer = io.BytesIO()
    figure.tight_layout()
    title = " ".join(axes.get_title() for axes in figure.axes)
    description = "; ".join(chart_text(name) for name in names)
    figure.savefig(buffer, format="png", dpi=100,
                   metadata={"Title": title.replace(r"\$", "$"), "Description": description.replace(r"\$", "$")})
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _labels(labels: ReportLabels | None) -> ReportLabels:
    return labels or ReportLabels()


@_quiet
def chart_weekly_volumes(report: Report, labels: ReportLabels | None = None) -> str | None:
    if not report.volumes:
        return None
    labels = _labels(labels)
    weeks = sorted({r.week for r in report.volumes})
    totals: Counter = Counter()
    for row in report.volumes:
        totals[row.language] += row.messages
    ranked = sorted(totals, key=lambda code: (-totals[code], code))
    shown, others = ranked[:MAX_SERIES], set(ranked[MAX_SERIES:])
    series = [(labels.language_name(code), code) for code in shown]
    if others:
        series.append((labels.text("charts.other", count=len(others)), None))
    counts: Counter = Counter()
    for row in report.volumes:
        counts[(row.week, None if row.language in others else row.language)] += row.messages
    figure, axes = plt.subplots(figsize=(9, 4))
    positions = list(range(len(weeks)))
    bottom = [0] * len(weeks)
    for index, (name, code) in enumerate(series):
        values = [counts[(w, code)] for w in weeks]
        axes.bar(positions, values, bottom=bottom, label=chart_text(name), color=PALETTE[index % len(PALETTE)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_xticks(positions, [chart_text(w) for w in weeks])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(chart_text(labels.text("charts.volumes_axis")))
    axes.set_title(chart_text(labels.text("charts.volumes_title"), 200))
    axes.legend(ncol=min(len(series), 4), fontsize="small")
    axes.tick_params(axis="x", labelrotation=45)
    return _png(figure, [name for name, _ in series])


def _barh(names: list[str], values: list[float], title: str, xlabel: str, limit: float | None = None) -> str:
    """Horizontal bars, the first name on top; bars at numeric positions, so that two
    names that look alike stay two bars."""
    figure, axes = plt.subplots(figsize=(8, max(2.0, 0.4 * len(names) + 1)))
    positions = list(range(len(names)))
    axes.barh(positions, values[::-1], color=PALETTE[0])
    axes.set_yticks(positions, [chart_text(name) for name in names[::-1]])
    axes.set_title(chart_text(title, 200))
    axes.set_xlabel(chart_text(xlabel))
    if limit is not None:
        axes.set_xlim(0, limit)
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(figure, names)


def _capped(names: list[str], values: list[float], other: Callable[[int], str]) -> tuple[list[str], list[float]]:
    """The first MAX_BARS bars, and the sum of the rest as one more."""
    if len(names) <= MAX_BARS:
        return names, values
    rest = len(names) - MAX_BARS + 1
    return [*names[:MAX_BARS - 1], other(rest)], [*values[:MAX_BARS - 1], sum(values[MAX_BARS - 1:])]


@_quiet
def chart_understood(report: Report, labels: ReportLabels | None = None) -> str | None:
    labels = _labels(labels)
    rows = [r for r in report.understanding if r.understood_share is not None]
    if not rows:
        return None
    # The languages with most questions; the others together as one bar.
    rows.sort(key=lambda r: (-r.questions, r.language))
    shown, rest = (rows, []) if len(rows) <= MAX_BARS else (rows[:MAX_BARS - 1], rows[MAX_BARS - 1:])
    names = [labels.language_name(r.language) for r in shown]
    shares = [r.understood_share * 100 for r in shown]
    if rest:
        names.append(labels.text("charts.other", count=len(rest)))
        shares.append(100 * sum(r.understood for r in rest) / max(sum(r.questions for r in rest), 1))
    return _barh(names, shares, labels.text("charts.understood_title"), labels.text("charts.understood_axis"), 100)


@_quiet
def chart_reasons(report: Report, labels: ReportLabels | None = None) -> str | None:
    if not report.reasons:
        return None
    labels = _labels(labels)
    names, values = _capped([labels.reason(r.reason) for r in report.reasons], [r.count for r in report.reasons],
                            lambda count: labels.text("charts.other", count=count))
    return _barh(names, values, labels.text("charts.reasons_title"), labels.text("charts.reasons_axis"))


@_quiet
def chart_unsupported(report: Report, labels: ReportLabels | None = None) -> str | None:
    if not report.unsupported_languages:
        return None
    labels = _labels(labels)
    rows = report.unsupported_languages
    names, values = _capped([labels.language_name(r.language) for r in rows], [r.messages for r in rows],
                            lambda count: labels.text("charts.other", count=count))
    return _barh(names, values, labels.text("charts.unsupported_title"), labels.text("charts.unsupported_axis"))


@_quiet
def chart_feedback(report: Report, labels: ReportLabels | None = None) -> str | None:
    rows = report.feedback_topics
    if not rows:
        return None
    labels = _labels(labels)
    other = lambda count: labels.text("charts.other", count=count)  # noqa: E731
    names, ups = _capped([labels.topic(r.topic) for r in rows], [r.up for r in rows], other)
    _, downs = _capped([labels.topic(r.topic) for r in rows], [r.down for r in rows], other)
    figure, axes = plt.subplots(figsize=(8, max(2.0, 0.4 * len(names) + 1)))
    positions = list(range(len(names)))
    axes.barh(positions, ups[::-1], color=PALETTE[4], label=chart_text(labels.text("charts.thumbs_up")))
    axes.barh(positions, [-d for d in downs[::-1]], color=PALETTE[6],
              label=chart_text(labels.text("charts.thumbs_down")))
    axes.set_yticks(positions, [chart_text(name) for name in names[::-1]])
    axes.axvline(0, color="black", linewidth=0.8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(chart_text(labels.text("charts.feedback_title"), 200))
    axes.legend(fontsize="small")
    return _png(figure, names)


# --- HTML -----------------------------------------------------------------------------------------
# The page is the template bot/templates/insights/report.html; here only its data.


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"


def _examples(texts: list[str], language: str | None = None) -> dict[str, list[dict[str, str]]]:
    """Masked examples as a list cell; in the language's direction (Arabic and Persian right to left)."""
    known = bool(language and LANGUAGE_CODE.fullmatch(language))
    direction = load_catalog().direction(language) if known else "auto"
    return {"examples": [{"text": text, "lang": language if known else "", "dir": direction} for text in texts]}


def report_view(report: Report, labels: ReportLabels | None = None) -> dict:
    """The data of report.html: its headings are in the template, the values here; languages,
    reasons, channels and topics named by `labels` (default Finnish)."""
    labels = _labels(labels)
    name, topic = labels.language_name, labels.topic
    h, c = report.handoffs, report.contacts
    questions = sum(r.questions for r in report.understanding)
    understood = sum(r.understood for r in report.understanding)
    return {
        "since": report.since, "until": report.until, "timezone": report.timezone,
        "generated": report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        "summary": [("User messages", report.total_messages),
                    ("Questions resolved", _pct(understood / questions if questions else None)),
                    ("Handoff requests", h.requests), ("Contact requests", c.requests),
                    ("Mean rating", report.ratings.mean if report.ratings.mean is not None else "–")],
        "charts": {"volumes": chart_weekly_volumes(report, labels), "understood": chart_understood(report, labels),
                   "reasons": chart_reasons(report, labels), "unsupported": chart_unsupported(report, labels),
                   "feedback": chart_feedback(report, labels)},
        "tables": {
            "volumes": [[r.week, name(r.language), labels.channel(r.channel), r.messages, r.conversations]
                        for r in report.volumes],
            "understanding": [[name(r.language), r.questions, r.nlu_fallback, r.ambiguous, r.out_of_scope,
                               r.unsupported_language, r.understood, _pct(r.understood_share)]
                              for r in report.understanding],
            "reasons": [[labels.reason(r.reason), r.count, _pct(r.share), r.conversations, _examples(r.examples)]
                        for r in report.reasons],
            "handoffs": [
                ["requests", h.requests], ["taken by an adviser", h.claimed],
                ["waiting time, median", _duration(h.wait_median_seconds)],
                ["waiting time, 90th percentile", _duration(h.wait_p90_seconds)],
                *[[f"trigger: {k}", v] for k, v in h.by_trigger.items()],
                *[[f"language: {name(k)}", v] for k, v in h.by_language.items()],
                *[[f"status: {k}", v] for k, v in h.by_status.items()],
            ],
            "outcomes": [[topic(k), v] for k, v in h.outcomes],
            "contacts": [["requests", c.requests], ["handled", c.handled], ["handled share", _pct(c.handled_share)],
                         *[[f"language: {name(k)}", v] for k, v in c.by_language.items()]],
            "unsupported": [[name(r.language), r.messages, r.conversations] for r in report.unsupported_languages],
            "feedback": [[topic(r.topic), r.up, r.down, _pct(r.positive_share)] for r in report.feedback_topics],
            "ratings": [["ratings", report.ratings.count],
                        ["mean", report.ratings.mean if report.ratings.mean is not None else "–"],
                        *[[f"score {k}", v] for k, v in report.ratings.distribution.items()],
                        *[[f"mean, {name(k)}", v] for k, v in report.ratings.by_language.items()]],
        },
        "clusters": [(name(language), [[cl.size, " ".join(cl.keywords),
                                        ", ".join(f"{k} {v}" for k, v in cl.reasons.items()),
                                        _examples(cl.examples, language)] for cl in clusters])
                     for language, clusters in report.clusters.items()],
    }


def render_html(report: Report, labels: ReportLabels | None = None) -> str:
    """The page (bot/templates/insights/report.html), autoescaped."""
    return render("insights/report.html", **report_view(report, labels))


def write_report(report: Report, out: Path, labels: ReportLabels | None = None) -> list[Path]:
    """Write report.html and the CSV files into `out` (created if needed); the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_csvs(report, out)
    page = out / "report.html"
    page.write_text(render_html(report, labels), encoding="utf-8")
    return [page, *paths]
