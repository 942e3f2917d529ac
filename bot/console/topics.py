"""The service catalogue as the console shows it: topic groups and topics with
their titles in a given language, read from the assistant's own menus
(domain/responses/menus.yml), so advisers pick outcomes by the names users see."""

from __future__ import annotations

import json
from functools import lru_cache

import yaml

from bot.paths import PROJECT_ROOT

MENUS = PROJECT_ROOT / "domain" / "responses" / "menus.yml"
GROUP_PAYLOAD = "/help"


def _variation(variations: list[dict], language: str) -> dict:
    for variation in variations:
        for condition in variation.get("condition") or []:
            if condition.get("name") == "language" and condition.get("value") == language:
                return variation
    return variations[0]


@lru_cache(maxsize=8)
def catalogue(language: str) -> list[dict]:
    """[{group, title, topics: [{intent, title}]}] in the menu's order."""
    responses = yaml.safe_load(MENUS.read_text(encoding="utf-8"))["responses"]
    groups = []
    for button in _variation(responses["utter_help_menu"], language).get("buttons", []):
        payload = button["payload"]
        if not payload.startswith(GROUP_PAYLOAD + "{"):
            continue
        group = json.loads(payload[len(GROUP_PAYLOAD):])["topic_group"]
        menu = _variation(responses[f"utter_group_{group}"], language)
        topics = [
            {"intent": b["payload"].lstrip("/"), "title": b["title"]}
            for b in menu.get("buttons", []) if not b["payload"].startswith(GROUP_PAYLOAD)
        ]
        groups.append({"group": group, "title": button["title"], "topics": topics})
    return groups


def topic_titles(language: str) -> dict[str, str]:
    return {t["intent"]: t["title"] for g in catalogue(language) for t in g["topics"]}
