"""The shared specification (service catalogue) the project is written against."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

from bot.paths import PROJECT_ROOT

SPEC_DIR = Path(os.environ.get("ASSISTANT_SPEC_DIR", PROJECT_ROOT.parent / "shared" / "spec"))


@lru_cache(maxsize=1)
def catalogue() -> dict:
    return yaml.safe_load((SPEC_DIR / "topics.yml").read_text(encoding="utf-8"))


def topic_names() -> list[str]:
    return list(catalogue()["topics"])


def conversation_intents() -> list[str]:
    return list(catalogue()["conversation"])


def source_urls() -> set[str]:
    urls = {u for topic in catalogue()["topics"].values() for u in topic.get("sources", [])}
    return urls | set(catalogue()["service_area"].get("sources", []))
