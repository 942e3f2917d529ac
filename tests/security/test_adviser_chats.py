"""Nobody is left in a chat with an adviser who is gone: an admin can take over or requeue
another adviser's chat (and nobody else can), and the chats of a disabled adviser go back
to the queue with the user told. Over HTTP and socket.io against a real gateway and the
real assistant."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.store.db import Database
from tests.chat_client import ChatClient
from tests.console_helpers import PASSWORD
from tests.helpers import Servers
from tests.responses import response_text
from tests.security.test_console_sessions import adviser_command
from tests.test_handoff_flow import Adviser, ask_for_person, handoff_gateway, handoff_of

pytestmark = pytest.mark.servers


def events_of(adviser: Adviser, handoff_id: int) -> list[tuple[str, str]]:
    return [(m["event"], m["adviser"]) for m in adviser.transcript(handoff_id)["messages"] if m["event"]]


def test_an_admin_takes_over_or_requeues_another_advisers_chat(servers: Servers, tmp_path: Path) -> None:
    with handoff_gateway(servers, tmp_path / "admin") as gateway:
        HandoffStore(Database(gateway.database_url)).add_adviser("ada", "Ada", hash_password(PASSWORD), "admin",
                                                                  ["en"], "en")
        anna, bertil, ada = (Adviser(gateway, "anna", "Anna", ["en"]), Adviser(gateway, "bertil", "Bertil", ["en"]),
                             Adviser(gateway, "ada", "Ada", ["en"]))
        first, second = ChatClient(gateway.url), ChatClient(gateway.url)
        try:
            ask_for_person(first)
            first_id = handoff_of(gateway, first.session_id).id
            assert anna.post(f"handoffs/{first_id}/claim").status_code == 200
            # Another adviser may not, nor a request without the session's CSRF token.
            assert bertil.post(f"handoffs/{first_id}/take-over").status_code == 403
            assert bertil.post(f"handoffs/{first_id}/requeue").status_code == 403
            assert ada.http.post(f"/console/api/handoffs/{first_id}/take-over").status_code == 403
            assert ada.transcript(first_id)["can_manage"] is True
            assert anna.transcript(first_id)["can_manage"] is False  # her own chat: the usual actions

            mark = len(first.events)
            assert ada.post(f"handoffs/{first_id}/take-over").status_code == 200
            first.wait_for_text(response_text("utter_adviser_transferred", "en", adviser_name="Ada")[:25], after=mark)
            assert anna.post(f"handoffs/{first_id}/messages", {"text": "Still mine?"}).status_code == 403
            assert ada.post(f"handoffs/{first_id}/messages", {"text": "Hello, Ada here."}).status_code == 200
            first.wait_for_text("Hello, Ada here.", after=mark)
            assert ada.post(f"handoffs/{first_id}/take-over").status_code == 409  # hers already
            assert ("taken_over", "Ada") in events_of(ada, first_id)
            assert [item["id"] for item in ada.queue()["mine"]] == [first_id]

            ask_for_person(second)
            second_id = handoff_of(gateway, second.session_id).id
            assert bertil.post(f"handoffs/{second_id}/claim").status_code == 200
            mark = len(second.events)
            assert ada.post(f"handoffs/{second_id}/requeue").status_code == 200
            second.wait_for_text(response_text("utter_handoff_requeued", "en")[:25], after=mark)
            requeued = handoff_of(gateway, second.session_id)
            assert (requeued.status, requeued.adviser_id) == ("waiting", None)
            assert bertil.post(f"handoffs/{second_id}/messages", {"text": "Hello?"}).status_code == 403
            assert ada.post(f"handoffs/{second_id}/requeue").status_code == 409  # waiting, nobody's chat
            assert ("requeued", "Ada") in events_of(ada, second_id)
        finally:
            first.close()
            second.close()


def test_the_chats_of_a_disabled_adviser_go_back_to_the_queue(servers: Servers, tmp_path: Path) -> None:
    with handoff_gateway(servers, tmp_path / "disabled") as gateway:
        leaver = Adviser(gateway, "leaver", "Leo", ["en"])
        user = ChatClient(gateway.url)
        try:
            ask_for_person(user)
            handoff_id = handoff_of(gateway, user.session_id).id
            assert leaver.post(f"handoffs/{handoff_id}/claim").status_code == 200
            mark = len(user.events)
            output = adviser_command(gateway, "disable", "leaver")
            user.wait_for_text(response_text("utter_handoff_requeued", "en")[:25], after=mark, timeout=30)
            requeued = handoff_of(gateway, user.session_id)
            assert (requeued.status, requeued.adviser_id) == ("waiting", None)
            assert leaver.http.get("/console/api/queue").status_code == 401
            # The command requeues the chat, unless the gateway's sweep (which also requeues
            # a disabled adviser's chats) got there between the account's change and the
            # command's own requeue: either way exactly once.
            assert re.search(r"[01] open chat\(s\) go back to the queue", output), output
            notice = response_text("utter_handoff_requeued", "en")[:25]
            told = [m for m in user.replies_after(mark, wait=2.0) if notice in (m.get("text") or "")]
            assert len(told) == 1, told
            other = Adviser(gateway, "stayer", "Stina", ["en"])
            assert [item["id"] for item in other.queue()["waiting"]] == [handoff_id]
            assert ("adviser_disabled", "Leo") in events_of(other, handoff_id)
            assert other.post(f"handoffs/{handoff_id}/claim").status_code == 200
        finally:
            user.close()
