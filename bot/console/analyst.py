"""The analyst views of the console (work package 6): reports, candidate new topics and
the NLU inbox, for the roles `analyst` and `admin`.

Server-rendered HTML in the signed-in user's console language (fi or en), no scripts:
every change is an ordinary form POST carrying the session's CSRF token in the
`csrf_token` field, answered with a 303 back to the page it came from. Only masked
text is shown or exported (the log is masked when written; everything shown here
goes through `mask` once more, in case a row was written some other way).

    GET  /console/reports?since=YYYY-MM-DD&until=YYYY-MM-DD   the report (default: the last 30 days, today included)
    GET  /console/reports/<name>.csv?since&until              one CSV file of the report
    GET  /console/topics?language&since&until                 clusters of new unresolved questions
    POST /console/topics/label                                label a whole cluster (ids, label, topic_name)
    GET  /console/inbox?language&reason&status&page           unresolved questions, labelling, export links
    POST /console/inbox/{id}/label                            label one question
    GET  /console/inbox/export?language=xx                    nlu_xx.yml (Rasa NLU training data)
    POST /console/analyst/ui-language                         the console language (fi, en) of the user

Unauthenticated: pages redirect to the sign-in (303), POSTs get 401. Other roles: 403.
A POST without the session's CSRF token: 403.
"""

from __future__ import annotations

import html
import re
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from anyio import to_thread
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.console.auth import UI_LANGUAGES, Accounts, SignedIn
from bot.console.routes import SECURITY_HEADERS, FormHandler, form_action, language_label, session_of
from bot.console.texts import console_texts
from bot.console.topics import topic_titles
from bot.handoff.store import HandoffStore
from bot.insights import render
from bot.insights.clusters import Cluster, discover_topics
from bot.insights.inbox import DISMISSED, INBOX_REASONS, NEW, NEW_TOPIC, STATUSES, TOPIC_NAME, Inbox, InboxItem
from bot.insights.labels import ReportLabels
from bot.insights.period import DEFAULT_DAYS
from bot.insights.report import DEFAULT_TIMEZONE, Report, as_utc, build_report, period_bounds
from bot.language.catalog import load_catalog
from bot.privacy.masking import mask
from bot.store.db import Database
from bot.store.models import UnresolvedQuestion

ANALYST_ROLES = ("analyst", "admin")
HELSINKI = ZoneInfo(DEFAULT_TIMEZONE)
# The reports' default period: the last 30 days, today included (so today's figures show).
REPORT_DAYS = DEFAULT_DAYS
TOPIC_DAYS = 30
MAX_PERIOD_DAYS = 366
PAGE_SIZE = 25
MAX_PAGE = 10_000
MAX_IDS = 5000
ALL = "all"
# The CSV files of render.write_csvs, by name (clusters.csv needs the clustering run too).
CSV_NAMES = ("volumes", "understanding", "unresolved_reasons", "handoffs", "handoff_outcomes", "contact_requests",
             "unsupported_languages", "feedback_topics", "feedback_ratings", "clusters")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
# Where a form may send the browser back to: a console page, no dots, no other host.
BACK_PATH = re.compile(r"/console(?:/[A-Za-z0-9_-]+)*/?")
# The one hint on topic names of a page, referred to by every new-topic field.
TOPIC_HINT = "topic-hint"
SWITCH_LABELS = {"fi": "Suomeksi", "en": "In English"}
# matplotlib's pyplot keeps global state: one chart at a time.
_CHARTS = threading.Lock()

Handler = Callable[[Request, SignedIn], Awaitable[Response]]


class Raw(str):
    """HTML already escaped."""


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _json(data: dict, status: int) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=SECURITY_HEADERS)


def parse_day(value: str | None, default: date) -> date:
    """A YYYY-MM-DD date; `default` when empty. ValueError otherwise."""
    if not value:
        return default
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(value)
    return date.fromisoformat(value)


def local_today() -> date:
    return datetime.now(HELSINKI).date()


def local_time(moment: datetime | None) -> tuple[str, str]:
    """(ISO timestamp, 'YYYY-MM-DD HH:MM' in Helsinki time) of a stored UTC time."""
    if moment is None:
        return "", ""
    local = as_utc(moment).astimezone(HELSINKI)
    return local.isoformat(timespec="minutes"), local.strftime("%Y-%m-%d %H:%M")


def back_target(value: str | None, default: str) -> tuple[str, list[tuple[str, str]]]:
    """The console page (path, query) a form came from; `default` unless it is a plain /console/... path."""
    parts = urlsplit(value or "")
    if (parts.scheme or parts.netloc or "\\" in (value or "") or not BACK_PATH.fullmatch(parts.path)
            or (value or "").startswith("//")):
        return default, []
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def with_query(path: str, params: Iterable[tuple[str, Any]]) -> str:
    query = urlencode([(k, str(v)) for k, v in params if v not in (None, "")])
    return f"{path}?{query}" if query else path


