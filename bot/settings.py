"""Gateway settings: config/gateway.yml, overridden by environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.paths import CONFIG_DIR, PROJECT_ROOT


@dataclass(frozen=True)
class TelegramSettings:
    token: str | None = None
    mode: str = "polling"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    api_url: str = "https://api.telegram.org/bot"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite:///gateway.db"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = 15.0
    max_message_chars: int = 1000
    rate_limit_messages: int = 12
    rate_limit_seconds: float = 60.0
    # The adviser console: how long a sign-in lasts, Secure cookies (behind HTTPS:
    # true in production), and how many failed sign-ins within the window lock sign-in.
    console_session_hours: float = 10.0
    console_secure_cookies: bool = False
    sign_in_max_failures: int = 5
    sign_in_window_minutes: float = 15.0
    # Key of the HMAC that turns conversation ids into the pseudonymous keys of the
    # unresolved-question log and feedback (bot/insights/pseudonym.py).
    pseudonym_secret: str | None = None
    telegram: TelegramSettings = field(default_factory=TelegramSettings)


ENV = {
    "host": "GATEWAY_HOST",
    "port": "GATEWAY_PORT",
    "database_url": "DATABASE_URL",
    "rasa_url": "RASA_URL",
    "rasa_timeout": "RASA_TIMEOUT",
    "max_message_chars": "MAX_MESSAGE_CHARS",
    "rate_limit_messages": "RATE_LIMIT_MESSAGES",
    "rate_limit_seconds": "RATE_LIMIT_SECONDS",
    "console_session_hours": "CONSOLE_SESSION_HOURS",
    "console_secure_cookies": "CONSOLE_SECURE_COOKIES",
    "sign_in_max_failures": "SIGN_IN_MAX_FAILURES",
    "sign_in_window_minutes": "SIGN_IN_WINDOW_MINUTES",
    "pseudonym_secret": "PSEUDONYM_SECRET",
}
TELEGRAM_ENV = {
    "token": "TELEGRAM_TOKEN",
    "mode": "TELEGRAM_MODE",
    "webhook_url": "TELEGRAM_WEBHOOK_URL",
    "webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "api_url": "TELEGRAM_API_URL",
}


def _sqlite_relative_to_project(url: str) -> str:
    """`sqlite:///gateway.db` means the project folder, wherever the gateway is started."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/") and url != "sqlite://":
        return prefix + str(PROJECT_ROOT / url[len(prefix):])
    return url


def _typed(kind: str, value: object) -> object:
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    return value


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ) if environ is None else environ
    raw = yaml.safe_load((path or CONFIG_DIR / "gateway.yml").read_text(encoding="utf-8")) or {}
    telegram_raw = raw.pop("telegram", {}) or {}
    for key, variable in ENV.items():
        if environ.get(variable):
            raw[key] = environ[variable]
    for key, variable in TELEGRAM_ENV.items():
        if environ.get(variable):
            telegram_raw[key] = environ[variable]
    types = {name: f.type for name, f in Settings.__dataclass_fields__.items()}
    values = {}
    for key, value in raw.items():
        if key not in types:
            raise ValueError(f"unknown gateway setting {key!r}")
        values[key] = _typed(types[key], value)
    values["database_url"] = _sqlite_relative_to_project(values.get("database_url", Settings.database_url))
    return Settings(**values, telegram=TelegramSettings(**telegram_raw))
