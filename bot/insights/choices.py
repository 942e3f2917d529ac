""""Did you mean": the topic a user picks among the suggestions is a labelled example.

When the assistant is unsure it offers the likeliest topics as buttons whose payload
is `/<topic>{"did_you_mean": "<topic>"}` (actions/fallback.py). The gateway knows the
choice by that shape, and the question the user had typed before it becomes, masked,
a labelled example in the NLU inbox (InsightsLog.record_choice): training data that
nobody had to label by hand.
"""

from __future__ import annotations

import re

from bot.store.repository import ConversationStore

CHOICE = re.compile(r'^/(?P<topic>[a-z][a-z0-9_]{1,63})\{"did_you_mean":')


def chosen_topic(text: str) -> str | None:
    """The topic of a "did you mean" button's payload, else None."""
    match = CHOICE.match(text or "")
    return match.group("topic") if match else None


def previous_question(store: ConversationStore, conversation_id: str, before: int, lookback: int = 20) -> str | None:
    """The last message the user typed (not a button) before message `before`."""
    for message in reversed(store.history(conversation_id, lookback)):
        if message.id < before and message.direction == "in" and message.sender == "user":
            text = message.text or ""
            if text and not text.startswith("/"):
                return text
    return None
