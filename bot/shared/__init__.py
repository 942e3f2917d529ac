"""What several gateway processes share, so that any of them can serve anyone (issue 16).

With `REDIS_URL` set: socket.io's rooms (python-socketio's AsyncRedisManager, one channel
for the web chat and one for the console), leases (bot/shared/lease.py: the timers and
Telegram's poller run on one gateway at a time), turn locks (bot/shared/locks.py) and
"once" marks (bot/shared/once.py: Telegram update ids, the daily retention). The rate
limits share the same Redis (bot/limits.py). Everything else is in the database.

Without it there is one gateway process: socket.io keeps its rooms in memory, the leases
are always held, the locks and marks are the process's own. That is `make run`.

Gateways of one deployment are those with the same DATABASE_URL: the keys and channels
are named after a hash of it (`assistant:<hash>:...`), so test gateways and deployments
that share a Redis server do not meet there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from bot.shared.lease import Lease, LocalLease, RedisLease
from bot.shared.locks import TurnLocks
from bot.shared.once import LocalOnce, Once, RedisOnce


def deployment_namespace(database_url: str) -> str:
    return "assistant:" + hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:12]


@dataclass
class SharedState:
    namespace: str
    lease_seconds: float = 10.0
    redis_url: str | None = None
    _redis: object | None = field(default=None, repr=False)
    _locks: TurnLocks | None = field(default=None, repr=False)
    _once: Once | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.redis_url:
            import redis.asyncio as redis_asyncio

            self._redis = redis_asyncio.from_url(self.redis_url)
        self._locks = TurnLocks(self._redis, f"{self.namespace}:turn:", self.lease_seconds)
        self._once = RedisOnce(self._redis, f"{self.namespace}:once:") if self._redis else LocalOnce()

    @property
    def distributed(self) -> bool:
        return self._redis is not None

    def lease(self, name: str, key: str | None = None) -> Lease:
        """The lease `name` (a metrics label); `key` names it in Redis when it is not the
        deployment's own (Telegram's poller belongs to the bot token)."""
        if self._redis is None:
            return LocalLease(name)
        return RedisLease(self._redis, name, key or f"{self.namespace}:lease:{name}", self.lease_seconds)

    @property
    def turn_locks(self) -> TurnLocks:
        return self._locks

    @property
    def once(self) -> Once:
        return self._once

    def socketio_manager(self, channel: str) -> object | None:
        """A python-socketio client manager for one socket.io server: emits to a room reach
        its clients on every gateway. None: socket.io's own, in this process."""
        if not self.redis_url:
            return None
        import socketio

        return socketio.AsyncRedisManager(self.redis_url, channel=f"{self.namespace}:{channel}")

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()


def build_shared_state(redis_url: str | None, database_url: str, lease_seconds: float) -> SharedState:
    return SharedState(deployment_namespace(database_url), lease_seconds, redis_url or None)
