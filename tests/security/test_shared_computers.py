"""Privacy promises to web chat users on shared computers and in the message log (issue 11).

- "End and forget": the conversation ends at the gateway and its session id no
  longer restores it (another person on the same computer cannot read it).
- A session idle for longer than `webchat_session_idle_hours` is not restored.
- Contact details typed for a contact request are masked in the message log
  (and so in the widget's history), before consent and after a cancel.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Conversation, Handoff, Message
from tests.chat_client import ChatClient
from tests.helpers import Servers, free_port, running_gateway
from tests.responses import response_text
from tests.test_handoff_flow import handoff_gateway

PHONE_DIGITS = re.compile(r"040\s*123\s*4567|401234567")


def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_end_and_forget_ends_the_conversation_and_its_session_id(tmp_path: Path) -> None:
    with running_gateway(nowhere(), tmp_path) as gateway:
        user = ChatClient(gateway.url)
        old = user.session_id
        user.say("minun asiani on tämä", timeout=20)
        other_tab = ChatClient(gateway.url, session_id=old)
        assert other_tab.session_id == old
        start, other_start = len(user.events), len(other_tab.events)
        user.sio.emit("end_session", {})
        new = user.wait_for("session_confirm", after=start, timeout=20)
        assert new != old
        assert user.wait_for("history", after=start, timeout=20) == []
        # The other tab of the same conversation is told to start afresh; this one is not.
        assert other_tab.wait_for("session_ended", after=other_start, timeout=20) == {}
        assert not [e for e, _ in user.events[start:] if e == "session_ended"]
        user.close()
        other_tab.close()

        # The next person on this computer, with the old id still in the browser's storage:
        stranger = ChatClient(gateway.url, session_id=old)
        assert stranger.session_id != old
        history = stranger.wait_for("history")
        assert "minun asiani" not in str(history)
        stranger.close()
        with Database(gateway.database_url).session() as session:
            ended = session.execute(select(Conversation).where(Conversation.external_id == old)).scalar_one()
            assert ended.ended_at is not None


def test_an_idle_session_is_not_restored(tmp_path: Path) -> None:
    with running_gateway(nowhere(), tmp_path, {"WEBCHAT_SESSION_IDLE_HOURS": "0.0006"}) as gateway:  # ~2 s
        user = ChatClient(gateway.url)
        user.say("hei", timeout=20)
        user.close()
        again = ChatClient(gateway.url, session_id=user.session_id)  # at once: restored
        assert again.session_id == user.session_id
        again.close()
        time.sleep(3)
        later = ChatClient(gateway.url, session_id=user.session_id)
        assert later.session_id != user.session_id
        assert later.wait_for("history") == []
        later.close()


@pytest.mark.servers
def test_contact_details_are_masked_in_the_log_and_gone_after_a_cancel(servers: Servers, tmp_path: Path) -> None:
    with handoff_gateway(servers, tmp_path / "closed", closed_today=True) as gateway:
        user = ChatClient(gateway.url)
        try:
            start = user.send("I want to talk to a person", language="en")
            user.wait_for_text(response_text("utter_outside_hours", "en")[:25], after=start)
            start = user.send("/contact_request")
            user.wait_for_text(response_text("utter_contact_ask", "en")[:25], after=start)
            start = user.send("You can call me at 040 123 4567")
            consent = user.wait_for_text(response_text("utter_contact_consent", "en")[:25], after=start)
            assert "/contact_decline" in [q["payload"] for q in consent["quick_replies"]]

            database = Database(gateway.database_url)
            with database.session() as session:
                texts = session.execute(select(Message.text)).scalars().all()
            assert not any(PHONE_DIGITS.search(t or "") for t in texts), texts

            start = user.send("/contact_decline")
            user.wait_for_text(response_text("utter_contact_declined", "en")[:20], after=start)
            with database.session() as session:
                handoff = session.execute(select(Handoff)).scalars().one()
                texts = session.execute(select(Message.text)).scalars().all()
            assert handoff.status == "declined" and handoff.pending_contact is None
            assert not any(PHONE_DIGITS.search(t or "") for t in texts), texts
        finally:
            user.close()
        # The widget's history after a reload shows the masked text only.
        reloaded = ChatClient(gateway.url, session_id=user.session_id)
        history = reloaded.wait_for("history")
        reloaded.close()
        assert reloaded.session_id == user.session_id
        assert not PHONE_DIGITS.search(str(history))
        assert "You can call me at" in str(history)
