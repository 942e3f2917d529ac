"""Handoff settings: config/handoff.yml, or the file named by HANDOFF_CONFIG."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.handoff.hours import ServiceHours
from bot.paths import CONFIG_DIR


@dataclass(frozen=True)
class HandoffConfig:
    hours: ServiceHours
    average_chat_minutes: float = 8
    waiting_timeout_minutes: float = 20
    # A chat with an adviser ends (the user is offered a contact request) when the user
    # has waited this long for the adviser's answer, or the adviser's console was closed this long.
    adviser_inactivity_minutes: float = 10
    adviser_online_seconds: float = 90
    contact_request_days: int = 30
    # How often waiting users are checked against the waiting timeout.
    sweep_seconds: float = 15


def load_handoff_config(path: Path | None = None) -> HandoffConfig:
    path = path or Path(os.environ.get("HANDOFF_CONFIG") or CONFIG_DIR / "handoff.yml")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return HandoffConfig(
        hours=ServiceHours.from_config(raw),
        average_chat_minutes=float(raw.get("average_chat_minutes", 8)),
        waiting_timeout_minutes=float(raw.get("waiting_timeout_minutes", 20)),
        adviser_inactivity_minutes=float(raw.get("adviser_inactivity_minutes", 10)),
        adviser_online_seconds=float(raw.get("adviser_online_seconds", 90)),
        contact_request_days=int(raw.get("contact_request_days", 30)),
        sweep_seconds=float(raw.get("sweep_seconds", 15)),
    )
