"""Writes a Report (report.py) as CSV files and one self-contained HTML page whose charts
are PNG images embedded as base64 (matplotlib, Agg backend: no display needed).

Files in the output folder:

- report.html: everything, readable offline, no external resources;
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
import html
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


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"


def _table(header: list[str], rows: list[list], numeric_from: int = 1) -> str:
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{_e(cell)}</td>' if i >= numeric_from and isinstance(cell, (int, float))
            else f"<td>{cell if isinstance(cell, Markup) else _e(cell)}</td>"
            for i, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(header)}">No data in this period.</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """HTML already escaped."""


def _examples(texts: list[str], language: str | None = None) -> Markup:
    """Masked examples as a list; in the language's direction (Arabic and Persian right to left)."""
    if language and LANGUAGE_CODE.fullmatch(language):
        attributes = f' lang="{_e(language)}" dir="{_e(load_catalog().direction(language))}"'
    else:
        attributes = ' dir="auto"'
    items = "".join(f"<li{attributes}>{_e(t)}</li>" for t in texts)
    return Markup(f'<ul class="examples">{items}</ul>' if items else "")


def _image(data: str | None, alt: str) -> str:
    if not data:
        return ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}"></figure>'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #1a1a1a; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #0050bb; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { border: 1px solid #ccc; padding: .3rem .6rem; }
th { background: #eef3fb; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.examples { margin: 0; padding-left: 1.2rem; } figure { margin: 1rem 0; } img { max-width: 100%; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; padding: 0; }
.summary li { list-style: none; background: #eef3fb; padding: .6rem 1rem; border-radius: .3rem; }
.note { color: #555; font-size: .9rem; }
"""


def render_html(report: Report, labels: ReportLabels | None = None) -> str:
    """The page; languages, reasons, channels and topics named by `labels` (default Finnish)."""
    labels = _labels(labels)
    name, topic = labels.language_name, labels.topic
    h, c = report.handoffs, report.contacts
    questions = sum(r.questions for r in report.understanding)
    understood = sum(r.understood for r in report.understanding)
    volume_rows = [[r.week, name(r.language), labels.channel(r.channel), r.messages, r.conversations]
                   for r in report.volumes]
    sections = [
        f"<h1>Espoo employment assistant: what users asked, {_e(report.since)} – {_e(report.until)}</h1>",
        f'<p class="note">Local days in {_e(report.timezone)}, both ends included; generated '
        f"{_e(report.generated_at.strftime('%Y-%m-%d %H:%M UTC'))}. Aggregates only; every example is masked "
        "(personal identity codes, phone numbers, e-mail addresses, IBANs, card numbers and street addresses "
        "are replaced by [personal_id], [phone], [email], [iban], [card], [address]).</p>",
        '<ul class="summary">'
        f"<li>User messages: <strong>{report.total_messages}</strong></li>"
        f"<li>Questions resolved: <strong>{_pct(understood / questions if questions else None)}</strong></li>"
        f"<li>Handoff requests: <strong>{h.requests}</strong></li>"
        f"<li>Contact requests: <strong>{c.requests}</strong></li>"
        f"<li>Mean rating: <strong>{_e(report.ratings.mean if report.ratings.mean is not None else '–')}</strong>"
        "</li></ul>",
        "<h2>Volumes</h2>",
        _image(chart_weekly_volumes(report, labels), "Bar chart of user messages per ISO week, stacked by language"),
        _table(["ISO week", "language", "channel", "user messages", "conversations"], volume_rows),
        "<h2>Questions understood</h2>",
        '<p class="note">Questions are user messages other than button presses. Resolved = not a fallback, '
        "not ambiguous, not out of scope and in a language the assistant speaks.</p>",
        _image(chart_understood(report, labels), "Bar chart of the share of questions resolved per language"),
        _table(["language", "questions", "fallback", "ambiguous", "out of scope", "unsupported language",
                "resolved", "resolved share"],
               [[name(r.language), r.questions, r.nlu_fallback, r.ambiguous, r.out_of_scope, r.unsupported_language,
                 r.understood, _pct(r.understood_share)] for r in report.understanding]),
        "<h2>Unresolved questions by reason</h2>",
        _image(chart_reasons(report, labels), "Bar chart of unresolved questions by reason"),
        _table(["reason", "questions", "share", "conversations", "latest examples (masked)"],
               [[labels.reason(r.reason), r.count, _pct(r.share), r.conversations, _examples(r.examples)]
                for r in report.reasons]),
        "<h2>Handoffs to advisers</h2>",
        _table(["measure", "value"], [
            ["requests", h.requests], ["taken by an adviser", h.claimed],
            ["waiting time, median", _duration(h.wait_median_seconds)],
            ["waiting time, 90th percentile", _duration(h.wait_p90_seconds)],
            *[[f"trigger: {k}", v] for k, v in h.by_trigger.items()],
            *[[f"language: {name(k)}", v] for k, v in h.by_language.items()],
            *[[f"status: {k}", v] for k, v in h.by_status.items()],
        ]),
        "<h3>Outcomes by topic (chosen by the adviser)</h3>",
        _table(["topic", "handoffs"], [[topic(k), v] for k, v in h.outcomes]),
        "<h2>Contact requests</h2>",
        _table(["measure", "value"], [["requests", c.requests], ["handled", c.handled],
                                      ["handled share", _pct(c.handled_share)],
                                      *[[f"language: {name(k)}", v] for k, v in c.by_language.items()]]),
        "<h2>Demand for languages the assistant does not speak</h2>",
        _image(chart_unsupported(report, labels), "Bar chart of messages per unsupported language"),
        _table(["language", "messages", "conversations"],
               [[name(r.language), r.messages, r.conversations] for r in report.unsupported_languages]),
        "<h2>Feedback</h2>",
        _image(chart_feedback(report, labels), "Bar chart of thumbs up and down per topic"),
        _table(["topic", "thumbs up", "thumbs down", "positive share"],
               [[topic(r.topic), r.up, r.down, _pct(r.positive_share)] for r in report.feedback_topics]),
        "<h3>Conversation ratings (1–5)</h3>",
        _table(["measure", "value"], [["ratings", report.ratings.count],
                                      ["mean", report.ratings.mean if report.ratings.mean is not None else "–"],
                                      *[[f"score {k}", v] for k, v in report.ratings.distribution.items()],
                                      *[[f"mean, {name(k)}", v] for k, v in report.ratings.by_language.items()]]),
        "<h2>Topic discovery: similar unresolved questions</h2>",
        '<p class="note">Unresolved questions grouped by similarity within each language; a large group is a '
        "candidate for a new answer or for more training examples.</p>",
    ]
    if not report.clusters:
        sections.append("<p>No groups of similar questions in this period.</p>")
    for language, clusters in report.clusters.items():
        sections.append(f"<h3>{_e(name(language))}</h3>")
        sections.append(_table(["size", "keywords", "reasons", "examples (masked)"], [
            [cl.size, " ".join(cl.keywords), ", ".join(f"{k} {v}" for k, v in cl.reasons.items()),
             _examples(cl.examples, language)]
            for cl in clusters
        ], numeric_from=0))
    body = "\n".join(s for s in sections if s)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Assistant report {_e(report.since)} – {_e(report.until)}</title>\n<style>{STYLE}</style>\n"
        f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def write_report(report: Report, out: Path, labels: ReportLabels | None = None) -> list[Path]:
    """Write report.html and the CSV files into `out` (created if needed); the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_csvs(report, out)
    page = out / "report.html"
    page.write_text(render_html(report, labels), encoding="utf-8")
    return [page, *paths]
