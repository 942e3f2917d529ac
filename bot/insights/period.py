"""A report's default period (light: the command line reads it without loading the report code)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Helsinki"
# A report's default period: this many local days, today included.
DEFAULT_DAYS = 30


def last_days(days: int = DEFAULT_DAYS, zone: str = DEFAULT_TIMEZONE, now: datetime | None = None) -> tuple[
        date, date]:
    """(since, until) of the last `days` local days, today included."""
    today = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone)).date()
    return today - timedelta(days=days - 1), today
