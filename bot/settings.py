"""Gateway settings: config/gateway.yml, overridden by environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.limits import Rate
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
    # Several Rasa instances (sharing one tracker store and lock store): each
    # conversation sticks to one of them, another takes over when it is down.
    # Empty means the one `rasa_url`; load_settings fills it in either case.
    rasa_urls: tuple[str, ...] = ()
    rasa_timeout: float = 15.0
    # A user message still 'received' after this many seconds was stranded by a process that
    # died in its turn: it is marked failed and the user told. None: 3 x rasa_timeout + 30.
    stranded_message_seconds: float | None = None
    actions_url: str = "http://127.0.0.1:5055"
    # Upgrade the database when the gateway starts (off when a deployment runs
    # `python -m bot migrate` itself, e.g. before starting several gateways).
    migrate_on_start: bool = True
    # text or json (one JSON object per line, personal data masked)
    log_format: str = "text"
    max_message_chars: int = 1000
    # Abuse limits of the web chat and Telegram (bot/limits.py), each a rate such as
    # "12/minute"; rate_limits false (RATE_LIMITS=off) lifts them all, for load tests.
    rate_limits: bool = True
    limit_conversation_messages: str = "12/minute"
    limit_client_messages: str = "120/minute"
    limit_client_sessions: str = "30/minute"
    limit_refusal_notices: str = "3/minute"
    # A web chat session not used for this long is not restored: the next visit starts afresh.
    webchat_session_idle_hours: float = 24.0
    # The adviser console: how long a sign-in lasts, Secure cookies (behind HTTPS:
    # true in production), and the sign-in throttle (bot/console/auth.py): failed
    # sign-ins within the window per username and, separately, per client address
    # that lock out untrusted clients, and how long a browser's device cookie lasts.
    console_session_hours: float = 10.0
    console_secure_cookies: bool = False
    sign_in_max_failures: int = 5
    sign_in_max_failures_per_address: int = 20
    sign_in_window_minutes: float = 15.0
    sign_in_device_days: float = 90.0
    # Key of the HMAC that turns conversation ids into the pseudonymous keys of the
    # unresolved-question log and feedback (bot/insights/pseudonym.py).
    pseudonym_secret: str | None = None
    # Shared state of several gateways (socket.io rooms, limits, timer leases); None: one process, in memory.
    redis_url: str | None = None
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses or networks, or *).
    forwarded_allow_ips: str = "127.0.0.1"
    # Token of Rasa's HTTP API, sent with every request; None: RASA_TOKEN or the project's .rasa_token.
    rasa_token: str | None = None
    # Who sees /readyz details and /metrics: clients in these networks, or with this bearer token.
    ops_networks: str = "127.0.0.0/8,::1"
    ops_token: str | None = None
    # Seconds one round of /readyz checks is reused (a flood makes at most one round per period).
    readyz_cache_seconds: float = 5.0
    # Rasa's SQL tracker store, for retention (None: not purged, e.g. an in-memory store).
    tracker_store_url: str | None = "sqlite:///rasa_tracker.db"
    telegram: TelegramSettings = field(default_factory=TelegramSettings)


ENV = {
    "host": "GATEWAY_HOST",
    "port": "GATEWAY_PORT",
    "database_url": "DATABASE_URL",
    "rasa_url": "RASA_URL",
    "rasa_urls": "RASA_URLS",
    "rasa_timeout": "RASA_TIMEOUT",
    "stranded_message_seconds": "STRANDED_MESSAGE_SECONDS",
    "actions_url": "ACTIONS_URL",
    "migrate_on_start": "MIGRATE_ON_START",
    "log_format": "LOG_FORMAT",
    "max_message_chars": "MAX_MESSAGE_CHARS",
    "rate_limits": "RATE_LIMITS",
    "limit_conversation_messages": "LIMIT_CONVERSATION_MESSAGES",
    "limit_client_messages": "LIMIT_CLIENT_MESSAGES",
    "limit_client_sessions": "LIMIT_CLIENT_SESSIONS",
    "limit_refusal_notices": "LIMIT_REFUSAL_NOTICES",
    "webchat_session_idle_hours": "WEBCHAT_SESSION_IDLE_HOURS",
    "console_session_hours": "CONSOLE_SESSION_HOURS",
    "console_secure_cookies": "CONSOLE_SECURE_COOKIES",
    "sign_in_max_failures": "SIGN_IN_MAX_FAILURES",
    "sign_in_max_failures_per_address": "SIGN_IN_MAX_FAILURES_PER_ADDRESS",
    "sign_in_window_minutes": "SIGN_IN_WINDOW_MINUTES",
    "sign_in_device_days": "SIGN_IN_DEVICE_DAYS",
    "pseudonym_secret": "PSEUDONYM_SECRET",
    "redis_url": "REDIS_URL",
    "forwarded_allow_ips": "FORWARDED_ALLOW_IPS",
    "rasa_token": "RASA_TOKEN",
    "ops_networks": "OPS_NETWORKS",
    "ops_token": "OPS_TOKEN",
    "readyz_cache_seconds": "READYZ_CACHE_SECONDS",
    "tracker_store_url": "TRACKER_STORE_URL",
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


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _urls(value: object) -> tuple[str, ...]:
    """A list, or one comma-separated string (the RASA_URLS variable)."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return tuple(str(item).strip().rstrip("/") for item in items if str(item).strip())


LIMIT_PREFIX = "limit_"
LIMIT_KEYS = tuple(name for name in Settings.__dataclass_fields__ if name.startswith(LIMIT_PREFIX))


def limit_rates(settings: Settings) -> dict[str, str]:
    """{limit name: rate} of the settings' limit_* keys (bot/limits.py)."""
    return {key[len(LIMIT_PREFIX):]: getattr(settings, key) for key in LIMIT_KEYS}


CONVERTERS = {"float": float, "float | None": float, "int": int, "bool": _bool, "tuple[str, ...]": _urls}


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
        convert = CONVERTERS.get(types[key])
        values[key] = convert(value) if convert and value is not None else value
    values["database_url"] = _sqlite_relative_to_project(values.get("database_url", Settings.database_url))
    if values.get("tracker_store_url"):
        values["tracker_store_url"] = _sqlite_relative_to_project(values["tracker_store_url"])
    # RASA_URL alone (without RASA_URLS) still means exactly that one instance.
    if environ.get(ENV["rasa_url"]) and not environ.get(ENV["rasa_urls"]):
        values["rasa_urls"] = ()
    values["rasa_urls"] = values.get("rasa_urls") or _urls(values.get("rasa_url", Settings.rasa_url))
    values["rasa_url"] = values["rasa_urls"][0]
    for key in LIMIT_KEYS:
        Rate.parse(values.get(key, getattr(Settings, key)))  # a mistyped rate stops the start
    if values.get("log_format", "text") not in ("text", "json"):
        raise ValueError(f"log_format must be text or json, not {values['log_format']!r}")
    return Settings(**values, telegram=TelegramSettings(**telegram_raw))
