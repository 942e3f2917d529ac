"""Import one language's texts into the domain.

Translators and writers work on one file per language (a "locale file": topic
titles, group titles, button titles and responses, see docs/content.md). This
tool puts that language's variation into every response of the domain, each with
the condition `language == <code>`, replacing the previous variation of that
language and leaving the other languages untouched. Topic answers go into their
sources, content/answers/<topic>.yml (written without the "last reviewed" line, with
the catalogue's URLs), and the topic responses are then regenerated from there
(scripts/build_content.py).

    python -m scripts.import_locale sv path/to/responses_sv.yml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from bot.content.build import dump_yaml, write_all
from bot.content.groups import GROUPS
from bot.content.paths import ANSWERS_DIR
from bot.language.catalog import load_catalog
from bot.paths import PROJECT_ROOT

RESPONSES_DIR = PROJECT_ROOT / "domain" / "responses"
CONVERSATION_KEYS = [
    "utter_greet",
    "utter_goodbye",
    "utter_thank",
    "utter_bot_challenge",
    "utter_privacy",
    "utter_language_changed",
    "utter_out_of_scope",
    "utter_anything_else",
]
# What the assistant says about a handoff (the gateway's EXTERNAL_* events), in
# domain/responses/handoff.yml. In a locale file: a `handoff:` section of
# response -> {text, buttons}, buttons with the payloads of docs/content.md.
HANDOFF_KEYS = [
    "utter_handoff_queued",
    "utter_queue_moved",
    "utter_adviser_joined",
    "utter_adviser_transferred",
    "utter_handoff_requeued",
    "utter_handoff_closed",
    "utter_handoff_user_ended",
    "utter_outside_hours",
    "utter_no_adviser",
    "utter_wait_timeout",
    "utter_contact_ask",
    "utter_contact_invalid",
    "utter_contact_consent",
    "utter_contact_saved",
    "utter_contact_declined",
]


def payload(intent: str, **entities: str) -> str:
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


def _condition(code: str) -> list[dict]:
    return [{"type": "slot", "name": "language", "value": code}]


def build_handoff_variations(handoff: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key in HANDOFF_KEYS:
        variation = {"text": handoff[key]["text"].strip()}
        if handoff[key].get("buttons"):
            variation["buttons"] = [
                {"title": str(b["title"]), "payload": str(b["payload"])} for b in handoff[key]["buttons"]
            ]
        out[key] = variation
    return out


def build_variations(code: str, locale: dict) -> dict[str, dict]:
    """Every response of one language in the locale file: key -> variation (text, buttons)."""
    out = build_handoff_variations(locale["handoff"]) if "handoff" in locale else {}
    if "responses" in locale:
        out.update(_build_core_variations(locale))
    return out


def _build_core_variations(locale: dict) -> dict[str, dict]:
    texts = {k: v.strip() for k, v in locale["responses"].items()}
    buttons = locale["buttons"]
    talk = {"title": buttons["talk_to_person"], "payload": payload("request_human")}
    group_buttons = [
        {"title": locale["group_titles"][g], "payload": payload("help", topic_group=g)}
        for g in GROUPS
    ]
    out: dict[str, dict] = {}
    for key in CONVERSATION_KEYS:
        out[key] = {"text": texts[key]}
    out["utter_help_menu"] = {"text": texts["utter_help_menu"], "buttons": group_buttons + [talk]}
    out["utter_default"] = {"text": texts["utter_default"], "buttons": group_buttons + [talk]}
    out["utter_offer_handoff"] = {
        "text": texts["utter_offer_handoff"],
        "buttons": [
            {"title": buttons["yes"], "payload": payload("affirm")},
            {"title": buttons["no"], "payload": payload("deny")},
        ],
    }
    catalog = load_catalog()
    out["utter_choose_language"] = {
        "text": texts["utter_choose_language"],
        "buttons": [
            {
                "title": catalog.languages[c].native_name,
                "payload": payload("change_language", language=c),
            }
            for c in catalog.supported
        ],
    }
    for group, topics in GROUPS.items():
        out[f"utter_group_{group}"] = {
            "text": locale["group_texts"][group].strip(),
            "buttons": [{"title": locale["topic_titles"][t], "payload": payload(t)} for t in topics]
            + [{"title": buttons["other_topics"], "payload": payload("help")}],
        }
        for topic in topics:
            out[f"utter_{topic}"] = {"text": texts[f"utter_{topic}"]}
    return out


def target_file(key: str) -> str:
    if key in HANDOFF_KEYS:
        return "handoff.yml"
    for group, topics in GROUPS.items():
        if key in {f"utter_{t}" for t in topics}:
            return f"topics_{group}.yml"
    if key.startswith("utter_group_") or key in {
        "utter_help_menu",
        "utter_default",
        "utter_offer_handoff",
        "utter_choose_language",
    }:
        return "menus.yml"
    return "conversation.yml"


HEADER = (
    "# Responses, one variation per language (condition on the `language` slot).\n"
    "# Edit texts here; scripts/import_locale.py imports a whole language at once.\n"
)


def import_locale(code: str, locale: dict) -> None:
    files: dict[str, dict] = {}
    for path in sorted(RESPONSES_DIR.glob("*.yml")):
        files[path.name] = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
            "responses", {}
        )
    touched: set[str] = set()
    topic_keys = {f"utter_{t}": t for topics in GROUPS.values() for t in topics}
    for key, variation in build_variations(code, locale).items():
        if key in topic_keys:
            _import_answer(topic_keys[key], code, variation["text"])
            continue
        touched.add(target_file(key))
        responses = files.setdefault(target_file(key), {})
        kept = [v for v in responses.get(key, []) if v.get("condition") != _condition(code)]
        responses[key] = kept + [{**variation, "condition": _condition(code)}]
    for name in sorted(touched):
        responses = files[name]
        body = dump_yaml({"version": "3.1", "responses": dict(sorted(responses.items()))})
        (RESPONSES_DIR / name).write_text(HEADER + body, encoding="utf-8")
    write_all()


def _import_answer(topic: str, code: str, text: str) -> None:
    """One language of a topic answer into content/answers/<topic>.yml (comments kept)."""
    path = ANSWERS_DIR / f"{topic}.yml"
    raw = path.read_text(encoding="utf-8") if path.exists() else ""
    header = "".join(line for line in raw.splitlines(True) if line.startswith("#"))
    answers = (yaml.safe_load(raw) if raw else None) or {}
    answers[code] = text.strip()
    path.write_text(header + dump_yaml(answers), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("code")
    parser.add_argument("locale_file", type=Path)
    args = parser.parse_args()
    locale = yaml.safe_load(args.locale_file.read_text(encoding="utf-8"))
    import_locale(args.code, locale)


if __name__ == "__main__":
    main()
