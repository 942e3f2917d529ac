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
import csv
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.insights.report import Report  # noqa: E402
from bot.language.catalog import load_catalog  # noqa: E402

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
    if language:
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


def render_html(report: Report) -> str:
    h, c = report.handoffs, report.contacts
    questions = sum(r.questions for r in report.understanding)
    understood = sum(r.understood for r in report.understanding)
    volume_rows = [[r.week, r.language, r.channel, r.messages, r.conversations] for r in report.volumes]
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
        _image(chart_weekly_volumes(report), "Bar chart of user messages per ISO week, stacked by language"),
        _table(["ISO week", "language", "channel", "user messages", "conversations"], volume_rows),
        "<h2>Questions understood</h2>",
        '<p class="note">Questions are user messages other than button presses. Resolved = not a fallback, '
        "not ambiguous, not out of scope and in a language the assistant speaks.</p>",
        _image(chart_understood(report), "Bar chart of the share of questions resolved per language"),
        _table(["language", "questions", "fallback", "ambiguous", "out of scope", "unsupported language",
                "resolved", "resolved share"],
               [[r.language, r.questions, r.nlu_fallback, r.ambiguous, r.out_of_scope, r.unsupported_language,
                 r.understood, _pct(r.understood_share)] for r in report.understanding]),
        "<h2>Unresolved questions by reason</h2>",
        _image(chart_reasons(report), "Bar chart of unresolved questions by reason"),
        _table(["reason", "questions", "share", "conversations", "latest examples (masked)"],
               [[r.reason, r.count, _pct(r.share), r.conversations, _examples(r.examples)] for r in report.reasons]),
        "<h2>Handoffs to advisers</h2>",
        _table(["measure", "value"], [
            ["requests", h.requests], ["taken by an adviser", h.claimed],
            ["waiting time, median", _duration(h.wait_median_seconds)],
            ["waiting time, 90th percentile", _duration(h.wait_p90_seconds)],
            *[[f"trigger: {k}", v] for k, v in h.by_trigger.items()],
            *[[f"language: {k}", v] for k, v in h.by_language.items()],
            *[[f"status: {k}", v] for k, v in h.by_status.items()],
        ]),
        "<h3>Outcomes by topic (chosen by the adviser)</h3>",
        _table(["topic", "handoffs"], [list(p) for p in h.outcomes]),
        "<h2>Contact requests</h2>",
        _table(["measure", "value"], [["requests", c.requests], ["handled", c.handled],
                                      ["handled share", _pct(c.handled_share)],
                                      *[[f"language: {k}", v] for k, v in c.by_language.items()]]),
        "<h2>Demand for languages the assistant does not speak</h2>",
        _image(chart_unsupported(report), "Bar chart of messages per unsupported language"),
        _table(["language", "messages", "conversations"],
               [[r.language, r.messages, r.conversations] for r in report.unsupported_languages]),
        "<h2>Feedback</h2>",
        _image(chart_feedback(report), "Bar chart of thumbs up and down per topic"),
        _table(["topic", "thumbs up", "thumbs down", "positive share"],
               [[r.topic, r.up, r.down, _pct(r.positive_share)] for r in report.feedback_topics]),
        "<h3>Conversation ratings (1–5)</h3>",
        _table(["measure", "value"], [["ratings", report.ratings.count],
                                      ["mean", report.ratings.mean if report.ratings.mean is not None else "–"],
                                      *[[f"score {k}", v] for k, v in report.ratings.distribution.items()],
                                      *[[f"mean, {k}", v] for k, v in report.ratings.by_language.items()]]),
        "<h2>Topic discovery: similar unresolved questions</h2>",
        '<p class="note">Unresolved questions grouped by similarity within each language; a large group is a '
        "candidate for a new answer or for more training examples.</p>",
    ]
    if not report.clusters:
        sections.append("<p>No groups of similar questions in this period.</p>")
    for language, clusters in report.clusters.items():
        sections.append(f"<h3>{_e(language)}</h3>")
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


def write_report(report: Report, out: Path) -> list[Path]:
    """Write report.html and the CSV files into `out` (created if needed); the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_csvs(report, out)
    page = out / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    return [page, *paths]
