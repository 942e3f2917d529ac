"""The local Redis (127.0.0.1:6379), for tests that run against the real server; they skip,
saying so, where it is not running (as tests/postgres.py does for PostgreSQL)."""

from __future__ import annotations

import pytest


def require_redis(url: str) -> str:
    """`url` when its Redis answers; otherwise the calling test or fixture is skipped, saying why."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
        pytest.skip(f"Redis not reachable at {url} ({type(error).__name__})")
    return url
