"""Logging of the gateway: plain text (default) or one JSON object per line
(`LOG_FORMAT=json`), with personal data masked in both.

Masking is `bot.privacy.masking.mask(text) -> str` (identity codes, phone
numbers, e-mail addresses, IBANs, street addresses). It is imported lazily;
only while that module does not exist at all are messages logged as they are.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

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


class MaskingFormatter(logging.Formatter):
    """Text lines, masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


# LogRecord attributes that are not "extra" fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message,
    exception, and any `extra=` fields; every string masked."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
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
