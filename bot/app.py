"""The gateway: one ASGI app for the web chat (socket.io), the widget and its
demo page, the adviser console, Telegram's webhook (when configured) and health
checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.channels.webchat import WebChat
from bot.console.analyst import AnalystConsole
from bot.console.auth import Accounts
from bot.console.live import ConsoleLive
from bot.console.routes import Console
from bot.feedback import FeedbackService
from bot.handoff.config import load_handoff_config
from bot.handoff.service import HandoffService
from bot.handoff.store import HandoffStore
from bot.health import operations_routes
from bot.insights.log import InsightsLog
from bot.insights.pseudonym import resolve_secret
from bot.insights.retention import load_retention, purge
from bot.insights.tracker_retention import purge_tracker_store
from bot.language.catalog import load_catalog
from bot.limits import build_limits
from bot.paths import PROJECT_ROOT
from bot.rasa_client import RasaClient
from bot.rasa_token import resolve_rasa_token
from bot.router import Router
from bot.settings import Settings, limit_rates, load_settings
from bot.store.db import Database, migrate
from bot.store.repository import ConversationStore
from bot.texts import section

log = logging.getLogger(__name__)
# Retention runs once a day (and at start-up).
RETENTION_SECONDS = 24 * 3600
STATIC_DIR = PROJECT_ROOT / "bot" / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
DEMO_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'"


def widget_config(session_idle_hours: float, max_message_chars: int = 1000) -> dict:
    """Languages, every widget text, the session's idle period and the longest message the gateway
    accepts, for the widget to load at start."""
    catalog = load_catalog()
    return {
        "default": catalog.default,
        "session_idle_hours": session_idle_hours,
        "max_message_chars": max_message_chars,
        "languages": [
            {"code": c, "name": catalog.languages[c].native_name, "direction": catalog.direction(c)}
            for c in catalog.supported
        ],
        "texts": {
            c: {**section(c, "widget"), **{f"feedback_{k}": v for k, v in section(c, "feedback").items()}}
            for c in catalog.supported
        },
    }


def create_app(settings: Settings | None = None) -> ProxyHeadersMiddleware:
    settings = settings or load_settings()
    if settings.migrate_on_start:
        migrate(settings.database_url)
    database = Database(settings.database_url)
    store = ConversationStore(database)
    rasa = RasaClient(settings.rasa_urls or settings.rasa_url, settings.rasa_timeout,
                      token=resolve_rasa_token(settings.rasa_token))
    limits = build_limits(limit_rates(settings), settings.rate_limits, settings.redis_url)
    router = Router(settings, store, rasa, limits)
    handoffs = HandoffService(HandoffStore(database), store, load_handoff_config())
    router.attach_handoff(handoffs)
    insights = InsightsLog(database, resolve_secret(settings.pseudonym_secret))
    router.attach_insights(insights)
    feedback = FeedbackService(store, insights)
    webchat = WebChat(router, feedback, session_idle_hours=settings.webchat_session_idle_hours)
    accounts = Accounts(database, session_hours=settings.console_session_hours,
                        max_failures=settings.sign_in_max_failures, window_minutes=settings.sign_in_window_minutes,
                        max_failures_per_address=settings.sign_in_max_failures_per_address,
                        device_days=settings.sign_in_device_days)
    console = Console(accounts, handoffs, secure_cookies=settings.console_secure_cookies)
    live = ConsoleLive(accounts)
    handoffs.subscribe(live.publish)
    channels: list = []

    async def retention_daily() -> None:
        """Deletes what is older than config/retention.yml allows, in the gateway's database and
        in Rasa's tracker store; reports keep only aggregates."""
        while True:
            try:
                policy = load_retention()
                deleted = await asyncio.to_thread(purge, database, policy)
                deleted |= await asyncio.to_thread(purge_tracker_store, settings.tracker_store_url, policy)
                log.info("retention: %s", deleted)
            except Exception:  # noqa: BLE001 - try again tomorrow
                log.exception("retention failed")
            await asyncio.sleep(RETENTION_SECONDS)

    async def sweep_forever() -> None:
        while True:
            try:
                await router.recover_stranded()
            except Exception:  # noqa: BLE001 - try again next round
                log.exception("recovering stranded messages failed")
            await asyncio.sleep(handoffs.config.sweep_seconds)
            try:
                await handoffs.sweep()
            except Exception:  # noqa: BLE001 - try again next round
                log.exception("handoff sweep failed")

    async def demo_page(request: Request) -> Response:
        response = FileResponse(STATIC_DIR / "index.html", headers=SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = DEMO_CSP
        return response

    async def config(request: Request) -> Response:
        # The widget is embedded on the city's pages, another origin than the gateway.
        return JSONResponse(
            widget_config(settings.webchat_session_idle_hours, settings.max_message_chars),
            headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.telegram.token:
            from bot.channels.telegram import TelegramChannel

            telegram = TelegramChannel(settings.telegram, router, feedback)
            channels.append(telegram)
            await telegram.start()
            if settings.telegram.mode == "webhook":
                app.router.routes.append(Route("/telegram/webhook", telegram.webhook, methods=["POST"]))
        tasks = [asyncio.create_task(sweep_forever()), asyncio.create_task(retention_daily())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for channel in channels:
                await channel.stop()
            await rasa.close()
            await limits.close()

    app = Starlette(
        routes=[
            Route("/", demo_page),
            Route("/widget/config.json", config),
            Route("/healthz", healthz),
            *operations_routes(settings, database, rasa),
            *console.routes(),
            *AnalystConsole(accounts, database).routes(),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
    )
    asgi = socketio.ASGIApp(webchat.sio, other_asgi_app=live.asgi(app), socketio_path="socket.io")
    # The real client address behind the trusted proxies (bot/client_address.py).
    return ProxyHeadersMiddleware(asgi, trusted_hosts=settings.forwarded_allow_ips)




