"""One holder at a time across gateways: the lease behind the timers (the handoff sweep,
stranded-message recovery, the daily retention) and behind Telegram's long polling.

With Redis (REDIS_URL) a lease is a key holding a random token, taken when it is free and
renewed every quarter of its period by one script that extends it only while the token
is still ours (`SET` with `PX`, `PEXPIRE`). A gateway that dies stops renewing, the key
expires and another gateway takes it: within the period and a quarter. A holder that
cannot reach Redis counts itself out half a period after its last successful renewal
began, before the key can expire, so two gateways never both believe they hold it (each
compares only its own clock). A stopped gateway gives the lease up at once.

Without Redis there is one gateway process (SQLite, `make run`): its lease is always held.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from typing import Protocol

from bot import metrics

log = logging.getLogger(__name__)

# KEYS[1] the lease; ARGV: our token, the period in ms. 1 when the lease is ours now.
TAKE_OR_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# KEYS[1] the lease; ARGV[1] our token.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def holder_name() -> str:
    """Who holds a lease, for people reading Redis: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease(Protocol):
    name: str

    @property
    def held(self) -> bool:
        """True while this gateway may do the lease's work."""

    async def start(self) -> None:
        """Try to take the lease at once, then keep trying (or renewing) in the background."""

    async def stop(self) -> None:
        """Give the lease up (another gateway takes it at its next try)."""

    async def wait_until(self, held: bool) -> None:
        """Return once the lease is held (held=True) or not held (held=False)."""


class LocalLease:
    """One gateway process: always the holder."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def held(self) -> bool:
        return True

    async def start(self) -> None:
        metrics.set_lease_held(self.name, True)

    async def stop(self) -> None:
        metrics.set_lease_held(self.name, False)

    async def wait_until(self, held: bool) -> None:
        if not held:
            await asyncio.Event().wait()  # never lost


class RedisLease:
    """A lease in Redis shared by every gateway (see the module's docstring)."""

    def __init__(self, redis: object, name: str, key: str, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("a lease needs a positive period")
        self.name = name
        self.key = key
        self.seconds = seconds
        self.token = f"{holder_name()}:{secrets.token_hex(8)}"
        self._redis = redis
        self._take_or_renew = redis.register_script(TAKE_OR_RENEW)
        self._release = redis.register_script(RELEASE)
        self._valid_until = 0.0
        self._holding = False
        self._held_event = asyncio.Event()
        self._lost_event = asyncio.Event()
        self._lost_event.set()
        self._task: asyncio.Task | None = None

    @property
    def interval(self) -> float:
        """How often the lease is renewed, or tried by the others."""
        return self.seconds / 4

    @property
    def held(self) -> bool:
        return self._holding and asyncio.get_running_loop().time() < self._valid_until

    async def start(self) -> None:
        await self._attempt()
        self._task = asyncio.create_task(self._run(), name=f"lease-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._holding:
            try:
                await asyncio.wait_for(self._release(keys=[self.key], args=[self.token]), self.interval)
            except Exception:  # noqa: BLE001 - it expires by itself
                log.warning("could not give up the %s lease; it expires in %.0f s", self.name, self.seconds)
        self._set(False)

    async def wait_until(self, held: bool) -> None:
        await (self._held_event if held else self._lost_event).wait()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self._attempt()
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))

    async def _attempt(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            ours = bool(await asyncio.wait_for(
                self._take_or_renew(keys=[self.key], args=[self.token, int(self.seconds * 1000)]), self.interval))
        except Exception as error:  # noqa: BLE001 - Redis unreachable: the lease may still be ours for a while
            log.warning("lease %s: Redis did not answer (%s)", self.name, type(error).__name__)
            self._set(self._holding and loop.time() < self._valid_until)
            return
        if ours:
            self._valid_until = started + self.seconds / 2
        self._set(ours)

    def _set(self, holding: bool) -> None:
        if holding != self._holding:
            log.info("%s the %s lease", "took" if holding else "lost", self.name)
        self._holding = holding
        (self._held_event.set if holding else self._held_event.clear)()
        (self._lost_event.clear if holding else self._lost_event.set)()
        metrics.set_lease_held(self.name, holding)
