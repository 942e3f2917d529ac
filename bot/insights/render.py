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
import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.insights.report import Report  # noqa: E402
from bot.language.catalog import load_catalog  # noqa: E402
from bot.templating import render  # noqa: E402

PALETTE = ["#0050bb", "#f28c00", "#249fab", "#a3195b", "#5f8a00", "#6f42c1", "#c0392b", "#7f7f7f",
           "#17becf", "#bcbd22", "#8c564b", "#e377c2", "#2ca02c"]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_csvs(report: Report, out: Path) -> list[Path]:
    h = report.handoffs
    c = report.contacts
    return [
        _write_csv(out / "volumes.csv", ["week", "language", "channel", "messages", "conversations"],
                   [[r.week, r.language, r.channel, r.messages, r.conversations] for r in report.volumes]),
        _write_csv(out / "understanding.csv",
                   ["language", "questions", "nlu_fallback", "ambiguous", "out_of_scope", "unsupported_language",
                    "understood", "understood_share"],
                   [[r.language, r.questions, r.nlu_fallback, r.ambiguous, r.out_of_scope, r.unsupported_language,
                     r.understood, r.understood_share] for r in report.understanding]),
        _write_csv(out / "unresolved_reasons.csv", ["reason", "count", "share", "conversations", "examples"],
                   [[r.reason, r.count, r.share, r.conversations, " | ".join(r.examples)] for r in report.reasons]),
        _write_csv(out / "handoffs.csv", ["measure", "key", "value"],
                   [["requests", "", h.requests], ["claimed", "", h.claimed],
                    ["wait_median_seconds", "", h.wait_median_seconds], ["wait_p90_seconds", "", h.wait_p90_seconds],
                    *[["by_trigger", k, v] for k, v in h.by_trigger.items()],
                    *[["by_language", k, v] for k, v in h.by_language.items()],
                    *[["by_status", k, v] for k, v in h.by_status.items()]]),
        _write_csv(out / "handoff_outcomes.csv", ["outcome_topic", "count"], [list(p) for p in h.outcomes]),
        _write_csv(out / "contact_requests.csv", ["measure", "key", "value"],
                   [["requests", "", c.requests], ["handled", "", c.handled], ["handled_share", "", c.handled_share],
                    *[["by_language", k, v] for k, v in c.by_language.items()]]),
        _write_csv(out / "unsupported_languages.csv", ["language", "messages", "conversations"],
                   [[r.language, r.messages, r.conversations] for r in report.unsupported_languages]),
        _write_csv(out / "feedback_topics.csv", ["topic", "up", "down", "positive_share"],
                   [[r.topic, r.up, r.down, r.positive_share] for r in report.feedback_topics]),
        _write_csv(out / "feedback_ratings.csv", ["measure", "key", "value"],
                   [["count", "", report.ratings.count], ["mean", "", report.ratings.mean],
                    *[["score", k, v] for k, v in report.ratings.distribution.items()],
                    *[["mean_by_language", k, v] for k, v in report.ratings.by_language.items()]]),
        _write_csv(out / "clusters.csv", ["language", "size", "keywords", "reasons", "examples"],
                   [[language, cl.size, " ".join(cl.keywords), " ".join(f"{k}:{v}" for k, v in cl.reasons.items()),
                     " | ".join(cl.examples)]
                    for language, clusters in report.clusters.items() for cl in clusters]),
    ]


