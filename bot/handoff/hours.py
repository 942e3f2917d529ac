"""Adviser chat hours: weekly hours, dated exceptions and Finnish public holidays,
in Helsinki time (config/handoff.yml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Range = tuple[time, time]


def _clock(value: str) -> time:
    hours, minutes = (int(part) for part in str(value).split(":"))
    return time.max if (hours, minutes) == (24, 0) else time(hours, minutes)


def _ranges(raw: list | None) -> list[Range]:
    out = []
    for start, end in raw or []:
        begin, finish = _clock(start), _clock(end)
        if finish <= begin:
            raise ValueError(f"chat hours {start}-{end}: the end must come after the start")
        out.append((begin, finish))
    return sorted(out)


@dataclass(frozen=True)
class ServiceHours:
    time_zone: ZoneInfo
    weekly: dict[str, list[Range]]
    exceptions: dict[date, list[Range]] = field(default_factory=dict)
    holiday_country: str | None = "FI"

    @classmethod
    def from_config(cls, raw: dict) -> ServiceHours:
        weekly = {day: _ranges((raw.get("weekly") or {}).get(day)) for day in WEEKDAYS}
        exceptions = {
            date.fromisoformat(str(day)): _ranges(ranges) for day, ranges in (raw.get("exceptions") or {}).items()
        }
        return cls(ZoneInfo(raw.get("time_zone", "Europe/Helsinki")), weekly, exceptions,
                   raw.get("public_holidays", "FI"))

    def hours_on(self, day: date) -> list[Range]:
        if day in self.exceptions:
            return self.exceptions[day]
        if self.holiday_country and day in holidays.country_holidays(self.holiday_country, years=day.year):
            return []
        return self.weekly[WEEKDAYS[day.weekday()]]

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.time_zone)
        return any(start <= local.time() < end for start, end in self.hours_on(local.date()))

    def next_opening(self, moment: datetime, within_days: int = 14) -> datetime | None:
        """The next moment the chat opens (local time), or None if not within `within_days`."""
        local = moment.astimezone(self.time_zone)
        for offset in range(within_days + 1):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.hours_on(day):
                opening = datetime.combine(day, start, tzinfo=self.time_zone)
                if opening > local:
                    return opening
        return None
