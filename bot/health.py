"""Operations endpoints: `/readyz` (can the gateway serve: database, every Rasa
instance, the action server) and `/metrics` (Prometheus). `/healthz` (the
process is alive) stays in bot/app.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio
import httpx
from anyio import to_thread
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.rasa_client import RasaClient
from bot.settings import Settings
from bot.store.db import Database

CHECK_TIMEOUT = 3.0


def _failure(error: BaseException) -> str:
    """What went wrong, without addresses or credentials from the exception text."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, TimeoutError):
        return "timeout"
    return type(error).__name__


async def _timed(check) -> dict[str, Any]:  # noqa: ANN001
    started = time.monotonic()
    try:
        with anyio.fail_after(CHECK_TIMEOUT):
            await check()
    except Exception as error:  # noqa: BLE001 - every failure is a failed check
        return {"ok": False, "error": _failure(error), "ms": round((time.monotonic() - started) * 1000)}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000)}


async def readiness(database: Database, rasa_urls: list[str], actions_url: str) -> tuple[bool, dict[str, Any]]:
    """Every check at once; (all passed, details per check)."""

    def select_one() -> None:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def check_database() -> None:
        await to_thread.run_sync(select_one, abandon_on_cancel=True)

    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:

        def http_check(url: str):  # noqa: ANN202
            async def check() -> None:
                (await client.get(url)).raise_for_status()

            return check

        checks = [
            check_database,
            *(http_check(url.rstrip("/") + "/") for url in rasa_urls),
            http_check(actions_url.rstrip("/") + "/health"),
        ]
        results = await asyncio.gather(*(_timed(check) for check in checks))
    details: dict[str, Any] = {
        "database": results[0],
        "rasa": {url: result for url, result in zip(rasa_urls, results[1:-1], strict=True)},
        "actions": results[-1],
    }
    ok = all(result["ok"] for result in results)
    return ok, details


def operations_routes(settings: Settings, database: Database, rasa: RasaClient) -> list[Route]:
    """/readyz and /metrics for the app's route list."""
    metrics.register_handoff_queue(database)

    async def readyz(request: Request) -> Response:
        ok, checks = await readiness(database, rasa.instances, settings.actions_url)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def metrics_page(request: Request) -> Response:
        # The handoff queue is read from the database: not on the event loop.
        body, content_type = await to_thread.run_sync(metrics.render)
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    return [Route("/readyz", readyz), Route("/metrics", metrics_page)]
