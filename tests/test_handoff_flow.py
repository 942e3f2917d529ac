"""Human handoff end to end through the gateway, the real assistant and the
console API: the queue, claims, messages both ways, transfer, closing back to
the assistant, the user ending the chat, the waiting timeout, the adviser
inactivity timeout, outside hours with the contact request, and a gateway
restart in the middle of a handoff."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.store.db import Database
from bot.store.models import ContactRequest, Conversation, Handoff, Message
from tests.chat_client import ChatClient
from tests.console_helpers import PASSWORD, sign_in
from tests.helpers import Gateway, Servers, running_gateway
from tests.responses import response, response_text

pytestmark = pytest.mark.servers
ALWAYS = [["00:00", "24:00"]]


def handoff_config(path: Path, *, closed_today: bool = False, timeout_minutes: float = 20,
                   inactivity_minutes: float = 10) -> Path:
    today = datetime.now(ZoneInfo("Europe/Helsinki")).date()
    raw = {
        "time_zone": "Europe/Helsinki",
        "weekly": {day: ALWAYS for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "public_holidays": None,
        # Closed today and tomorrow: the chat opens again the day after tomorrow at midnight.
        "exceptions": {str(today): [], str(today + timedelta(days=1)): []} if closed_today else {},
        "average_chat_minutes": 8,
        "waiting_timeout_minutes": timeout_minutes,
        "adviser_inactivity_minutes": inactivity_minutes,
        "adviser_online_seconds": 90,
        "contact_request_days": 30,
        "sweep_seconds": 0.5,
    }
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@contextmanager
def handoff_gateway(servers: Servers, work_dir: Path, **config: object) -> Iterator[Gateway]:
    work_dir.mkdir(parents=True, exist_ok=True)
    path = handoff_config(work_dir / "handoff.yml", **config)
    with running_gateway(servers.rasa_url, work_dir, {"HANDOFF_CONFIG": str(path)}) as gateway:
        yield gateway


class Adviser:
    """An adviser using the console's API, as console.js does."""

    def __init__(self, gateway: Gateway, username: str, name: str, languages: list[str]) -> None:
        store = HandoffStore(Database(gateway.database_url))
        if store.adviser_by_username(username) is None:
            store.add_adviser(username, name, hash_password(PASSWORD), "adviser", languages, "en")
        self.name = name
        self.http = httpx.Client(base_url=gateway.url, timeout=60)
        self.csrf = sign_in(self.http, username)
        self.queue()  # the console is open: the adviser is online

    def queue(self) -> dict:
        return self.http.get("/console/api/queue").json()

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.http.post(f"/console/api/{path}", json=body or {}, headers={"X-CSRF-Token": self.csrf})

    def transcript(self, handoff_id: int) -> dict:
        return self.http.get(f"/console/api/handoffs/{handoff_id}").json()


def conversation_of(gateway: Gateway, session_id: str) -> Conversation:
    with Database(gateway.database_url).session() as session:
        return session.execute(select(Conversation).where(Conversation.external_id == session_id)).scalar_one()


def handoff_of(gateway: Gateway, session_id: str) -> Handoff:
    conversation = conversation_of(gateway, session_id)
    with Database(gateway.database_url).session() as session:
        return session.execute(select(Handoff).where(Handoff.conversation_id == conversation.id)
                               .order_by(Handoff.id.desc())).scalars().first()


