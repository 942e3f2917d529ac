"""The gateway's abuse limits behind one small interface.

Every limit is a rate ("12/minute") applied to a key (a conversation, a client
address). `Limits.hit(name, key)` counts one event and says whether it is
within the limit; the check and the count are one step, so parallel requests
cannot slip past a limit. Two backends:

* `MemoryLimitStore` (one gateway process, the default): a sliding-window log
  per key; keys idle for longer than their window are dropped, and the number
  of keys is capped, so a flood of new keys cannot grow the process.
* `RedisLimitStore` (REDIS_URL set): the same sliding window as a sorted set
  per key, changed by one Lua script (atomic across every gateway sharing the
  Redis), with the Redis server's clock and an expiry on every key.

Why not the `limits` package: every release since 2.x requires
`packaging>=21`, and Rasa 3.6 pins `packaging<21`, so pip cannot install both.

`RATE_LIMITS=off` (setting `rate_limits`) lifts every limit here, for load
tests. The console's sign-in throttle is not one of these limits and stays on.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol

RATE_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|seconds|m|min|minute|minutes|h|hour|hours)\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Rate:
    """At most `count` events in any `seconds`-long window."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'12/minute', '30/10s', '100/hour'."""
        match = RATE_PATTERN.match(str(text))
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"not a rate (e.g. 12/minute or 30/10s): {text!r}")
        multiple = int(match.group(2) or 1)
        return cls(int(match.group(1)), float(multiple * UNIT_SECONDS[match.group(3)[0]]))

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}s"


class LimitStore(Protocol):
    async def hit(self, key: str, rate: Rate) -> bool:
        """Count one event for `key`; False (and nothing counted) when the rate is used up."""

    async def close(self) -> None: ...


class MemoryLimitStore:
    """Sliding-window logs in this process, with idle keys expiring and a cap on keys."""

    def __init__(self, max_keys: int = 100_000, clock=time.monotonic) -> None:  # noqa: ANN001
        self.max_keys = max_keys
        self._clock = clock
        # key -> the times of its events; least recently touched first
        self._logs: OrderedDict[str, _Log] = OrderedDict()
        self._longest_window = 0.0

    def __len__(self) -> int:
        return len(self._logs)

    async def hit(self, key: str, rate: Rate) -> bool:
        now = self._clock()
        self._longest_window = max(self._longest_window, rate.seconds)
        self._expire_idle(now)
        log = self._logs.pop(key, None) or _Log(deque())
        while log.times and now - log.times[0] >= rate.seconds:
            log.times.popleft()
        allowed = len(log.times) < rate.count
        if allowed:
            log.times.append(now)
        log.touched = now
        self._logs[key] = log
        while len(self._logs) > self.max_keys:
            self._logs.popitem(last=False)  # the least recently touched key
        return allowed

    def _expire_idle(self, now: float) -> None:
        """Drop keys untouched for longer than the longest window, oldest first: they are
        in the order they were last touched, so the first recent one ends the walk."""
        while self._logs:
            key, log = next(iter(self._logs.items()))
            if now - log.touched < self._longest_window:
                return
            del self._logs[key]

    async def close(self) -> None:
        self._logs.clear()


@dataclass
class _Log:
    times: deque[float]
    touched: float = 0.0


# KEYS[1] the key; ARGV: window in ms, limit, a unique member. The server's clock decides.
SLIDING_WINDOW_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""


class RedisLimitStore:
    """The same sliding window in Redis, shared by every gateway."""

    def __init__(self, url: str, prefix: str = "assistant:limits:") -> None:
        import redis.asyncio as redis_asyncio

        self._redis = redis_asyncio.from_url(url)
        self._script = self._redis.register_script(SLIDING_WINDOW_SCRIPT)
        self.prefix = prefix

    async def hit(self, key: str, rate: Rate) -> bool:
        member = f"{time.time_ns()}-{secrets.token_hex(4)}"
        window_ms = max(1, int(rate.seconds * 1000))
        return bool(await self._script(keys=[self.prefix + key], args=[window_ms, rate.count, member]))

    async def close(self) -> None:
        await self._redis.close()


class Limits:
    """The configured limits (config/gateway.yml `limits`) over one store."""

    def __init__(self, rates: dict[str, Rate], store: LimitStore, enabled: bool = True) -> None:
        self.rates = rates
        self.store = store
        self.enabled = enabled

    async def hit(self, name: str, key: str) -> bool:
        """True when this event of limit `name` for `key` is allowed (and counted)."""
        if not self.enabled:
            return True
        return await self.store.hit(f"{name}:{key}", self.rates[name])

    async def close(self) -> None:
        await self.store.close()


def build_limits(rates: dict[str, str], enabled: bool, redis_url: str | None) -> Limits:
    store: LimitStore = RedisLimitStore(redis_url) if redis_url else MemoryLimitStore()
    return Limits({name: Rate.parse(text) for name, text in rates.items()}, store, enabled)
