"""Something done once across gateways: "is this the first time?" for a key, for a while.

Telegram re-delivers an update (a webhook call it did not see answered, a long poll a
dead gateway did not confirm); the daily retention runs once a day whichever gateway
holds the timers' lease. With Redis the mark is `SET key NX PX` (one gateway gets True);
without Redis it is kept in this process, at most `max_keys` of them.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger(__name__)


class Once(Protocol):
    async def first(self, key: str, seconds: float) -> bool:
        """True the first time `key` is marked within `seconds` (and marks it)."""


class LocalOnce:
    def __init__(self, max_keys: int = 10_000, clock=time.monotonic) -> None:  # noqa: ANN001
        self.max_keys = max_keys
        self._clock = clock
        self._until: OrderedDict[str, float] = OrderedDict()

    async def first(self, key: str, seconds: float) -> bool:
        now = self._clock()
        until = self._until.get(key)
        if until is not None and until > now:
            return False
        self._until.pop(key, None)
        self._until[key] = now + seconds
        while len(self._until) > self.max_keys:
            self._until.popitem(last=False)
        return True


class RedisOnce:
    def __init__(self, redis: object, prefix: str) -> None:
        self._redis = redis
        self.prefix = prefix

    async def first(self, key: str, seconds: float) -> bool:
        """When Redis does not answer: True (doing a thing twice beats losing it)."""
        try:
            return bool(await self._redis.set(self.prefix + key, 1, nx=True, px=max(1, int(seconds * 1000))))
        except Exception as error:  # noqa: BLE001
            log.warning("once: Redis did not answer (%s); treating %s as new", type(error).__name__, key)
            return True