class AnalystConsole:
    def __init__(self, accounts: Accounts, database: Database) -> None:
        self.accounts = accounts
        self.database = database
        self.inbox = Inbox(database)
        self.store = HandoffStore(database)
        self.catalog = load_catalog()

    def routes(self) -> list[Route]:
        page, action = self._page, self._action
        return [
            Route("/console/reports", page(self.reports_page), methods=["GET"]),
            Route("/console/reports/{name}.csv", page(self.report_csv), methods=["GET"]),
            Route("/console/topics", page(self.topics_page), methods=["GET"]),
            Route("/console/topics/label", action(self.label_cluster), methods=["POST"]),
            Route("/console/inbox", page(self.inbox_page), methods=["GET"]),
            Route("/console/inbox/export", page(self.export), methods=["GET"]),
            Route("/console/inbox/{id:int}/label", action(self.label_item), methods=["POST"]),
            Route("/console/analyst/ui-language", action(self.ui_language), methods=["POST"]),
        ]

    # --- sessions and authorization -----------------------------------------------------

    async def _signed_in(self, request: Request) -> SignedIn | None:
        return await session_of(self.accounts, request)

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            signed_in = await self._signed_in(request)
            if signed_in is None:
                return RedirectResponse("/console/login", status_code=303, headers=SECURITY_HEADERS)
            if signed_in.adviser.role not in ANALYST_ROLES:
                return self._forbidden(signed_in)
            return await handler(request, signed_in)

        return endpoint

    def _action(self, handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
        return form_action(self.accounts, handler, ANALYST_ROLES)

    def _forbidden(self, signed_in: SignedIn) -> Response:
        ui = signed_in.adviser.ui_language
        t = _Texts(ui)
        body = f"""<!doctype html>
<html lang="{e(ui)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(t('forbidden_title'))}</title><link rel="stylesheet" href="/static/console/console.css"></head>
<body class="login"><main>
<h1>{e(t('forbidden_title'))}</h1>
<p>{e(t('forbidden'))}</p>
<p><a href="/console/">{e(t('back_to_console'))}</a></p>
</main></body></html>"""
        return HTMLResponse(body, status_code=403, headers=SECURITY_HEADERS)

    # --- page frame ----------------------------------------------------------------------

    def _frame(self, request: Request, signed_in: SignedIn, current: str, title: str, content: str,
               status: int = 200) -> Response:
        adviser = signed_in.adviser
        ui = adviser.ui_language
        t = _Texts(ui)
        csrf = e(signed_in.csrf_token)
        # The language switch comes back here (a GET page; after a failed POST, the reports).
        here = e(with_query(request.url.path, [(k, v) for k, v in request.query_params.multi_items() if k != "done"])
                 if request.method == "GET" else "/console/reports")
        links = []
        for key, href in (("nav_reports", "/console/reports"), ("nav_topics", "/console/topics"),
                          ("nav_inbox", "/console/inbox")):
            current_attr = ' aria-current="page"' if href == current else ""
            links.append(f'<li><a href="{href}"{current_attr}>{e(t(key))}</a></li>')
        if adviser.role == "admin":
            links.append(f'<li><a href="/console/">{e(t("nav_adviser_console"))}</a></li>')
        other = "en" if ui == "fi" else "fi"
        switch = f"""<form method="post" action="/console/analyst/ui-language" class="ui-language">
<input type="hidden" name="csrf_token" value="{csrf}"><input type="hidden" name="next" value="{here}">
<button type="submit" name="language" value="{other}" lang="{other}">{e(SWITCH_LABELS[other])}</button>
</form>"""
        body = f"""<!doctype html>
<html lang="{e(ui)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<title>{e(title)} – {e(t('title'))}</title><link rel="stylesheet" href="/static/console/console.css"></head>
<body class="analyst">
<a class="skip-link" href="#content">{e(t('skip_to_content'))}</a>
<header>
<p class="brand">{e(t('title'))}</p>
<nav aria-label="{e(t('nav_label'))}"><ul class="analyst-nav">{''.join(links)}</ul></nav>
<p class="who">{e(t('signed_in_as', name=adviser.display_name, role=t('role_' + adviser.role)))}</p>
{switch}
<form method="post" action="/console/logout" class="sign-out">
<input type="hidden" name="csrf_token" value="{csrf}">
<button type="submit">{e(console_texts(ui)['sign_out'])}</button>
</form>
</header>
<main id="content" tabindex="-1">
<h1>{e(title)}</h1>
{content}
</main>
</body></html>"""
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def _notice(self, request: Request, t: _Texts) -> str:
        done = request.query_params.get("done", "")
        if not done.isdigit():
            return ""
        return f'<p class="notice" role="status">{e(t("labelled_count", count=int(done)))}</p>'

    def _lang_attrs(self, code: str | None) -> str:
        """lang and dir of a text in language `code` (unknown: lang="" and the direction from the text)."""
        if code and code in self.catalog.languages:
            return f' lang="{e(code)}" dir="{e(self.catalog.direction(code))}"'
        if code and LANGUAGE_CODE.fullmatch(code):
            return f' lang="{e(code)}" dir="auto"'
        return ' lang="" dir="auto"'

    def _language_name(self, code: str | None, ui: str) -> str:
        if not code or code == "unknown":
            return _Texts(ui)("unknown_language")
        return language_label(code, ui) if LANGUAGE_CODE.fullmatch(code) else code

    def _languages(self, seen: Iterable[str]) -> list[str]:
        return sorted({*self.catalog.codes, *(c for c in seen if c and LANGUAGE_CODE.fullmatch(c))})

    def _language_select(self, ui: str, name: str, chosen: str | None, codes: list[str]) -> str:
        t = _Texts(ui)
        options = [f'<option value="">{e(t("all_languages"))}</option>']
        for code in codes:
            selected = " selected" if code == chosen else ""
            options.append(f'<option value="{e(code)}"{selected}>{e(self._language_name(code, ui))}</option>')
        return (f'<label for="{name}">{e(t("language"))}</label>'
                f'<select id="{name}" name="{name}">{"".join(options)}</select>')

    # --- reports -------------------------------------------------------------------------

    def _period(self, request: Request, days: int) -> tuple[date, date]:
        """since and until of the query (ValueError if malformed, reversed or too long); by
        default the last `days` days, today included."""
        until = parse_day(request.query_params.get("until"), local_today())
        since = parse_day(request.query_params.get("since"), until - timedelta(days=days - 1))
        if until < since:
            raise ValueError("until before since")
        if (until - since).days >= MAX_PERIOD_DAYS:
            raise ValueError("period too long")
        return since, until

    def _period_form(self, action: str, t: _Texts, since: str, until: str, extra: str = "") -> str:
        return f"""<form method="get" action="{action}" class="filters">
{extra}
<div><label for="since">{e(t('since'))}</label>
<input type="date" id="since" name="since" value="{e(since)}" required></div>
<div><label for="until">{e(t('until'))}</label>
<input type="date" id="until" name="until" value="{e(until)}" required></div>
<div><button type="submit">{e(t('show'))}</button></div>
</form>"""

    def _report(self, since: date, until: date, ui: str) -> tuple[Report, dict[str, str | None]]:
        report = build_report(self.database, since, until, clusters=False)
        labels = ReportLabels(ui)
        with _CHARTS:
            charts = {
                "volumes": render.chart_weekly_volumes(report, labels),
                "understood": render.chart_understood(report, labels),
                "reasons": render.chart_reasons(report, labels),
                "unsupported": render.chart_unsupported(report, labels),
                "feedback": render.chart_feedback(report, labels),
            }
        return report, charts

    async def reports_page(self, request: Request, signed_in: SignedIn) -> Response:
        ui = signed_in.adviser.ui_language
        t = _Texts(ui)
        try:
            since, until = self._period(request, REPORT_DAYS)
        except ValueError:
            form = self._period_form("/console/reports", t, request.query_params.get("since", ""),
                                     request.query_params.get("until", ""))
            content = f'{form}<p class="error" role="alert">{e(t("bad_period", days=MAX_PERIOD_DAYS))}</p>'
            return self._frame(request, signed_in, "/console/reports", t("reports_title"), content, 400)
        report, charts = await to_thread.run_sync(self._report, since, until, ui)
        content = self._period_form("/console/reports", t, since.isoformat(), until.isoformat())
        content += self._report_html(report, charts, ui)
        return self._frame(request, signed_in, "/console/reports", t("reports_title"), content)

    def _report_html(self, report: Report, charts: dict[str, str | None], ui: str) -> str:
        t = _Texts(ui)
        h, c, r = report.handoffs, report.contacts, report.ratings
        questions = sum(row.questions for row in report.understanding)
        understood = sum(row.understood for row in report.understanding)
        language = lambda code: self._language_name(code, ui)  # noqa: E731
        titles = topic_titles(ui)
        topic = lambda name: titles.get(name, name)  # noqa: E731
        period = f'<p class="note">{e(t("period_note", since=report.since, until=report.until))}</p>'
        summary = (
            '<ul class="summary">'
            f'<li>{e(t("sum_messages"))}: <strong>{_num(report.total_messages, ui)}</strong></li>'
            f'<li>{e(t("sum_resolved"))}: <strong>{_pct(understood / questions if questions else None, ui)}'
            "</strong></li>"
            f'<li>{e(t("sum_handoffs"))}: <strong>{_num(h.requests, ui)}</strong></li>'
            f'<li>{e(t("sum_contacts"))}: <strong>{_num(c.requests, ui)}</strong></li>'
            f'<li>{e(t("sum_rating"))}: <strong>{_num(r.mean, ui)}</strong></li></ul>'
        )
        sections = [
            period, summary,
            _section("volumes", t("volumes"), [
                _chart(charts["volumes"], t("chart_volumes")),
                _table(t, [t("col_week"), t("col_language"), t("col_channel"), t("col_messages"),
                           t("col_conversations")],
                       [[row.week, language(row.language), _channel(t, row.channel), row.messages, row.conversations]
                        for row in report.volumes], ui),
            ]),
            _section("understanding", t("understanding"), [
                f'<p class="note">{e(t("understanding_note"))}</p>',
                _chart(charts["understood"], t("chart_understood")),
                _table(t, [t("col_language"), t("col_questions"), t("reasons.nlu_fallback"), t("reasons.ambiguous"),
                           t("reasons.out_of_scope"), t("reasons.unsupported_language"), t("col_resolved"),
                           t("col_resolved_share")],
                       [[language(row.language), row.questions, row.nlu_fallback, row.ambiguous, row.out_of_scope,
                         row.unsupported_language, row.understood, Raw(_pct(row.understood_share, ui))]
                        for row in report.understanding], ui),
            ]),
            _section("reasons", t("reasons_title"), [
                _chart(charts["reasons"], t("chart_reasons")),
                _table(t, [t("col_reason"), t("col_questions"), t("col_share"), t("col_conversations"),
                           t("col_examples")],
                       [[_reason(t, row.reason), row.count, Raw(_pct(row.share, ui)), row.conversations,
                         self._examples(row.examples, None)] for row in report.reasons], ui),
            ]),
            _section("handoffs", t("handoffs"), [
                _table(t, [t("col_measure"), t("col_value")], [
                    [t("handoff_requests"), h.requests], [t("handoff_claimed"), h.claimed],
                    [t("wait_median"), Raw(_duration(h.wait_median_seconds))],
                    [t("wait_p90"), Raw(_duration(h.wait_p90_seconds))],
                    *[[f'{t("by_trigger")}: {_trigger(ui, k)}', v] for k, v in h.by_trigger.items()],
                    *[[f'{t("col_language")}: {language(k)}', v] for k, v in h.by_language.items()],
                    *[[f'{t("col_status")}: {_handoff_status(t, k)}', v] for k, v in h.by_status.items()],
                ], ui),
                f'<h3>{e(t("outcomes"))}</h3>',
                _table(t, [t("col_topic"), t("col_handoffs")], [[topic(k), v] for k, v in h.outcomes], ui),
            ]),
            _section("contacts", t("contacts"), [
                _table(t, [t("col_measure"), t("col_value")], [
                    [t("contact_requests"), c.requests], [t("contact_handled"), c.handled],
                    [t("contact_handled_share"), Raw(_pct(c.handled_share, ui))],
                    *[[f'{t("col_language")}: {language(k)}', v] for k, v in c.by_language.items()],
                ], ui),
            ]),
            _section("unsupported", t("unsupported"), [
                _chart(charts["unsupported"], t("chart_unsupported")),
                _table(t, [t("col_language"), t("col_messages"), t("col_conversations")],
                       [[language(row.language), row.messages, row.conversations]
                        for row in report.unsupported_languages], ui),
            ]),
            _section("feedback", t("feedback"), [
                _chart(charts["feedback"], t("chart_feedback")),
                _table(t, [t("col_topic"), t("col_up"), t("col_down"), t("col_positive_share")],
                       [[topic(row.topic), row.up, row.down, Raw(_pct(row.positive_share, ui))]
                        for row in report.feedback_topics], ui),
                f'<h3>{e(t("ratings"))}</h3>',
                _table(t, [t("col_measure"), t("col_value")], [
                    [t("ratings_count"), r.count], [t("ratings_mean"), Raw(_num(r.mean, ui))],
                    *[[t("rating_score", score=k), v] for k, v in r.distribution.items()],
                    *[[t("rating_mean_in", language=language(k)), Raw(_num(v, ui))] for k, v in r.by_language.items()],
                ], ui),
            ]),
            self._downloads(report, t),
        ]
        return "\n".join(sections)

    def _downloads(self, report: Report, t: _Texts) -> str:
        query = urlencode({"since": report.since.isoformat(), "until": report.until.isoformat()})
        items = "".join(
            f'<li><a href="/console/reports/{name}.csv?{e(query)}" download>{name}.csv</a> '
            f'<span class="note">{e(t("csv." + name))}</span></li>'
            for name in CSV_NAMES
        )
        return _section("downloads", t("downloads"), [f'<ul class="downloads">{items}</ul>'])

    def _examples(self, texts: list[str], language: str | None) -> Raw:
        attributes = self._lang_attrs(language) if language else ' dir="auto"'
        items = "".join(f"<li{attributes}>{e(mask(text))}</li>" for text in texts)
        return Raw(f'<ul class="examples">{items}</ul>' if items else "")

    def _csv(self, name: str, since: date, until: date) -> bytes:
        report = build_report(self.database, since, until, clusters=name == "clusters")
        with tempfile.TemporaryDirectory() as folder:
            render.write_csvs(report, Path(folder))
            return (Path(folder) / f"{name}.csv").read_bytes()

    async def report_csv(self, request: Request, signed_in: SignedIn) -> Response:
        name = request.path_params["name"]
        if name not in CSV_NAMES:
            return Response("unknown report file", status_code=404, media_type="text/plain",
                            headers=SECURITY_HEADERS)
        try:
            since, until = self._period(request, REPORT_DAYS)
        except ValueError:
            return Response("since and until are dates YYYY-MM-DD, until not before since", status_code=400,
                            media_type="text/plain", headers=SECURITY_HEADERS)
        content = await to_thread.run_sync(self._csv, name, since, until)
        return Response(content, media_type="text/csv; charset=utf-8", headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f"attachment; filename={name}_{since.isoformat()}_{until.isoformat()}.csv",
        })

    # --- candidate topics ----------------------------------------------------------------

    async def topics_page(self, request: Request, signed_in: SignedIn) -> Response:
        ui = signed_in.adviser.ui_language
        t = _Texts(ui)
        language = request.query_params.get("language") or None
        counts = await to_thread.run_sync(self.inbox.counts)
        codes = self._languages(counts)
        select_html = f"<div>{self._language_select(ui, 'language', language, codes)}</div>"
        try:
            if language is not None and not LANGUAGE_CODE.fullmatch(language):
                raise ValueError(language)
            since, until = self._period(request, TOPIC_DAYS)
        except ValueError:
            form = self._period_form("/console/topics", t, request.query_params.get("since", ""),
                                     request.query_params.get("until", ""), select_html)
            content = f'{form}<p class="error" role="alert">{e(t("bad_filter"))}</p>'
            return self._frame(request, signed_in, "/console/topics", t("topics_title"), content, 400)
        start, end = period_bounds(since, until)
        clusters = await to_thread.run_sync(
            lambda: discover_topics(self.database, start, end, languages=[language] if language else None,
                                    only_new=True))
        parts = [self._notice(request, t),
                 f'<p class="note">{e(t("topics_note"))}</p>',
                 f'<p class="note" id="{TOPIC_HINT}">{e(t("new_topic_hint"))}</p>',
                 self._period_form("/console/topics", t, since.isoformat(), until.isoformat(), select_html)]
        if not clusters:
            parts.append(f"<p>{e(t('no_clusters'))}</p>")
        here = with_query("/console/topics", [("language", language), ("since", since.isoformat()),
                                              ("until", until.isoformat())])
        intents = self._intent_options(ui)
        for code, found in clusters.items():
            parts.append(f'<section aria-labelledby="lang-{e(code)}">'
                         f'<h2 id="lang-{e(code)}">{e(self._language_name(code, ui))}</h2>')
            for number, cluster in enumerate(found, start=1):
                parts.append(self._cluster_html(cluster, f"{code}-{number}", t, signed_in, here, intents, ui))
            parts.append("</section>")
        return self._frame(request, signed_in, "/console/topics", t("topics_title"), "\n".join(parts))

    def _cluster_html(self, cluster: Cluster, key: str, t: _Texts, signed_in: SignedIn, here: str,
                      intents: list[tuple[str, str]], ui: str) -> str:
        heading_id = f"cluster-{e(key)}"
        # Keywords are words of the questions: in their language and direction.
        keywords = f"<span{self._lang_attrs(cluster.language)}>{e(', '.join(cluster.keywords))}</span>" \
            if cluster.keywords else "–"
        heading = e(t("cluster_heading", size=cluster.size, keywords="\x00")).replace("\x00", keywords)
        reasons = ", ".join(f"{_reason(t, k)} {_num(v, ui)}" for k, v in cluster.reasons.items())
        examples = "".join(f"<li{self._lang_attrs(cluster.language)}>{e(mask(text))}</li>"
                           for text in cluster.examples)
        hidden = [("ids", ",".join(str(i) for i in cluster.item_ids))]
        forms = self._label_forms("/console/topics/label", key, signed_in, here, intents, None, hidden, t,
                                  described_by=heading_id, many=True)
        return f"""<article class="cluster" aria-labelledby="{heading_id}">
<h3 id="{heading_id}">{heading}</h3>
<dl class="facts"><dt>{e(t('keywords'))}</dt><dd>{keywords}</dd>
<dt>{e(t('col_reason'))}</dt><dd>{e(reasons)}</dd>
<dt>{e(t('col_questions'))}</dt><dd>{_num(cluster.size, ui)}</dd></dl>
<p>{e(t('examples_masked'))}</p>
<ul class="examples">{examples}</ul>
{forms}
</article>"""

    def _intent_options(self, ui: str) -> list[tuple[str, str]]:
        titles = topic_titles(ui)
        return [(intent, f"{intent} – {titles[intent]}" if intent in titles else intent)
                for intent in sorted(self.inbox.intents)]

    def _label_forms(self, action: str, key: str, signed_in: SignedIn, here: str, intents: list[tuple[str, str]],
                     suggestion: str | None, hidden: list[tuple[str, str]], t: _Texts, *, described_by: str,
                     many: bool = False, status: str = NEW) -> str:
        """Three forms: label with an intent, as a new topic (with an optional name), dismiss;
        and, for a question already labelled, one to put it back in the inbox."""
        common = (f'<input type="hidden" name="csrf_token" value="{e(signed_in.csrf_token)}">'
                  f'<input type="hidden" name="next" value="{e(here)}">'
                  + "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in hidden))
        options = [f'<option value="">{e(t("choose_intent"))}</option>'] if suggestion not in dict(intents) else []
        options += [f'<option value="{e(v)}"{" selected" if v == suggestion else ""}>{e(text)}</option>'
                    for v, text in intents]
        suffix = "_all" if many else ""
        forms = [
            f"""<form method="post" action="{action}" class="label-form">{common}
<label for="intent-{e(key)}">{e(t('label_intent' + suffix))}</label>
<select id="intent-{e(key)}" name="label" required aria-describedby="{described_by}">{''.join(options)}</select>
<button type="submit" aria-describedby="{described_by}">{e(t('label_button'))}</button>
</form>""",
            f"""<form method="post" action="{action}" class="label-form">{common}
<input type="hidden" name="label" value="{NEW_TOPIC}">
<label for="topic-{e(key)}">{e(t('new_topic_name'))}</label>
<input id="topic-{e(key)}" name="topic_name" maxlength="64" autocomplete="off"
 aria-describedby="{TOPIC_HINT} {described_by}">
<button type="submit" aria-describedby="{described_by}">{e(t('new_topic_button' + suffix))}</button>
</form>""",
            f"""<form method="post" action="{action}" class="label-form">{common}
<input type="hidden" name="label" value="{DISMISSED}">
<button type="submit" class="secondary" aria-describedby="{described_by}">{e(t('dismiss_button' + suffix))}</button>
</form>""",
        ]
        if status != NEW:
            forms.append(f"""<form method="post" action="{action}" class="label-form">{common}
<input type="hidden" name="label" value="{NEW}">
<button type="submit" class="secondary" aria-describedby="{described_by}">{e(t('unlabel_button'))}</button>
</form>""")
        return f'<div class="label-forms">{"".join(forms)}</div>'

    # --- labelling -----------------------------------------------------------------------

    def _label_error(self, request: Request, signed_in: SignedIn, message: str, back: str,
                     status: int = 400) -> Response:
        t = _Texts(signed_in.adviser.ui_language)
        content = f'<p class="error" role="alert">{e(message)}</p><p><a href="{e(back)}">{e(t("go_back"))}</a></p>'
        return self._frame(request, signed_in, "", t("label_failed"), content, status)

    @staticmethod
    def _label_args(form: FormData) -> tuple[str, str | None]:
        label = str(form.get("label") or "").strip()
        name = re.sub(r"[\s-]+", "_", str(form.get("topic_name") or "").strip().lower()) or None
        if label != NEW_TOPIC:
            name = None
        elif name is not None and not TOPIC_NAME.fullmatch(name):
            raise ValueError("topic name")
        return label, name

    def _check_label(self, label: str) -> None:
        if label not in (NEW_TOPIC, DISMISSED, NEW) and label not in self.inbox.intents:
            raise ValueError(label)

    def _existing(self, ids: list[int]) -> set[int]:
        with self.database.session() as session:
            return set(session.execute(select(UnresolvedQuestion.id).where(
                UnresolvedQuestion.id.in_(ids), UnresolvedQuestion.text.is_not(None))).scalars())

    def _redirect_back(self, form: FormData, default: str, done: int) -> Response:
        path, query = back_target(str(form.get("next") or ""), default)
        target = with_query(path, [*(pair for pair in query if pair[0] != "done"), ("done", done)])
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    async def label_item(self, request: Request, signed_in: SignedIn, form: FormData) -> Response:
        t = _Texts(signed_in.adviser.ui_language)
        back = with_query(*back_target(str(form.get("next") or ""), "/console/inbox"))
        item_id = int(request.path_params["id"])
        try:
            label, name = self._label_args(form)
            self._check_label(label)
        except ValueError:
            return self._label_error(request, signed_in, t("bad_label"), back)
        if not await to_thread.run_sync(self._existing, [item_id]):
            return self._label_error(request, signed_in, t("not_found"), back, 404)
        await to_thread.run_sync(lambda: self.inbox.label(item_id, label, signed_in.adviser.username, name))
        return self._redirect_back(form, "/console/inbox", 1)

    async def label_cluster(self, request: Request, signed_in: SignedIn, form: FormData) -> Response:
        t = _Texts(signed_in.adviser.ui_language)
        back = with_query(*back_target(str(form.get("next") or ""), "/console/topics"))
        ids: list[int] = []
        for value in form.getlist("ids"):
            for part in str(value).split(","):
                part = part.strip()
                if not part:
                    continue
                if not part.isdigit():
                    return self._label_error(request, signed_in, t("bad_ids"), back)
                ids.append(int(part))
        ids = sorted(set(ids))
        if not ids or len(ids) > MAX_IDS:
            return self._label_error(request, signed_in, t("bad_ids"), back)
        try:
            label, name = self._label_args(form)
            self._check_label(label)
        except ValueError:
            return self._label_error(request, signed_in, t("bad_label"), back)
        if await to_thread.run_sync(self._existing, ids) != set(ids):
            return self._label_error(request, signed_in, t("bad_ids"), back)
        count = await to_thread.run_sync(
            lambda: self.inbox.label_many(ids, label, signed_in.adviser.username, name))
        return self._redirect_back(form, "/console/topics", count)

    async def ui_language(self, request: Request, signed_in: SignedIn, form: FormData) -> Response:
        language = str(form.get("language") or "")
        if language in UI_LANGUAGES:
            await to_thread.run_sync(lambda: self.store.update_adviser(signed_in.adviser.id, ui_language=language))
        path, query = back_target(str(form.get("next") or ""), "/console/reports")
        return RedirectResponse(with_query(path, query), status_code=303, headers=SECURITY_HEADERS)

    # --- inbox ---------------------------------------------------------------------------

    async def inbox_page(self, request: Request, signed_in: SignedIn) -> Response:
        ui = signed_in.adviser.ui_language
        t = _Texts(ui)
        params = request.query_params
        language = params.get("language") or None
        reason = params.get("reason") or None
        status = params.get("status") or NEW
        page_text = params.get("page") or "1"
        counts = await to_thread.run_sync(self.inbox.counts)
        codes = self._languages(counts)
        valid = ((language is None or LANGUAGE_CODE.fullmatch(language)) and (reason is None or reason in INBOX_REASONS)
                 and (status in STATUSES or status == ALL) and page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE)
        filters = self._inbox_filters(ui, language, reason, status, codes)
        if not valid:
            content = f'{filters}<p class="error" role="alert">{e(t("bad_filter"))}</p>'
            return self._frame(request, signed_in, "/console/inbox", t("inbox_title"), content, 400)
        page = int(page_text)
        items = await to_thread.run_sync(lambda: self.inbox.items(
            status=None if status == ALL else status, language=language, reason=reason, limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE))
        more = len(items) > PAGE_SIZE
        items = items[:PAGE_SIZE]
        filter_params = [("language", language), ("reason", reason), ("status", status)]
        here = with_query("/console/inbox", [*filter_params, ("page", page if page > 1 else None)])
        intents = self._intent_options(ui)
        parts = [
            self._notice(request, t),
            _section("counts", t("counts"), [self._counts_table(counts, t, ui)]),
            _section("questions", t("questions"), [
                filters,
                self._items_table(items, t, ui, signed_in, here, intents),
                self._pager(filter_params, page, more, t),
            ]),
            self._exports(counts, t, ui),
        ]
        return self._frame(request, signed_in, "/console/inbox", t("inbox_title"), "\n".join(parts))

    def _inbox_filters(self, ui: str, language: str | None, reason: str | None, status: str,
                       codes: list[str]) -> str:
        t = _Texts(ui)
        reasons = [f'<option value="">{e(t("all_reasons"))}</option>'] + [
            f'<option value="{r}"{" selected" if r == reason else ""}>{e(_reason(t, r))}</option>'
            for r in INBOX_REASONS]
        statuses = [f'<option value="{s}"{" selected" if s == status else ""}>{e(t("statuses." + s))}</option>'
                    for s in (*STATUSES, ALL)]
        return f"""<form method="get" action="/console/inbox" class="filters">
<div>{self._language_select(ui, 'language', language, codes)}</div>
<div><label for="reason">{e(t('col_reason'))}</label>
<select id="reason" name="reason">{''.join(reasons)}</select></div>
<div><label for="status">{e(t('col_status'))}</label>
<select id="status" name="status">{''.join(statuses)}</select></div>
<div><button type="submit">{e(t('show'))}</button></div>
</form>"""

    def _counts_table(self, counts: dict[str, dict[str, int]], t: _Texts, ui: str) -> str:
        rows = [[self._language_name(code, ui), *[by_status.get(s, 0) for s in STATUSES], sum(by_status.values())]
                for code, by_status in sorted(counts.items())]
        if counts:
            rows.append([t("total"), *[sum(c.get(s, 0) for c in counts.values()) for s in STATUSES],
                         sum(sum(c.values()) for c in counts.values())])
        return _table(t, [t("col_language"), *[t("statuses." + s) for s in STATUSES], t("total")], rows, ui)

    def _items_table(self, items: list[InboxItem], t: _Texts, ui: str, signed_in: SignedIn, here: str,
                     intents: list[tuple[str, str]]) -> str:
        if not items:
            return f"<p>{e(t('no_questions'))}</p>"
        hint = f'<p class="note" id="{TOPIC_HINT}">{e(t("new_topic_hint"))}</p>'
        titles = topic_titles(ui)
        head = "".join(f'<th scope="col">{e(h)}</th>' for h in (
            t("col_question"), t("col_time"), t("col_language"), t("col_reason"), t("col_top_intent"),
            t("col_status"), t("col_label")))
        rows = []
        for item in items:
            stamp, shown = local_time(item.created_at)
            best = (item.intents or [{}])[0]
            guess = (f'<span class="intent">{e(best["name"])}</span> '
                     f'<span class="note">{_pct(best.get("confidence"), ui)}</span>'
                     if best.get("name") else "–")
            if item.outcome_topic:
                guess += (f'<br><span class="note">{e(t("adviser_topic"))}: '
                          f'{e(titles.get(item.outcome_topic, item.outcome_topic))}</span>')
            state = e(t("statuses." + item.status)) if f"analyst.statuses.{item.status}" in t.texts else e(item.status)
            if item.label_intent:
                state += f'<br><code class="intent">{e(item.label_intent)}</code>'
            if item.labelled_by:
                state += f'<br><span class="note">{e(item.labelled_by)}</span>'
            forms = self._label_forms(f"/console/inbox/{item.id}/label", str(item.id), signed_in, here, intents,
                                      item.suggestion, [], t, described_by=f"q-{item.id}", status=item.status)
            rows.append(
                f'<tr><th scope="row" id="q-{item.id}"{self._lang_attrs(item.language)} class="question">'
                f"{e(mask(item.text or ''))}</th>"
                f'<td><time datetime="{e(stamp)}">{e(shown)}</time></td>'
                f"<td>{e(self._language_name(item.language, ui))}</td>"
                f"<td>{e(_reason(t, item.reason))}</td><td>{guess}</td><td>{state}</td><td>{forms}</td></tr>")
        return (f'{hint}<div class="table-scroll" role="region" aria-labelledby="s-questions" tabindex="0">'
                f'<table class="inbox"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')

    def _pager(self, filter_params: list[tuple[str, str | None]], page: int, more: bool, t: _Texts) -> str:
        links = []
        if page > 1:
            href = with_query("/console/inbox", [*filter_params, ("page", page - 1 if page > 2 else None)])
            links.append(f'<a href="{e(href)}" rel="prev">{e(t("previous_page"))}</a>')
        links.append(f'<span aria-current="page">{e(t("page", page=page))}</span>')
        if more:
            href = with_query("/console/inbox", [*filter_params, ("page", page + 1)])
            links.append(f'<a href="{e(href)}" rel="next">{e(t("next_page"))}</a>')
        return f'<nav class="pager" aria-label="{e(t("pages"))}">{" ".join(links)}</nav>'

    def _exports(self, counts: dict[str, dict[str, int]], t: _Texts, ui: str) -> str:
        labelled = {code: c.get("labelled", 0) for code, c in sorted(counts.items())
                    if c.get("labelled") and LANGUAGE_CODE.fullmatch(code)}
        if not labelled:
            body = f"<p>{e(t('nothing_labelled'))}</p>"
        else:
            items = "".join(
                f'<li><a href="/console/inbox/export?language={e(code)}" download>nlu_{e(code)}.yml</a> '
                f'<span class="note">{e(t("export_item", language=self._language_name(code, ui), count=count))}'
                "</span></li>"
                for code, count in labelled.items())
            body = f'<ul class="downloads">{items}</ul>'
        return _section("export", t("export"), [f'<p class="note">{e(t("export_note"))}</p>', body])

    async def export(self, request: Request, signed_in: SignedIn) -> Response:
        language = request.query_params.get("language") or ""
        if not LANGUAGE_CODE.fullmatch(language):
            return Response("language is a language code (fi, sv, ...)", status_code=400, media_type="text/plain",
                            headers=SECURITY_HEADERS)
        content = await to_thread.run_sync(self.inbox.export_yaml, language)
        return Response(content, media_type="text/yaml; charset=utf-8", headers={
            **SECURITY_HEADERS, "Content-Disposition": f"attachment; filename=nlu_{language}.yml"})


# --- texts and HTML helpers ------------------------------------------------------------------


class _Texts:
    """The analyst texts of locales/console/<ui>.yml (section `analyst`)."""

    def __init__(self, ui: str) -> None:
        self.ui = ui
        self.texts = console_texts(ui)

    def __call__(self, key: str, **values: Any) -> str:
        return self.texts[f"analyst.{key}"].format(**values)

    def get(self, key: str, default: str) -> str:
        return self.texts.get(f"analyst.{key}", default)


def _num(value: float | int | None, ui: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    shown = f"{value:.2f}".rstrip("0").rstrip(".")
    return shown.replace(".", ",") if ui == "fi" else shown


def _pct(value: float | None, ui: str) -> str:
    if value is None:
        return "–"
    shown = f"{value * 100:.1f}"
    return (shown.replace(".", ",") if ui == "fi" else shown) + "\u00a0%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"


def _reason(t: _Texts, reason: str) -> str:
    return t.get(f"reasons.{reason}", reason)


def _channel(t: _Texts, channel: str) -> str:
    return t.texts.get(f"channels.{channel}", channel)


def _trigger(ui: str, trigger: str) -> str:
    return console_texts(ui).get(f"reasons.{trigger}", trigger)


def _handoff_status(t: _Texts, status: str) -> str:
    return t.get(f"handoff_statuses.{status}", status)


def _chart(data: str | None, alt: str) -> str:
    if not data:
        return ""
    return f'<figure class="chart"><img src="data:image/png;base64,{data}" alt="{e(alt)}"></figure>'


def _section(key: str, title: str, parts: list[str]) -> str:
    return (f'<section aria-labelledby="s-{key}"><h2 id="s-{key}">{e(title)}</h2>\n'
            + "\n".join(p for p in parts if p) + "\n</section>")


def _table(t: _Texts, header: list[str], rows: list[list[Any]], ui: str) -> str:
    """A table whose first column heads its row; numbers right-aligned; `Raw` cells as they are."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in header)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            if index == 0:
                cells.append(f'<th scope="row">{cell if isinstance(cell, Raw) else e(cell)}</th>')
            elif isinstance(cell, (int, float)) and not isinstance(cell, bool):
                cells.append(f'<td class="num">{e(_num(cell, ui))}</td>')
            elif isinstance(cell, Raw):
                cells.append(f'<td class="num">{cell}</td>' if not cell.startswith("<") else f"<td>{cell}</td>")
            else:
                cells.append(f"<td>{e(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(header)}">{e(t("no_data"))}</td></tr>')
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
