"""The shared service catalogue (topics.yml): facts and sources that every answer is written from."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

import yaml

from bot.content.paths import catalogue_file


@lru_cache(maxsize=1)
def catalogue() -> dict:
    return yaml.safe_load(catalogue_file().read_text(encoding="utf-8"))


def topics() -> dict[str, dict]:
    return catalogue()["topics"]


def source_urls() -> set[str]:
    """Every source URL of the catalogue (topics and the service area)."""
    urls = {u for topic in topics().values() for u in topic.get("sources", [])}
    return urls | set(catalogue()["service_area"].get("sources", []))


def topic_digest(topic: str) -> str:
    """A short fingerprint of one topic's facts and sources: it changes whenever the catalogue
    corrects that topic, so a review can record what it was checked against."""
    entry = topics()[topic]
    data = json.dumps({"facts": entry.get("facts", []), "sources": entry.get("sources", [])}, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:12]
