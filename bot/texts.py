"""The gateway's and the widget's own texts, per language (locales/<code>.yml).

The assistant's answers live in the domain; these are the few sentences the
gateway must say itself (for example when Rasa is down) and the widget's labels.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.language.catalog import load_catalog
from bot.paths import PROJECT_ROOT

LOCALES_DIR = PROJECT_ROOT / "locales"
DOMAIN_CORE = PROJECT_ROOT / "domain" / "core.yml"


@lru_cache(maxsize=1)
def espoo_services_url() -> str:
    """The same URL the assistant's answers use (the slot's value in the domain)."""
    domain = yaml.safe_load(DOMAIN_CORE.read_text(encoding="utf-8"))
    return domain["slots"]["espoo_services_url"]["initial_value"]


@lru_cache(maxsize=32)
def locale(code: str) -> dict:
    path: Path = LOCALES_DIR / f"{code}.yml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


@lru_cache(maxsize=32)
def flat_locale(code: str) -> dict[str, str]:
    """One language's texts by dotted key, flattened once."""
    return flatten(locale(code))


def text(code: str, key: str, **values: object) -> str:
    """The text `key` ("gateway.unavailable") in language `code`, else in the default language."""
    catalog = load_catalog()
    for candidate in (code, catalog.default):
        found = flat_locale(candidate).get(key)
        if found is not None:
            return found.format(espoo_services_url=espoo_services_url(), **values)
    raise KeyError(key)


def section(code: str, name: str) -> dict[str, str]:
    """All texts of one section (e.g. the widget's labels), with default-language gaps filled."""
    catalog = load_catalog()
    merged = flatten(locale(catalog.default).get(name, {}))
    merged.update(flatten(locale(code).get(name, {})))
    return merged
