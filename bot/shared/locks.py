"""One turn at a time per conversation, on every gateway together.

A socket.io connection stays on one gateway (the proxy's sticky routing), and one
gateway handles a conversation's turns in order with a lock of its own. Two tabs of one
session can still reach two gateways (a phone that changed networks, a gateway added
behind the proxy), and Telegram's webhook may give two updates of one chat to two
gateways; then a lock in Redis keeps their turns in order too: a key holding a random
token, taken with SET NX PX (tried every 50 ms while another turn has it), renewed
while the turn runs, deleted by the holder. A gateway that dies mid-turn stops renewing
and the key expires within the period. When Redis does not answer the turn goes on with
the local lock only (the user is answered; at worst two replies cross).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections.abc import AsyncIterator

from bot.shared.lease import RELEASE

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.05
# KEYS[1] the lock; ARGV: our token, the period in ms.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class TurnLocks:
    """`async with locks.hold(key):` one holder of `key` at a time (in this process, and with
    Redis on every gateway)."""

    def __init__(self, redis: object | None = None, prefix: str = "", seconds: float = 10.0) -> None:
        self._redis = redis
        self.prefix = prefix
        self.seconds = seconds
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        if redis is not None:
            self._renew = redis.register_script(RENEW)
            self._release = redis.register_script(RELEASE)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._local.get(key)
        if lock is None:
            lock = self._local[key] = asyncio.Lock()
        async with lock:
            if self._redis is None:
                yield
                return
            token = secrets.token_hex(16)
            shared = await self._acquire(self.prefix + key, token)
            renewing = asyncio.create_task(self._keep(self.prefix + key, token)) if shared else None
            try:
                yield
            finally:
                if renewing is not None:
                    renewing.cancel()
                    await self._give_up(self.prefix + key, token)

    async def _acquire(self, key: str, token: str) -> bool:
        """True once the key is ours; False when Redis does not answer (the turn goes on)."""
        milliseconds = int(self.seconds * 1000)
        while True:
            try:
                if await asyncio.wait_for(self._redis.set(key, token, nx=True, px=milliseconds), self.seconds):
                    return True
            except Exception as error:  # noqa: BLE001
                log.warning("turn lock: Redis did not answer (%s); going on without it", type(error).__name__)
                return False
            await asyncio.sleep(RETRY_SECONDS)

    async def _keep(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                await self._renew(keys=[key], args=[token, int(self.seconds * 1000)])
            except Exception as error:  # noqa: BLE001 - the next try may work
                log.warning("turn lock: could not renew (%s)", type(error).__name__)

    async def _give_up(self, key: str, token: str) -> None:
        try:
            await asyncio.wait_for(self._release(keys=[key], args=[token]), self.seconds)
        except Exception as error:  # noqa: BLE001 - it expires by itself
            log.warning("turn lock: could not release (%s)", type(error).__name__)