@pytest.fixture(scope="module")
def open_gateway(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with handoff_gateway(servers, tmp_path_factory.mktemp("handoff-open")) as gateway:
        yield gateway


def ask_for_person(user: ChatClient, text: str = "I want to talk to a person") -> list[dict]:
    start = user.send(text, language="en")  # the widget sends the browser's language as a hint
    user.wait_for_text(response_text("utter_handoff_queued", "en", queue_position="1").split(".")[0][:20],
                       after=start)
    return [d for e, d in user.events[start:] if e == "bot_uttered"]


def test_a_user_is_queued_claimed_answered_and_returned_to_the_assistant(open_gateway: Gateway,
                                                                         servers: Servers) -> None:
    anna = Adviser(open_gateway, "anna", "Anna", ["en", "fi"])
    user = ChatClient(open_gateway.url)
    try:
        replies = ask_for_person(user)
        queued = next(r for r in replies if "queue" in (r.get("text") or ""))
        assert "number 1 in the queue" in queued["text"]
        assert [q["payload"] for q in queued["quick_replies"]] == ["/stop"]
        assert not any("handoff" in r for r in replies)  # the request itself is the gateway's business

        waiting = anna.queue()["waiting"]
        item = next(i for i in waiting if i["language"] == "en" and i["status"] == "waiting")
        assert item["reason"] == "user_request" and item["channel"] == "webchat"
        handoff_id = item["id"]
        assert "I want to talk to a person" in [m["text"] for m in anna.transcript(handoff_id)["messages"]]

        mark = len(user.events)
        assert anna.post(f"handoffs/{handoff_id}/claim").status_code == 200
        user.wait_for_text(response_text("utter_adviser_joined", "en", adviser_name="Anna")[:30], after=mark)

        mark = len(user.events)
        assert anna.post(f"handoffs/{handoff_id}/messages", {"text": "Hello, this is Anna. How can I help?"}) \
            .status_code == 200
        message = user.wait_for_text("Hello, this is Anna", after=mark)
        assert message["metadata"]["sender"] == "adviser" and message["metadata"]["sender_name"] == "Anna"

        # While with the adviser, the user's words go to the adviser, never to Rasa.
        mark = user.send("How much is the unemployment benefit for me?")
        conversation = conversation_of(open_gateway, user.session_id)
        for _ in range(100):
            texts = [m["text"] for m in anna.transcript(handoff_id)["messages"]]
            if "How much is the unemployment benefit for me?" in texts:
                break
            time.sleep(0.1)
        assert "How much is the unemployment benefit for me?" in texts
        assert user.texts(mark) == []
        tracker_texts = [e.get("text") for e in servers.tracker(conversation.id)["events"] if e["event"] == "user"]
        assert "How much is the unemployment benefit for me?" not in tracker_texts

        mark = len(user.events)
        assert anna.post(f"handoffs/{handoff_id}/close", {"outcome": "benefit_amount"}).status_code == 200
        user.wait_for_text(response_text("utter_handoff_closed", "en")[:30], after=mark)
        assert handoff_of(open_gateway, user.session_id).outcome_topic == "benefit_amount"

        # Back with the assistant, in English.
        replies = user.say("How do I register as a jobseeker?")
        assert any(r.get("text", "").startswith(response_text("utter_register_as_jobseeker", "en")[:25])
                   for r in replies), replies
    finally:
        user.close()


def test_two_advisers_claiming_at_once_exactly_one_wins(open_gateway: Gateway) -> None:
    first = Adviser(open_gateway, "claimer1", "Claire", ["en"])
    second = Adviser(open_gateway, "claimer2", "Carl", ["en"])
    user = ChatClient(open_gateway.url)
    try:
        ask_for_person(user)
        handoff_id = handoff_of(open_gateway, user.session_id).id
        barrier = threading.Barrier(2)
        codes: list[int] = []

        def claim(adviser: Adviser) -> None:
            barrier.wait()
            codes.append(adviser.post(f"handoffs/{handoff_id}/claim").status_code)

        threads = [threading.Thread(target=claim, args=(a,)) for a in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(codes) == [200, 409]
        owner = first if handoff_of(open_gateway, user.session_id).adviser_id == \
            HandoffStore(Database(open_gateway.database_url)).adviser_by_username("claimer1").id else second
        loser = second if owner is first else first
        assert loser.post(f"handoffs/{handoff_id}/messages", {"text": "me too"}).status_code == 403
        # Transfer to the other adviser: now the other may act, and the first may not.
        mark = len(user.events)
        target = HandoffStore(Database(open_gateway.database_url)).adviser_by_username(
            "claimer2" if owner is first else "claimer1")
        assert owner.post(f"handoffs/{handoff_id}/transfer", {"to": target.id}).status_code == 200
        user.wait_for_text(response_text("utter_adviser_transferred", "en", adviser_name=loser.name)[:25], after=mark)
        assert owner.post(f"handoffs/{handoff_id}/messages", {"text": "still me"}).status_code == 403
        assert loser.post(f"handoffs/{handoff_id}/messages", {"text": "Now it is me"}).status_code == 200
        # And back to the queue.
        mark = len(user.events)
        assert loser.post(f"handoffs/{handoff_id}/transfer", {"to": None}).status_code == 200
        user.wait_for_text(response_text("utter_handoff_requeued", "en")[:25], after=mark)
        assert handoff_of(open_gateway, user.session_id).status == "waiting"
        # The user ends the chat while waiting.
        start = user.send("/stop")
        user.wait_for_text(response_text("utter_handoff_user_ended", "en")[:25], after=start)
        assert handoff_of(open_gateway, user.session_id).status == "user_left"
        assert conversation_of(open_gateway, user.session_id).state == "bot"
    finally:
        user.close()


def test_a_user_who_waits_too_long_is_offered_a_contact_request(servers: Servers, tmp_path: Path) -> None:
    with handoff_gateway(servers, tmp_path / "timeout", timeout_minutes=0.02) as gateway:
        Adviser(gateway, "present", "Pia", ["fi"])
        user = ChatClient(gateway.url)
        try:
            start = user.send("haluan puhua ihmisen kanssa")
            user.wait_for_text(response_text("utter_wait_timeout", "fi")[:25], after=start, timeout=30)
            assert handoff_of(gateway, user.session_id).status == "timeout"
            assert conversation_of(gateway, user.session_id).state == "contact_offer"
        finally:
            user.close()


def wait_for_status(gateway: Gateway, session_id: str, status: str, timeout: float = 30) -> bool:
    """Whether the conversation's latest handoff reaches `status` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handoff_of(gateway, session_id).status == status:
            return True
        time.sleep(0.2)
    return False


@contextmanager
def console_open(adviser: Adviser) -> Iterator[None]:
    """The adviser's console stays open: it polls the queue, as console.js does."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.5):
            adviser.queue()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_a_user_whose_adviser_stops_answering_is_offered_a_contact_request(servers: Servers,
                                                                           tmp_path: Path) -> None:
    """adviser_inactivity_minutes = 0.05 (3 s): a user whose message the adviser leaves
    unanswered, or whose adviser closed the console, is told so and offered a contact request."""
    with handoff_gateway(servers, tmp_path / "inactive", inactivity_minutes=0.05) as gateway:
        adviser = Adviser(gateway, "silent", "Sini", ["fi"])
        waiting_user, left_user = ChatClient(gateway.url), ChatClient(gateway.url)
        try:
            with console_open(adviser):
                start = waiting_user.send("haluan puhua ihmisen kanssa")
                waiting_user.wait_for_text(response_text("utter_handoff_queued", "fi", queue_position="1")[:15],
                                           after=start)
                handoff_id = handoff_of(gateway, waiting_user.session_id).id
                assert adviser.post(f"handoffs/{handoff_id}/claim").status_code == 200
                assert adviser.post(f"handoffs/{handoff_id}/messages", {"text": "Hetki, tarkistan."}).status_code \
                    == 200
                time.sleep(4)  # longer than the timeout, but nobody is waiting for the adviser
                assert handoff_of(gateway, waiting_user.session_id).status == "with_adviser"
                start = waiting_user.send("Oletko vielä siellä?")
                assert wait_for_status(gateway, waiting_user.session_id, "adviser_timeout")
                offer = waiting_user.wait_for_text(response_text("utter_adviser_timeout", "fi")[:25], after=start)
                assert [q["payload"] for q in offer["quick_replies"]] == ["/contact_request", "/contact_decline"]
                assert conversation_of(gateway, waiting_user.session_id).state == "contact_offer"
                assert adviser.post(f"handoffs/{handoff_id}/messages", {"text": "Olen!"}).status_code == 403
                events = [m["event"] for m in adviser.transcript(handoff_id)["messages"] if m["event"]]
                assert events[-1] == "adviser_timeout"
                start = waiting_user.send("/contact_request")
                waiting_user.wait_for_text(response_text("utter_contact_ask", "fi")[:25], after=start)

            # The console is closed (no more polling): the next user is not left waiting either.
            start = left_user.send("I want to talk to a person", language="en")
            left_user.wait_for_text(response_text("utter_handoff_queued", "en", queue_position="1")[:15],
                                    after=start)
            handoff_id = handoff_of(gateway, left_user.session_id).id
            mark = len(left_user.events)
            assert adviser.post(f"handoffs/{handoff_id}/claim").status_code == 200
            assert wait_for_status(gateway, left_user.session_id, "adviser_timeout")
            left_user.wait_for_text(response_text("utter_adviser_timeout", "en")[:25], after=mark)
        finally:
            waiting_user.close()
            left_user.close()


def test_outside_hours_the_user_can_leave_a_valid_contact_request(servers: Servers, tmp_path: Path) -> None:
    with handoff_gateway(servers, tmp_path / "closed", closed_today=True) as gateway:
        adviser = Adviser(gateway, "evening", "Eva", ["en"])
        user = ChatClient(gateway.url)
        try:
            start = user.send("I want to talk to a person", language="en")
            offer = user.wait_for_text(response_text("utter_outside_hours", "en")[:25], after=start)
            assert [q["payload"] for q in offer["quick_replies"]] == ["/contact_request", "/contact_decline"]
            opening = datetime.now(ZoneInfo("Europe/Helsinki")).date() + timedelta(days=2)
            assert opening.strftime("%B") in offer["text"] and str(opening.day) in offer["text"]

            start = user.send("/contact_request")
            user.wait_for_text(response_text("utter_contact_ask", "en")[:25], after=start)
            for wrong in ("tomorrow please", "040 12", "anna@"):
                start = user.send(wrong)
                user.wait_for_text(response_text("utter_contact_invalid", "en")[:25], after=start)
            start = user.send("You can call me at 040 123 4567")
            consent = user.wait_for_text(response_text("utter_contact_consent", "en")[:25], after=start)
            assert "30 days" in consent["text"]
            payloads = [q["payload"] for q in consent["quick_replies"]]
            assert payloads[:2] == ['/contact_consent{"language":"en"}', '/contact_consent{"language":"fi"}']
            start = user.send('/contact_consent{"language":"en"}')
            user.wait_for_text(response_text("utter_contact_saved", "en")[:25], after=start)

            with Database(gateway.database_url).session() as session:
                request = session.execute(select(ContactRequest)).scalar_one()
                assert (request.contact_type, request.contact, request.language) == ("phone", "+358401234567", "en")
            listed = adviser.http.get("/console/api/contact-requests").json()["contact_requests"]
            assert [(r["contact"], r["handled"]) for r in listed] == [("+358401234567", False)]
            assert adviser.post(f"contact-requests/{listed[0]['id']}/handled").status_code == 200
            assert adviser.post(f"contact-requests/{listed[0]['id']}/handled").status_code == 409
            assert adviser.http.get("/console/api/contact-requests").json()["contact_requests"][0]["handled"]

            # Declining instead: back to the assistant with the contact details page.
            start = user.send("I want to talk to a person")
            user.wait_for_text(response_text("utter_outside_hours", "en")[:25], after=start)
            start = user.send("/contact_decline")
            declined = user.wait_for_text(response_text("utter_contact_declined", "en")[:20], after=start)
            assert "https://www.espoo.fi/" in declined["text"]
            assert handoff_of(gateway, user.session_id).status == "declined"
        finally:
            user.close()


def test_with_nobody_online_the_user_is_offered_a_contact_request(servers: Servers, tmp_path: Path) -> None:
    with handoff_gateway(servers, tmp_path / "empty") as gateway:
        user = ChatClient(gateway.url)
        try:
            start = user.send("haluan puhua ihmisen kanssa")
            user.wait_for_text(response_text("utter_no_adviser", "fi")[:25], after=start)
            # A question instead of an answer to the offer: the assistant answers it.
            replies = user.say("miten ilmoittaudun työttömäksi työnhakijaksi")
            assert any(r.get("text", "").startswith(response_text("utter_register_as_jobseeker", "fi")[:25])
                       for r in replies), replies
            assert handoff_of(gateway, user.session_id).status == "declined"
        finally:
            user.close()


def test_a_gateway_restart_during_a_handoff_loses_nothing(servers: Servers, tmp_path: Path) -> None:
    work = tmp_path / "restart"
    with handoff_gateway(servers, work) as gateway:
        adviser = Adviser(gateway, "steady", "Sami", ["fi"])
        cookies, csrf = dict(adviser.http.cookies), adviser.csrf
        user = ChatClient(gateway.url)
        session_id = user.session_id
        start = user.send("haluan puhua ihmisen kanssa")
        user.wait_for_text(response_text("utter_handoff_queued", "fi", queue_position="1")[:15], after=start)
        handoff_id = handoff_of(gateway, session_id).id
        assert adviser.post(f"handoffs/{handoff_id}/claim").status_code == 200
        assert adviser.post(f"handoffs/{handoff_id}/messages", {"text": "Hei, olen Sami."}).status_code == 200
        user.wait_for_text("Hei, olen Sami.")
        user.close()

    with handoff_gateway(servers, work) as gateway:  # the same database
        http = httpx.Client(base_url=gateway.url, cookies=cookies, timeout=60)
        queue = http.get("/console/api/queue").json()
        assert [i["id"] for i in queue["mine"]] == [handoff_id]  # the session and the claim survived
        user = ChatClient(gateway.url, session_id=session_id)
        try:
            history = user.wait_for("history")
            assert any(h.get("text") == "Hei, olen Sami." and h["metadata"].get("sender_name") == "Sami"
                       for h in history)
            start = user.send("Kiitos, minulla on kysymys karenssista")
            response = http.post(f"/console/api/handoffs/{handoff_id}/messages", json={"text": "Kerro lisää."},
                                 headers={"X-CSRF-Token": csrf})
            assert response.status_code == 200
            user.wait_for_text("Kerro lisää.", after=start)
            transcript = http.get(f"/console/api/handoffs/{handoff_id}").json()["messages"]
            texts = [m["text"] for m in transcript]
            assert texts.index("Hei, olen Sami.") < texts.index("Kiitos, minulla on kysymys karenssista")
            with Database(gateway.database_url).session() as session:
                statuses = session.execute(select(Message.status).where(
                    Message.text == "Kiitos, minulla on kysymys karenssista")).scalars().all()
            assert statuses == ["to_adviser"]
        finally:
            user.close()


def test_the_user_hears_one_consistent_answer_when_asking_for_a_person(servers: Servers, tmp_path: Path) -> None:
    """The assistant only asks; the gateway decides and the user hears only the outcome: never
    "I will connect you" followed by "advisers are busy" or "not in the chat right now"."""
    with handoff_gateway(servers, tmp_path / "nobody") as gateway:
        user = ChatClient(gateway.url)
        try:
            replies = user.say("I want to talk to a person", language="en")
            texts = [r["text"] for r in replies if r.get("text")]
            assert texts == [response("utter_no_adviser", "en")["text"]], texts
        finally:
            user.close()
    with handoff_gateway(servers, tmp_path / "closed", closed_today=True) as gateway:
        user = ChatClient(gateway.url)
        try:
            replies = user.say("haluan puhua ihmisen kanssa")
            texts = [r["text"] for r in replies if r.get("text")]
            assert len(texts) == 1 and texts[0].startswith(response_text("utter_outside_hours", "fi")[:25]), texts
        finally:
            user.close()
    with handoff_gateway(servers, tmp_path / "open") as gateway:
        Adviser(gateway, "present", "Pia", ["fi"])
        user = ChatClient(gateway.url)
        try:
            replies = user.say("haluan puhua ihmisen kanssa")
            texts = [r["text"] for r in replies if r.get("text")]
            assert texts == [response("utter_handoff_queued", "fi")["text"].format(queue_position="1",
                                                                                     wait_minutes="8")], texts
        finally:
            user.close()
