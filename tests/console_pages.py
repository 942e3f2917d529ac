"""A gateway whose database holds a day of the console's work, for the browser tests of
every console page (tests/test_console_pages_browser.py): users waiting and chatting in
Arabic, Finnish and English, on the web chat and Telegram, a contact request with the
conversation before it, unresolved questions, feedback and ratings. Everything is in the
recent past, so the pages' default periods show it.

The gateway runs without Rasa: the console needs only the database, and the users here
are with advisers (their messages never go to the assistant)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.console.auth import hash_password
from bot.handoff.store import HandoffStore
from bot.insights.log import InsightsLog
from bot.store.db import Database, migrate
from bot.store.models import ContactRequest, Conversation, Handoff, Message, utcnow
from bot.store.repository import ConversationStore
from tests.console_helpers import PASSWORD
from tests.helpers import Gateway, running_gateway
from tests.test_handoff_flow import handoff_config

NO_RASA = "http://127.0.0.1:9"
# Web chat session ids as the gateway issues them (43 characters of base64url).
ARABIC_SESSION = "arabic-user-session-" + "a" * 23
FINNISH_SESSION = "finnish-user-session-" + "f" * 22
CONTACT_SESSION = "contact-user-session-" + "c" * 22
TELEGRAM_CHAT = "7100001"
ARABIC_QUESTION = "مرحبا، أريد التحدث مع موظف عن إعانة البطالة. رقمي 040 123 4567"
ARABIC_MIXED = "I sent the form to TE-palvelut on 3.2. هل وصل؟"
CONTACT_QUESTION = "Voinko saada starttirahaa, jos aloitan toiminimellä? Soita 040 765 4321"
CONTACT_MARKUP = "<b>kiireellinen</b> <script>alert(1)</script>"
CONTACT_PHONE = "+358407654321"


@dataclass
class Seeded:
    arabic_handoff: int
    finnish_handoff: int
    telegram_handoff: int
    contact_request: int


def _at(database: Database, message_id: int, moment: datetime) -> None:
    with database.session() as session:
        session.execute(update(Message).where(Message.id == message_id).values(created_at=moment))


def _conversation(database: Database, channel: str, external_id: str, language: str, started: datetime,
                  messages: list[tuple[str, str, str | None, dict | None]]) -> str:
    """A conversation with `messages` (direction, sender, text, payload), one every 20 seconds from `started`."""
    store = ConversationStore(database)
    conversation = store.get_or_create(channel, external_id)
    store.update_conversation(conversation.id, language=language)
    for index, (direction, sender, text, payload) in enumerate(messages):
        message_id = store.add_message(conversation.id, direction, sender, text, payload=payload, language=language,
                                       status="answered" if direction == "in" else "sent")
        _at(database, message_id, started + timedelta(seconds=20 * index))
    with database.session() as session:
        session.execute(update(Conversation).where(Conversation.id == conversation.id).values(
            created_at=started, client_connected_at=started))
    return conversation.id


def _handoff(database: Database, conversation_id: str, *, status: str, state: str, language: str, channel: str,
             requested: datetime, reason: str = "user_request", adviser_id: int | None = None) -> int:
    store = HandoffStore(database)
    handoff = store.open_handoff(conversation_id, status=status, state=state, reason=reason, topic="benefit_apply",
                                 language=language, channel=channel)
    with database.session() as session:
        session.execute(update(Handoff).where(Handoff.id == handoff.id).values(
            requested_at=requested, adviser_id=adviser_id, claimed_at=requested + timedelta(minutes=2)
            if adviser_id else None))
    return handoff.id


def seed(database: Database, now: datetime | None = None) -> Seeded:
    now = now or utcnow()
    store = HandoffStore(database)
    password = hash_password(PASSWORD)
    layla = store.add_adviser("layla", "Layla", password, "adviser", ["ar", "en"], "en")
    store.add_adviser("kaisa", "Kaisa", password, "adviser", ["fi", "sv"], "fi")
    store.add_adviser("aino", "Aino", password, "analyst", ["fi"], "en")
    store.add_adviser("eino", "Eino", password, "analyst", ["fi"], "fi")
    store.add_adviser("root", "Riikka", password, "admin", ["fi", "en"], "en")

    # An Arabic web chat user waiting for a person (their widget is open).
    arabic = _conversation(database, "webchat", ARABIC_SESSION, "ar", now - timedelta(minutes=6), [
        ("in", "user", "كيف أسجل كباحث عن عمل؟", None),
        ("out", "bot", "يمكنك التسجيل كباحث عن عمل في خدمة TE عبر الإنترنت: https://www.te-palvelut.fi",
         {"buttons": [{"title": "التحدث مع موظف", "payload": "/human_handoff"}]}),
        ("in", "user", "هل أحتاج إلى رقم هوية شخصية؟", None),
        ("out", "bot", "نعم، تحتاج إلى رقم هوية شخصية فنلندي وإلى وسيلة تعريف إلكترونية.", None),
        ("in", "user", "ليس لدي وسيلة تعريف إلكترونية بعد", None),
        ("out", "bot", "يمكنك زيارة مكتب خدمات التوظيف في إسبو. هل تريد التحدث مع موظف؟",
         {"buttons": [{"title": "نعم", "payload": "/affirm"}, {"title": "لا", "payload": "/deny"}]}),
        ("in", "user", ARABIC_MIXED, None),
        ("in", "user", ARABIC_QUESTION, None),
    ])
    arabic_handoff = _handoff(database, arabic, status="waiting", state="waiting", language="ar", channel="webchat",
                              requested=now - timedelta(minutes=3))
    # A Finnish user chatting with Layla (who speaks no Finnish: a transfer is on its way); they left the page.
    finnish = _conversation(database, "webchat", FINNISH_SESSION, "fi", now - timedelta(minutes=30), [
        ("in", "user", "Haluan puhua ihmisen kanssa", None),
        ("out", "system", None, {"event": "adviser_joined", "adviser": "Layla"}),
        ("out", "adviser", "Hello! I can transfer you to a Finnish-speaking adviser.", {"adviser": "Layla"}),
        ("in", "user", "Kiitos, odotan.", None),
    ])
    finnish_handoff = _handoff(database, finnish, status="with_adviser", state="with_adviser", language="fi",
                               channel="webchat", requested=now - timedelta(minutes=29), adviser_id=layla)
    with database.session() as session:
        session.execute(update(Conversation).where(Conversation.id == finnish).values(
            client_disconnected_at=now - timedelta(minutes=12)))
    # A Telegram user in the queue who has blocked the bot since.
    telegram = _conversation(database, "telegram", TELEGRAM_CHAT, "en", now - timedelta(minutes=20), [
        ("in", "user", "Can I get help with my CV in English?", None),
        ("in", "user", "/human", None),
    ])
    telegram_handoff = _handoff(database, telegram, status="waiting", state="waiting", language="en",
                                channel="telegram", requested=now - timedelta(minutes=18), reason="button")
    with database.session() as session:
        session.execute(update(Conversation).where(Conversation.id == telegram).values(
            client_blocked_at=now - timedelta(minutes=10)))

    # Outside hours yesterday: a Finnish user left a contact request after asking their question.
    yesterday = now - timedelta(days=1)
    contact = _conversation(database, "webchat", CONTACT_SESSION, "fi", yesterday, [
        ("in", "user", CONTACT_MARKUP, None),
        ("out", "bot", "En ymmärtänyt. Voitko kysyä toisin?", None),
        ("in", "user", CONTACT_QUESTION, None),
        ("out", "bot", "Starttiraha on tukea yritystoiminnan alkuun.", None),
        ("in", "user", "/human_handoff", None),  # 80 s: the handoff request
        ("out", "bot", "Neuvojat eivät ole nyt paikalla. Haluatko, että sinuun otetaan yhteyttä?", None),
        ("in", "user", "040 765 4321", None),
    ])
    contact_handoff = _handoff(database, contact, status="contact_requested", state="bot", language="fi",
                               channel="webchat", requested=yesterday + timedelta(seconds=85))
    request_id = store.add_contact_request(contact, contact_handoff, channel="webchat", language="fi",
                                           contact_type="phone", contact=CONTACT_PHONE, topic="start_up_grant")
    with database.session() as session:
        session.execute(update(ContactRequest).where(ContactRequest.id == request_id).values(
            created_at=yesterday + timedelta(seconds=150)))

    # What the assistant could not answer this week: the reports, candidate topics and the inbox.
    log = InsightsLog(database, "console-pages-secret", fallback_threshold=0.2)
    guesses = [{"name": "benefit_apply", "confidence": 0.15}, {"name": "appointment", "confidence": 0.05}]
    for days, conversation_id, language, text in [
        (1, contact, "fi", "voiko koiran tuoda toimistoon"), (2, contact, "fi", "voiko koiran ottaa mukaan toimistoon"),
        (2, finnish, "fi", "saako toimistolle tuoda lemmikin"), (3, arabic, "ar", "هل يمكنني إحضار كلبي إلى المكتب"),
        (3, arabic, "ar", "هل يمكن إحضار الكلب إلى المكتب"), (4, telegram, "en", "what is the wifi password"),
    ]:
        log.record(conversation_id, channel="webchat", reason="nlu_fallback", language=language, text=text,
                   intents=guesses, at=now - timedelta(days=days))
    log.record(telegram, channel="telegram", reason="out_of_scope", language="en", text="what's the weather",
               intents=[{"name": "out_of_scope", "confidence": 0.9}], at=now - timedelta(days=2))
    log.record(arabic, channel="webchat", reason="handoff_request", trigger="user_request", language="ar",
               at=now - timedelta(minutes=3))
    for value, topic in [(1, "register_as_jobseeker"), (1, "benefit_apply"), (-1, "benefit_apply")]:
        log.record_feedback(finnish, channel="webchat", language="fi", kind="answer", value=value, topic=topic,
                            question="miten haen", answer="Hae Kelasta.", at=now - timedelta(days=1))
    log.record_feedback(arabic, channel="webchat", language="ar", kind="rating", value=4,
                        at=now - timedelta(days=1))
    return Seeded(arabic_handoff, finnish_handoff, telegram_handoff, request_id)


@contextmanager
def console_gateway(work_dir: Path) -> Iterator[tuple[Gateway, Seeded]]:
    """A gateway (no Rasa) on a seeded database, the chat open around the clock."""
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{work_dir / 'gateway.db'}"
    migrate(database_url)
    database = Database(database_url)
    seeded = seed(database)
    database.engine.dispose()
    # Nobody times out while the tests look at the seeded queue and chats.
    config = handoff_config(work_dir / "handoff.yml", timeout_minutes=24 * 60, inactivity_minutes=24 * 60)
    with running_gateway(NO_RASA, work_dir, {"HANDOFF_CONFIG": str(config)}) as gateway:
        yield gateway, seeded
