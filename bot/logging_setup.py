"""Logging of the gateway: plain text (default) or one JSON object per line
(`LOG_FORMAT=json`), with personal data masked in both.

Masking is `bot.privacy.masking.mask(text) -> str` (identity codes, phone
numbers, e-mail addresses, IBANs, street addresses). It is imported lazily;
only while that module does not exist at all are messages logged as they are.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote_plus

_mask = None


def mask(text: str) -> str:
    """Personal data in `text` masked by bot.privacy.masking.mask; identity
    only when that module is missing (an error inside it is not hidden)."""
    global _mask
    if _mask is None:
        try:
            from bot.privacy.masking import mask as real_mask
        except ModuleNotFoundError as error:
            if error.name not in ("bot.privacy", "bot.privacy.masking"):
                raise
            real_mask = _identity
        _mask = real_mask
    return _mask(text)


def _identity(text: str) -> str:
    return text


# uvicorn's access line: '%s - "%s %s HTTP/%s" %d' % (client, method, path?query, version, status).
ACCESS_LOGGER, ACCESS_ARGS = "uvicorn.access", 5
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def masked_path(path: str) -> str:
    """A request path and query as uvicorn logs them (percent-encoded), masked as it reads
    decoded: "?email=anna%40example.com" is an address too. Unchanged when nothing is masked;
    otherwise the decoded, masked form with control characters escaped (no forged lines)."""
    decoded = unquote_plus(path)
    masked = mask(decoded)
    if masked == decoded:
        return path
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", masked)


def access_args(record: logging.LogRecord) -> tuple[Any, ...] | None:
    """An access line's arguments with the path masked, or None for any other record. Only the
    path and query can carry what a person typed; masking the whole line ran the phone-number
    matcher over the client's address and port on every request (18 % of the gateway's CPU
    under the web chat load bench, docs/performance.md)."""
    args = record.args
    if record.name != ACCESS_LOGGER or not isinstance(args, tuple) or len(args) != ACCESS_ARGS:
        return None
    if not isinstance(args[2], str):
        return None
    return (*args[:2], masked_path(args[2]), *args[3:])


def _with_args(record: logging.LogRecord, args: tuple[Any, ...]) -> logging.LogRecord:
    """A copy of the record with other arguments (other handlers still see the original)."""
    copy = logging.makeLogRecord(record.__dict__)
    copy.args = args
    return copy


class MaskingFormatter(logging.Formatter):
    """Text lines, masked."""

    def format(self, record: logging.LogRecord) -> str:
        access = access_args(record)
        if access is not None:
            return super().format(_with_args(record, access))
        return mask(super().format(record))


# LogRecord attributes that are not "extra" fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message,
    exception, and any `extra=` fields; every string masked."""

    def format(self, record: logging.LogRecord) -> str:
        access = access_args(record)
        message = record.msg % access if access is not None else mask(record.getMessage())
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = mask(self.formatStack(record.stack_info))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = mask(value) if isinstance(value, str) else value
        return json.dumps(entry, ensure_ascii=False, default=lambda v: mask(str(v)))


def log_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """A logging.config.dictConfig for the gateway and uvicorn (uvicorn.run(log_config=...))."""
    formatter = (
        {"()": "bot.logging_setup.JsonFormatter"}
        if log_format == "json"
        else {"()": "bot.logging_setup.MaskingFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's own loggers go through the root handler, formatted the same way.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
            # httpx logs every request's URL at INFO: conversation ids and Rasa's ?token=.
            "httpx": {"handlers": [], "level": "WARNING", "propagate": True},
            "httpcore": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def configure(log_format: str = "text", level: str = "INFO") -> None:
    import logging.config

    logging.config.dictConfig(log_config(log_format, level))