# --- charts ---------------------------------------------------------------------------------------


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def chart_weekly_volumes(report: Report) -> str | None:
    if not report.volumes:
        return None
    weeks = sorted({r.week for r in report.volumes})
    languages = sorted({r.language for r in report.volumes})
    counts = {(w, lang): 0 for w in weeks for lang in languages}
    for row in report.volumes:
        counts[(row.week, row.language)] += row.messages
    figure, axes = plt.subplots(figsize=(9, 4))
    bottom = [0] * len(weeks)
    for index, language in enumerate(languages):
        values = [counts[(w, language)] for w in weeks]
        axes.bar(weeks, values, bottom=bottom, label=language, color=PALETTE[index % len(PALETTE)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("user messages")
    axes.set_title("User messages per ISO week and language")
    axes.legend(ncol=min(len(languages), 6), fontsize="small")
    axes.tick_params(axis="x", labelrotation=45)
    return _png(figure)


def _barh(labels: list[str], values: list[float], title: str, xlabel: str, limit: float | None = None) -> str:
    figure, axes = plt.subplots(figsize=(8, max(2.0, 0.4 * len(labels) + 1)))
    axes.barh(labels[::-1], values[::-1], color=PALETTE[0])
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    if limit is not None:
        axes.set_xlim(0, limit)
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(figure)


def chart_understood(report: Report) -> str | None:
    rows = [r for r in report.understanding if r.understood_share is not None]
    if not rows:
        return None
    return _barh([r.language for r in rows], [r.understood_share * 100 for r in rows],
                 "Questions the assistant resolved, per language", "% of questions", 100)


def chart_reasons(report: Report) -> str | None:
    if not report.reasons:
        return None
    return _barh([r.reason for r in report.reasons], [r.count for r in report.reasons],
                 "Unresolved questions by reason", "questions")


def chart_unsupported(report: Report) -> str | None:
    if not report.unsupported_languages:
        return None
    return _barh([r.language for r in report.unsupported_languages],
                 [r.messages for r in report.unsupported_languages],
                 "Messages in languages the assistant does not speak", "messages")


def chart_feedback(report: Report) -> str | None:
    rows = report.feedback_topics
    if not rows:
        return None
    figure, axes = plt.subplots(figsize=(8, max(2.0, 0.4 * len(rows) + 1)))
    labels = [r.topic for r in rows][::-1]
    axes.barh(labels, [r.up for r in rows][::-1], color=PALETTE[4], label="thumbs up")
    axes.barh(labels, [-r.down for r in rows][::-1], color=PALETTE[6], label="thumbs down")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("Feedback on answers per topic")
    axes.legend(fontsize="small")
    return _png(figure)


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
    direction = load_catalog().direction(language) if language else "auto"
    return {"examples": [{"text": text, "lang": language or "", "dir": direction} for text in texts]}


def report_view(report: Report) -> dict:
    """The data of report.html: labels are in the template, values here."""
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
        "charts": {"volumes": chart_weekly_volumes(report), "understood": chart_understood(report),
                   "reasons": chart_reasons(report), "unsupported": chart_unsupported(report),
                   "feedback": chart_feedback(report)},
        "tables": {
            "volumes": [[r.week, r.language, r.channel, r.messages, r.conversations] for r in report.volumes],
            "understanding": [[r.language, r.questions, r.nlu_fallback, r.ambiguous, r.out_of_scope,
                               r.unsupported_language, r.understood, _pct(r.understood_share)]
                              for r in report.understanding],
            "reasons": [[r.reason, r.count, _pct(r.share), r.conversations, _examples(r.examples)]
                        for r in report.reasons],
            "handoffs": [
                ["requests", h.requests], ["taken by an adviser", h.claimed],
                ["waiting time, median", _duration(h.wait_median_seconds)],
                ["waiting time, 90th percentile", _duration(h.wait_p90_seconds)],
                *[[f"trigger: {k}", v] for k, v in h.by_trigger.items()],
                *[[f"language: {k}", v] for k, v in h.by_language.items()],
                *[[f"status: {k}", v] for k, v in h.by_status.items()],
            ],
            "outcomes": [list(p) for p in h.outcomes],
            "contacts": [["requests", c.requests], ["handled", c.handled], ["handled share", _pct(c.handled_share)],
                         *[[f"language: {k}", v] for k, v in c.by_language.items()]],
            "unsupported": [[r.language, r.messages, r.conversations] for r in report.unsupported_languages],
            "feedback": [[r.topic, r.up, r.down, _pct(r.positive_share)] for r in report.feedback_topics],
            "ratings": [["ratings", report.ratings.count],
                        ["mean", report.ratings.mean if report.ratings.mean is not None else "–"],
                        *[[f"score {k}", v] for k, v in report.ratings.distribution.items()],
                        *[[f"mean, {k}", v] for k, v in report.ratings.by_language.items()]],
        },
        "clusters": [(language, [[cl.size, " ".join(cl.keywords), ", ".join(f"{k} {v}" for k, v in cl.reasons.items()),
                                  _examples(cl.examples, language)] for cl in clusters])
                     for language, clusters in report.clusters.items()],
    }


def render_html(report: Report) -> str:
    return render("insights/report.html", **report_view(report))


def write_report(report: Report, out: Path) -> list[Path]:
    """Write report.html and the CSV files into `out` (created if needed); the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_csvs(report, out)
    page = out / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    return [page, *paths]
