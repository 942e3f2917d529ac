"""Server-rendered HTML: the Jinja2 templates in bot/templates/, autoescaped.

Every page of the console and the standalone report is a template; Python code
passes only data (strings, numbers, dataclasses), never HTML. Autoescaping is on
for every `.html` template, so text from users and from the database is escaped
wherever it is shown; no view builds markup itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.paths import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "bot" / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,  # a misspelt name fails loudly instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """The template `name` (relative to bot/templates/) rendered with `context`."""
    return environment().get_template(name).render(**context)
