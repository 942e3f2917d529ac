"""The analyst views of the console (work package 6): reports, candidate new topics and
the NLU inbox, for the roles `analyst` and `admin`.

Server-rendered pages (templates in bot/templates/console/, their data from
bot/console/analyst_views.py) in the signed-in user's console language (fi or en), no
scripts: every change is an ordinary form POST carrying the session's CSRF token in the
`csrf_token` field, answered with a 303 back to the page it came from. Only masked
text is shown or exported (the log is masked when written; everything shown here
goes through `mask` once more, in case a row was written some other way).

    GET  /console/reports?since=YYYY-MM-DD&until=YYYY-MM-DD   the report (default: REPORT_DAYS up to today)
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

import re
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from anyio import to_thread
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.console.analyst_views import (
    ALL,
    CSV_NAMES,
    HELSINKI,
    LANGUAGE_CODE,
    TOPIC_HINT,
    AnalystViews,
)
from bot.console.auth import UI_LANGUAGES, Accounts, SignedIn
from bot.console.routes import SECURITY_HEADERS, FormHandler, form_action, session_of
from bot.console.texts import Texts
from bot.console.topics import topic_titles
from bot.content.currency import currency_rows
from bot.handoff.store import HandoffStore
from bot.insights import render
from bot.insights.clusters import discover_topics
from bot.insights.inbox import DISMISSED, INBOX_REASONS, NEW, NEW_TOPIC, STATUSES, TOPIC_NAME, Inbox
from bot.insights.labels import ReportLabels
from bot.insights.period import DEFAULT_DAYS
from bot.insights.report import Report, build_report, period_bounds
from bot.language.catalog import load_catalog
from bot.store.db import Database
from bot.store.models import UnresolvedQuestion
from bot.templating import render as render_template

__all__ = ["HELSINKI", "AnalystConsole"]

ANALYST_ROLES = ("analyst", "admin")
# Both views default to the last days up to and including today (local time), so that
# what happened today is never missing from the first page an analyst opens.
REPORT_DAYS = DEFAULT_DAYS
TOPIC_DAYS = 30
MAX_PERIOD_DAYS = 366
PAGE_SIZE = 25
MAX_PAGE = 10_000
MAX_IDS = 5000
# Where a form may send the browser back to: a console page, no dots, no other host.
BACK_PATH = re.compile(r"/console(?:/[A-Za-z0-9_-]+)*/?")
SWITCH_LABELS = {"fi": "Suomeksi", "en": "In English"}
NAV = (("nav_reports", "/console/reports"), ("nav_topics", "/console/topics"), ("nav_inbox", "/console/inbox"),
       ("nav_content", "/console/content"))
# matplotlib's pyplot keeps global state: one chart at a time.
_CHARTS = threading.Lock()

Handler = Callable[[Request, SignedIn], Awaitable[Response]]


def parse_day(value: str | None, default: date) -> date:
    """A YYYY-MM-DD date; `default` when empty. ValueError otherwise."""
    if not value:
        return default
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(value)
    return date.fromisoformat(value)


def local_today() -> date:
    return datetime.now(HELSINKI).date()


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
            Route("/console/content", page(self.content_page), methods=["GET"]),
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
        body = render_template("console/forbidden.html", ui=ui, csrf_token=None, t=Texts(ui, "analyst."))
        return HTMLResponse(body, status_code=403, headers=SECURITY_HEADERS)

    # --- the page frame ------------------------------------------------------------------

    def _page_response(self, request: Request, signed_in: SignedIn, template: str, current: str, title: str,
                       status: int = 200, **data: Any) -> Response:
        """`template` (an analyst view) in the frame: navigation, the language switch, sign-out."""
        adviser = signed_in.adviser
        ui = adviser.ui_language
        t = Texts(ui, "analyst.")
        # The language switch comes back here (a GET page; after a failed POST, the reports).
        here = (with_query(request.url.path, [(k, v) for k, v in request.query_params.multi_items() if k != "done"])
                if request.method == "GET" else "/console/reports")
        nav = [{"href": href, "label": t(key), "current": href == current} for key, href in NAV]
        if adviser.role == "admin":
            nav.append({"href": "/console/", "label": t("nav_adviser_console"), "current": False})
        other = "en" if ui == "fi" else "fi"
        frame = {"nav": nav, "name": adviser.display_name, "role": adviser.role, "here": here,
                 "other": {"code": other, "label": SWITCH_LABELS[other]}, "sign_out": Texts(ui)("sign_out")}
        done = request.query_params.get("done", "")
        body = render_template(template, ui=ui, csrf_token=signed_in.csrf_token, t=t, title=title, frame=frame,
                               hint_id=TOPIC_HINT, done=int(done) if done.isdigit() else None, **data)
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    # --- reports -------------------------------------------------------------------------

    def _period(self, request: Request, days: int) -> tuple[date, date]:
        """since and until of the query (ValueError if malformed, reversed or too long); by
        default the last `days` days up to today."""
        until = parse_day(request.query_params.get("until"), local_today())
        since = parse_day(request.query_params.get("since"), until - timedelta(days=days - 1))
        if until < since:
            raise ValueError("until before since")
        if (until - since).days >= MAX_PERIOD_DAYS:
            raise ValueError("period too long")
        return since, until

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
        t = Texts(ui, "analyst.")
        title = t("reports_title")
        try:
            since, until = self._period(request, REPORT_DAYS)
        except ValueError:
            period = {"since": request.query_params.get("since", ""), "until": request.query_params.get("until", "")}
            return self._page_response(request, signed_in, "console/reports.html", "/console/reports", title, 400,
                                       period=period, error=t("bad_period", days=MAX_PERIOD_DAYS))
        report, charts = await to_thread.run_sync(self._report, since, until, ui)
        return self._page_response(
            request, signed_in, "console/reports.html", "/console/reports", title,
            period={"since": since.isoformat(), "until": until.isoformat()}, error=None,
            report=AnalystViews(self.catalog, ui).report(report, charts))

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

    async def content_page(self, request: Request, signed_in: SignedIn) -> Response:
        """Which topics' answers are due for a re-check (the list of `make content-check`)."""
        ui = signed_in.adviser.ui_language
        rows = await to_thread.run_sync(currency_rows, local_today())
        titles = topic_titles(ui)
        topics = [{"title": titles.get(row.topic, row.topic), "name": row.topic, "row": row} for row in rows]
        return self._page_response(request, signed_in, "console/content.html", "/console/content",
                                   Texts(ui, "analyst.")("content_title"), topics=topics,
                                   due=sum(row.needs_review for row in rows))

    async def topics_page(self, request: Request, signed_in: SignedIn) -> Response:
        ui = signed_in.adviser.ui_language
        views = AnalystViews(self.catalog, ui)
        t = views.t
        language = request.query_params.get("language") or None
        counts = await to_thread.run_sync(self.inbox.counts)
        languages = views.language_select("language", language, views.language_codes(counts))
        page = ("console/topics.html", "/console/topics", t("topics_title"))
        try:
            if language is not None and not LANGUAGE_CODE.fullmatch(language):
                raise ValueError(language)
            since, until = self._period(request, TOPIC_DAYS)
        except ValueError:
            period = {"since": request.query_params.get("since", ""), "until": request.query_params.get("until", "")}
            return self._page_response(request, signed_in, *page, 400, period=period, languages=languages,
                                       error=t("bad_filter"))
        start, end = period_bounds(since, until)
        clusters = await to_thread.run_sync(
            lambda: discover_topics(self.database, start, end, languages=[language] if language else None,
                                    only_new=True))
        here = with_query("/console/topics", [("language", language), ("since", since.isoformat()),
                                              ("until", until.isoformat())])
        return self._page_response(
            request, signed_in, *page, period={"since": since.isoformat(), "until": until.isoformat()},
            languages=languages, error=None, groups=views.clusters(clusters, here, self.inbox.intents))

    # --- labelling -----------------------------------------------------------------------

    def _label_error(self, request: Request, signed_in: SignedIn, message: str, back: str,
                     status: int = 400) -> Response:
        t = Texts(signed_in.adviser.ui_language, "analyst.")
        return self._page_response(request, signed_in, "console/label_error.html", "", t("label_failed"), status,
                                   error=message, back=back)

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
        t = Texts(signed_in.adviser.ui_language, "analyst.")
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
        t = Texts(signed_in.adviser.ui_language, "analyst.")
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
        views = AnalystViews(self.catalog, ui)
        t = views.t
        params = request.query_params
        language = params.get("language") or None
        reason = params.get("reason") or None
        status = params.get("status") or NEW
        page_text = params.get("page") or "1"
        counts = await to_thread.run_sync(self.inbox.counts)
        filters = views.inbox_filters(language, reason, status, views.language_codes(counts))
        page = ("console/inbox.html", "/console/inbox", t("inbox_title"))
        valid = ((language is None or LANGUAGE_CODE.fullmatch(language)) and (reason is None or reason in INBOX_REASONS)
                 and (status in STATUSES or status == ALL) and page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE)
        if not valid:
            return self._page_response(request, signed_in, *page, 400, **filters, error=t("bad_filter"))
        number = int(page_text)
        items = await to_thread.run_sync(lambda: self.inbox.items(
            status=None if status == ALL else status, language=language, reason=reason, limit=PAGE_SIZE + 1,
            offset=(number - 1) * PAGE_SIZE))
        more = len(items) > PAGE_SIZE
        items = items[:PAGE_SIZE]
        filter_params = [("language", language), ("reason", reason), ("status", status)]
        here = with_query("/console/inbox", [*filter_params, ("page", number if number > 1 else None)])
        pager = {
            "page": number,
            "previous": with_query("/console/inbox", [*filter_params, ("page", number - 1 if number > 2 else None)])
            if number > 1 else None,
            "next": with_query("/console/inbox", [*filter_params, ("page", number + 1)]) if more else None,
        }
        return self._page_response(
            request, signed_in, *page, **filters, error=None, counts=views.counts(counts),
            items=views.inbox_items(items, here, self.inbox.intents), pager=pager, exports=views.exports(counts))

    async def export(self, request: Request, signed_in: SignedIn) -> Response:
        language = request.query_params.get("language") or ""
        if not LANGUAGE_CODE.fullmatch(language):
            return Response("language is a language code (fi, sv, ...)", status_code=400, media_type="text/plain",
                            headers=SECURITY_HEADERS)
        content = await to_thread.run_sync(self.inbox.export_yaml, language)
        return Response(content, media_type="text/yaml; charset=utf-8", headers={
            **SECURITY_HEADERS, "Content-Disposition": f"attachment; filename=nlu_{language}.yml"})
