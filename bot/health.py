"""Operations endpoints: `/readyz` (can the gateway serve: database, every Rasa
instance, the action server) and `/metrics` (Prometheus). `/healthz` (the
process is alive) stays in bot/app.py.

Both show internal details (addresses, timings, queue lengths): only the internal
network or a bearer token sees them (bot/ops_access.py); anyone else gets
`{"status": ...}` from /readyz and 403 from /metrics. One round of readiness checks
is reused for `readyz_cache_seconds`, and concurrent calls share the round in
progress, so a flood of /readyz calls makes at most one round of outbound checks
per period."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
from anyio import to_thread
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.ops_access import OpsAccess
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


async def readiness(database: Database, rasa_urls: list[str], actions_url: str,
                    rasa_token: str | None = None) -> tuple[bool, dict[str, Any]]:
    """Every check at once; (all passed, details per check). Rasa's /status needs the
    API token: a gateway whose token Rasa refuses is not ready."""

    def select_one() -> None:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def check_database() -> None:
        await to_thread.run_sync(select_one, abandon_on_cancel=True)

    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:

        def http_check(url: str, params: dict[str, str] | None = None):  # noqa: ANN202
            async def check() -> None:
                (await client.get(url, params=params)).raise_for_status()

            return check

        token = {"token": rasa_token} if rasa_token else None
        checks = [
            check_database,
            *(http_check(url.rstrip("/") + "/status", token) for url in rasa_urls),
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


Readiness = tuple[bool, dict[str, Any]]


class CachedChecks:
    """The last round of checks, reused for `seconds`; one round at a time."""

    def __init__(self, run: Callable[[], Awaitable[Readiness]], seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run = run
        self.seconds = seconds
        self._clock = clock
        self._result: Readiness | None = None
        self._at = -math.inf
        self._lock = asyncio.Lock()

    def _fresh(self) -> Readiness | None:
        return self._result if self._clock() - self._at < self.seconds else None

    async def get(self) -> Readiness:
        if (result := self._fresh()) is not None:
            return result
        async with self._lock:  # the callers that waited get the round just made
            if (result := self._fresh()) is not None:
                return result
            self._result = await self._run()
            self._at = self._clock()
            return self._result


def operations_routes(settings: Settings, database: Database, rasa: RasaClient) -> list[Route]:
    """/readyz and /metrics for the app's route list."""
    metrics.register_handoff_queue(database)
    access = OpsAccess(settings.ops_networks, settings.ops_token)
    checks = CachedChecks(lambda: readiness(database, rasa.instances, settings.actions_url, rasa.token),
                          settings.readyz_cache_seconds)
    no_store = {"Cache-Control": "no-store"}

    async def readyz(request: Request) -> Response:
        ok, details = await checks.get()
        body: dict[str, Any] = {"status": "ok" if ok else "unavailable"}
        if access.allows(request.scope, request.headers):
            body["checks"] = details
        return JSONResponse(body, status_code=200 if ok else 503, headers=no_store)

    async def metrics_page(request: Request) -> Response:
        if not access.allows(request.scope, request.headers):
            return JSONResponse({"status": "forbidden"}, status_code=403, headers=no_store)
        # The handoff queue is read from the database: not on the event loop.
        body, content_type = await to_thread.run_sync(metrics.render)
        return Response(body, media_type=content_type, headers=no_store)

    return [Route("/readyz", readyz), Route("/metrics", metrics_page)]
