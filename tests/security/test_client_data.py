"""Client-supplied fields against the real gateway and assistant (issue 11).

The widget's `customData` (and any REST client's metadata) is the client's to
choose. An invented language value used to be recorded as an "unsupported
language" (breaking the reports' charts with a value such as `$\\foo$`), and on
PostgreSQL a value over 16 characters failed the user's turn. Now every
language field is a supported code or a language tag of at most 35 characters
naming a real language, or it is ignored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Conversation, Message, UnresolvedQuestion
from tests.chat_client import ChatClient
from tests.helpers import Servers, running_gateway

pytestmark = pytest.mark.servers

INVENTED = ["$\\foo$", "x" * 40, "<script>alert(1)</script>", "zz-" + "a" * 40, "zz", 7, ["fi"], {"a": 1}]


def test_invented_language_values_are_ignored(servers: Servers, database_url: str, tmp_path: Path) -> None:
    with running_gateway(servers.rasa_url, tmp_path, {"DATABASE_URL": database_url}) as gateway:
        for value in INVENTED:
            client = ChatClient(gateway.url)
            replies = client.say("miten ilmoittaudun työttömäksi työnhakijaksi", language=value,
                                 language_choice=value)
            client.close()
            assert replies, value
            assert all(r["metadata"]["language"] == "fi" for r in replies), (value, replies)
            assert any("Työmarkkinatori" in (r.get("text") or "") for r in replies), (value, replies)
        database = Database(gateway.database_url)
        with database.session() as session:
            languages = set(session.execute(select(Conversation.language)).scalars())
            statuses = set(session.execute(select(Message.status).where(Message.direction == "in")).scalars())
            unsupported = session.execute(
                select(UnresolvedQuestion.detected_language).where(UnresolvedQuestion.reason == "unsupported_language")
            ).scalars().all()
        database.engine.dispose()
    assert languages == {"fi"}
    assert statuses == {"answered"}
    assert unsupported == []


def test_rasa_ignores_an_invented_language_choice_from_any_rest_client(servers: Servers) -> None:
    """The same rule inside Rasa (the LanguageDecider), for clients of the REST channel."""
    for index, value in enumerate(INVENTED):
        sender = f"rest-invented-{index}"
        servers.say(sender, "miten ilmoittaudun työnhakijaksi", language_choice=value, language_hint=value)
        decision = servers.tracker(sender)["latest_message"]["language"]
        assert decision["code"] == "fi" and decision["source"] != "explicit", (value, decision)
        assert decision["unsupported"] is None, (value, decision)
