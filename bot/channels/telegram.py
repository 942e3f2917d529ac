"""Telegram channel (python-telegram-bot 22): long polling by default, a webhook
when configured.

Every text goes through the Router like the web chat's. What is Telegram's own:

* `/start` shows the privacy note and a language menu (an inline keyboard of the
  languages' own names, callback data `lang:<code>`); `/language` shows the
  menu; `/help` and `/human` send the assistant the payloads `/help` and
  `/request_human`.
* The Router passes a "/" text to Rasa as an intent only if it was offered as a
  button in the conversation. The language menu and the commands are offered
  by this channel, not by the assistant, so their fixed payloads are handed to
  the Router as `channel_payload`; never anything the user typed, so users
  still cannot send arbitrary intents.
* Assistant buttons become inline keyboards. Callback data may be at most 64
  bytes, so a button carries `p:` + a hash of its payload; the press is matched
  back against the payloads the store remembers as offered in that chat (the
  mapping survives a restart of the gateway). The press is sent as the user's
  message, and every callback query is answered.
* The user's `language_code` is the channel's language hint. Voice, photos,
  stickers, locations and other non-text messages get a short text answer in
  the conversation's language (else the hint, else the default language).
* Links of the link map are sent as HTML links with a short title ("Kela:
  Unemployment", bot/link_titles.py) instead of a URL of several lines; the
  URL stays the link's address.
* Texts longer than Telegram's 4096 characters are split on paragraph, line or
  word boundaries; custom payloads (such as `{"handoff": ...}`) are not shown;
  right-to-left text starts with U+200F so Telegram aligns it to the right.
* Flood limits: AIORateLimiter throttles sending and waits out RetryAfter
  (pausing all requests); on top of that every send is retried on RetryAfter
  and network errors (with backoff), so a reply is not lost to a hiccup.
  A send that times out may have reached Telegram, so a retry can in rare
  cases show a message twice: at-least-once rather than at-most-once.
* While the user waits for or talks with an adviser, every message the chat
  gets carries an "End the chat" button (`/stop`) unless it has buttons of its
  own, so leaving the queue never needs a typed command, however far the
  earlier buttons have scrolled.
* Updates of one chat are handled in order (a lock per chat); different chats
  are handled concurrently, so one slow answer does not hold up other users.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import unicodedata
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.feedback import FeedbackService
from bot.handoff.service import WAITING, WITH_ADVISER
from bot.language.catalog import LanguageCatalog, load_catalog
from bot.language.decision import normalise_tag
from bot.link_titles import as_html, link_titles
from bot.router import Reply, Router, Turn
from bot.settings import TelegramSettings
from bot.texts import text as localized

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT_CHARS = MessageLimit.MAX_TEXT_LENGTH  # 4096, counted in UTF-16 code units to be safe
MAX_CALLBACK_BYTES = 64
RLM = "\u200f"
LANGUAGE_PREFIX = "lang:"
PAYLOAD_PREFIX = "p:"
# 👍/👎 under an answer ("fb:<message id>:<1|-1>") and the 1-5 rating ("rt:<message id>:<n>").
FEEDBACK_PREFIX = "fb:"
RATING_PREFIX = "rt:"
HELP_PAYLOAD = "/help"
HUMAN_PAYLOAD = "/request_human"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
STOP_PAYLOAD = "/stop"
COMMANDS = ("start", "language", "help", "human", "stop")
LANGUAGE_MENU_COLUMNS = 3
# Seconds Telegram holds a getUpdates request open when nothing happens.
POLL_TIMEOUT = 30
# Retries of one request after RetryAfter in the rate limiter (which pauses every request meanwhile).
RATE_LIMITER_RETRIES = 3
# Attempts of one send in total (RetryAfter that outlasted the limiter, network errors, timeouts).
SEND_ATTEMPTS = 5
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
# Telegram re-delivers a webhook update when it did not see our answer: remember recent ids.
SEEN_UPDATES_KEPT = 2000
CHANGE_LANGUAGE = re.compile(r"^/change_language(\{.*\})$", re.DOTALL)

T = TypeVar("T")


# --- text helpers -----------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` UTF-16 code units, cut at the last paragraph
    break that keeps a piece reasonably full, else a line break, else a space, else anywhere."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while utf16_length(rest) > limit:
        window = rest[: _prefix_within(rest, limit)]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            position = window.rfind(separator)
            if position >= len(window) // 3:
                cut = position
                break
        if cut <= 0:
            cut = max(window.rfind("\n"), window.rfind(" "))
        if cut <= 0:
            cut = len(window)
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if piece:
            pieces.append(piece)
    if rest:
        pieces.append(rest)
    return pieces


def starts_right_to_left(text: str) -> bool:
    """True if the first strongly directional character is right-to-left (Arabic, Persian, Hebrew)."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def message_texts(text: str, language: str | None, catalog: LanguageCatalog | None = None) -> list[str]:
    """The Telegram messages of one text: split to Telegram's limit, and each piece of
    right-to-left text (by the language, or by its first letters) led by U+200F."""
    catalog = catalog or load_catalog()
    rtl = bool(language) and catalog.direction(language) == "rtl"
    if not (rtl or starts_right_to_left(text)):
        return split_text(text)
    return [piece if piece.startswith(RLM) else RLM + piece for piece in split_text(text, MAX_TEXT_CHARS - 1)]


# --- keyboards ----------------------------------------------------------------------------------


def payload_id(payload: str) -> str:
    """Short callback data for a button payload (18 bytes; Telegram allows 64)."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()[:12]
    return PAYLOAD_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")


def change_language_payload(code: str) -> str:
    return "/change_language" + json.dumps({"language": code})


def chosen_language(payload: str) -> str | None:
    """The language of a `/change_language{"language": ...}` payload."""
    match = CHANGE_LANGUAGE.match(payload)
    if not match:
        return None
    try:
        value = json.loads(match.group(1)).get("language")
    except (ValueError, AttributeError):
        return None
    return normalise_tag(value)


def language_keyboard(catalog: LanguageCatalog | None = None) -> InlineKeyboardMarkup:
    catalog = catalog or load_catalog()
    buttons = [
        InlineKeyboardButton(catalog.languages[code].native_name, callback_data=LANGUAGE_PREFIX + code)
        for code in catalog.supported
    ]
    rows = [buttons[i : i + LANGUAGE_MENU_COLUMNS] for i in range(0, len(buttons), LANGUAGE_MENU_COLUMNS)]
    return InlineKeyboardMarkup(rows)


def buttons_keyboard(buttons: Iterable[dict[str, str]]) -> InlineKeyboardMarkup | None:
    """The assistant's buttons, one a row (their titles are often long)."""
    rows = [
        [InlineKeyboardButton(b["title"] or b["payload"], callback_data=payload_id(b["payload"]))]
        for b in buttons
        if b.get("payload")
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def end_chat_keyboard(language: str) -> InlineKeyboardMarkup:
    """The "End the chat" button of a handoff (the user leaves the queue or the adviser's chat)."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(localized(language, "widget.handoff_end"), callback_data=payload_id(STOP_PAYLOAD))
    ]])


def feedback_keyboard(message_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("👍", callback_data=f"{FEEDBACK_PREFIX}{message_id}:1"),
        InlineKeyboardButton("👎", callback_data=f"{FEEDBACK_PREFIX}{message_id}:-1"),
    ]])


def rating_keyboard(message_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(str(n), callback_data=f"{RATING_PREFIX}{message_id}:{n}") for n in range(1, 6)
    ]])


def parse_feedback(data: str) -> tuple[str, int, str] | None:
    """(kind, message id, value) of a feedback or rating button."""
    for prefix, kind in ((FEEDBACK_PREFIX, "answer"), (RATING_PREFIX, "rating")):
        if data.startswith(prefix):
            message_id, _, value = data[len(prefix):].partition(":")
            if message_id.isdigit():
                return kind, int(message_id), value
    return None


def file_base_url(api_url: str) -> str:
    """https://api.telegram.org/bot -> https://api.telegram.org/file/bot"""
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --- the channel --------------------------------------------------------------------------------


class TelegramChannel:
    def __init__(self, settings: TelegramSettings, router: Router, feedback: FeedbackService | None = None) -> None:
        if not settings.token:
            raise ValueError("the Telegram channel needs a token")
        if settings.mode not in ("polling", "webhook"):
            raise ValueError(f"unknown Telegram mode {settings.mode!r}: use polling or webhook")
        if settings.mode == "webhook" and not settings.webhook_url:
            raise ValueError("Telegram webhook mode needs webhook_url (TELEGRAM_WEBHOOK_URL)")
        self.settings = settings
        self.router = router
        self.feedback = feedback
        self.catalog = load_catalog()
        self.webhook_mode = settings.mode == "webhook"
        # Telegram echoes this in a header with every webhook call; generated if not configured.
        self.webhook_secret = settings.webhook_secret or secrets.token_urlsafe(32)
        self.application = self._build_application()
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._seen_updates: OrderedDict[int, None] = OrderedDict()
        self._runner: asyncio.Task | None = None
        self._ready = False
        router.outbox[CHANNEL] = self.deliver

    # --- set-up -------------------------------------------------------------------------------

    def _build_application(self) -> Application:
        builder = (
            Application.builder()
            .token(self.settings.token)
            .base_url(self.settings.api_url)
            .base_file_url(file_base_url(self.settings.api_url))
            .rate_limiter(AIORateLimiter(max_retries=RATE_LIMITER_RETRIES))
            .concurrent_updates(True)
            .job_queue(None)
        )
        if self.webhook_mode:
            builder = builder.updater(None)
        application = builder.build()
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        application.add_handler(CommandHandler("start", self.on_start, filters=private))
        application.add_handler(CommandHandler("language", self.on_language, filters=private))
        application.add_handler(CommandHandler("help", self.on_help, filters=private))
        application.add_handler(CommandHandler("human", self.on_human, filters=private))
        application.add_handler(CommandHandler("stop", self.on_stop, filters=private))
        application.add_handler(CallbackQueryHandler(self.on_callback))
        application.add_handler(MessageHandler(private & filters.TEXT, self.on_text))
        application.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_non_text))
        application.add_error_handler(self.on_error)
        return application

    async def start(self) -> None:
        """Connects in the background, so that the gateway (and its web chat) starts even when
        Telegram cannot be reached; connecting is retried until it works or the token is refused."""
        self._runner = asyncio.create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        try:
            await self._bring_up()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the Telegram channel could not start")

    async def _bring_up(self) -> None:
        app = self.application
        delay = FIRST_BACKOFF
        while True:
            try:
                await app.initialize()
                break
            except InvalidToken:
                log.error("Telegram refused the bot token: the Telegram channel stays off")
                return
            except TelegramError as error:
                log.warning("Telegram not reachable (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        await self._set_commands()
        await app.start()
        self._ready = True  # updates can be handled from now on (a webhook may already be set)
        if self.webhook_mode:
            await self._deliver(
                "setWebhook", app.bot.set_webhook, url=self.settings.webhook_url, secret_token=self.webhook_secret,
                allowed_updates=ALLOWED_UPDATES, attempts=None,
            )
        else:
            await app.updater.start_polling(
                poll_interval=0, timeout=POLL_TIMEOUT, bootstrap_retries=-1, allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        log.info("Telegram channel running (%s) as @%s", self.settings.mode, app.bot.username)

    async def _set_commands(self) -> None:
        """The command menu, in each supported language (and the default language for the rest)."""
        bot = self.application.bot
        for code in [None, *self.catalog.supported]:
            language = code or self.catalog.default
            commands = [BotCommand(name, localized(language, f"telegram.commands.{name}")) for name in COMMANDS]
            try:
                await bot.set_my_commands(commands, language_code=code)
            except TelegramError as error:
                log.warning("could not set the Telegram command menu (%s): %s", code or "default", error)

    async def stop(self) -> None:
        app = self.application
        if self._runner and not self._runner.done():
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        self._ready = False
        if app.updater and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()  # lets updates being handled finish
        await app.shutdown()

    # --- webhook ------------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        """POST /telegram/webhook: Telegram's update, checked by its secret header."""
        if not self.webhook_mode:
            return Response(status_code=404)
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), self.webhook_secret.encode("utf-8")):
            return Response(status_code=403)
        if not self._ready:
            return Response(status_code=503)  # Telegram retries later
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except Exception:  # not JSON, or not an update
            update = None
        if update is None:
            return Response(status_code=400)
        if self._already_seen(update.update_id):
            return Response(status_code=200)
        # Handled by the running Application (answering at once keeps Telegram from re-sending).
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    def _already_seen(self, update_id: int) -> bool:
        if update_id in self._seen_updates:
            return True
        self._seen_updates[update_id] = None
        while len(self._seen_updates) > SEEN_UPDATES_KEPT:
            self._seen_updates.popitem(last=False)
        return False

    # --- handlers -----------------------------------------------------------------------------

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id, user = update.effective_chat.id, update.effective_user
        async with self._chat_lock(chat_id):
            language = await self._local_language(chat_id, user)
            if await self._refused(chat_id, language):
                return
            note = localized(language, "telegram.start") + "\n\n" + localized(language, "telegram.choose_language")
            await self._send_text(chat_id, note, language, language_keyboard(self.catalog))

    async def on_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id, user = update.effective_chat.id, update.effective_user
        async with self._chat_lock(chat_id):
            language = await self._local_language(chat_id, user)
            if await self._refused(chat_id, language):
                return
            await self._send_text(
                chat_id, localized(language, "telegram.choose_language"), language, language_keyboard(self.catalog)
            )

    async def _refused(self, chat_id: int, language: str) -> bool:
        """The chat's own events (stickers, photos, /start, the language menu) count against the
        conversation's rate limit like messages; a refusal is answered (only the first few)."""
        refusal = await self.router.admit(CHANNEL, str(chat_id), language)
        if refusal is None:
            return False
        await self._send_turn(chat_id, refusal)
        return True

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._converse(update.effective_chat.id, HELP_PAYLOAD, update.effective_user, offer=HELP_PAYLOAD)

    async def on_human(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._converse(update.effective_chat.id, HUMAN_PAYLOAD, update.effective_user, offer=HUMAN_PAYLOAD)

    async def on_stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ends a chat with an adviser (outside one it is only the word "stop" for the assistant)."""
        await self._converse(update.effective_chat.id, STOP_PAYLOAD, update.effective_user, offer=STOP_PAYLOAD)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._converse(update.effective_chat.id, update.effective_message.text, update.effective_user)

    async def on_non_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id, user = update.effective_chat.id, update.effective_user
        async with self._chat_lock(chat_id):
            language = await self._local_language(chat_id, user)
            if await self._refused(chat_id, language):
                return
            await self._send_text(chat_id, localized(language, "telegram.non_text"), language)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        data = query.data or ""
        if query.message is None or query.message.chat.type != ChatType.PRIVATE:  # not one of our chats
            await self._answer(query)
            return
        chat_id, user = query.message.chat.id, query.from_user
        chosen = parse_feedback(data)
        if chosen is not None:
            await self._give_feedback(query, chat_id, *chosen)
            return
        if data.startswith(LANGUAGE_PREFIX):
            code = data[len(LANGUAGE_PREFIX) :]
            await self._answer(query)
            if self.catalog.is_supported(code):
                payload = change_language_payload(code)
                await self._converse(chat_id, payload, user, choice=code, offer=payload)
            return
        if data == payload_id(STOP_PAYLOAD):  # the handoff's end button: the channel's own, like /stop
            await self._answer(query)
            await self._converse(chat_id, STOP_PAYLOAD, user, offer=STOP_PAYLOAD)
            return
        payload = await self._payload_of(chat_id, data) if data.startswith(PAYLOAD_PREFIX) else None
        if payload is None:
            language = await self._local_language(chat_id, user)
            await self._answer(query, localized(language, "telegram.button_expired"))
            return
        await self._answer(query)
        await self._converse(chat_id, payload, user, choice=chosen_language(payload))

    async def _give_feedback(self, query: Any, chat_id: int, kind: str, message_id: int, value: str) -> None:
        reply = await self.feedback.give(CHANNEL, str(chat_id), message_id, kind, value) if self.feedback else None
        await self._answer(query, reply.text if reply else None)
        if reply is not None:
            # One answer per message: the buttons go.
            await self._deliver("editMessageReplyMarkup", query.edit_message_reply_markup, reply_markup=None)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling a Telegram update", exc_info=context.error)

    # --- conversation -------------------------------------------------------------------------

    def _chat_lock(self, chat_id: int) -> asyncio.Lock:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock
        return lock

    async def _converse(
        self, chat_id: int, text: str | None, user: User | None, *, choice: str | None = None,
        offer: str | None = None,
    ) -> None:
        """One user message through the Router, and its replies back to the chat, in order."""
        async with self._chat_lock(chat_id):
            await self._typing(chat_id)
            turn = await self.router.handle(
                CHANNEL, str(chat_id), text, language_hint=user.language_code if user else None,
                language_choice=choice, channel_payload=offer,
            )
            await self._send_turn(chat_id, turn)
        await turn.finish()

    async def _payload_of(self, chat_id: int, data: str) -> str | None:
        conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, str(chat_id))
        if conversation is None:
            return None
        for payload in reversed(conversation.offered_payloads or []):
            if payload_id(payload) == data:
                return payload
        return None

    async def _local_language(self, chat_id: int, user: User | None) -> str:
        """For the channel's own texts: the conversation's language, else the hint, else the default."""
        conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, str(chat_id))
        hint = normalise_tag(user.language_code) if user else None
        for code in (conversation.language if conversation else None, hint):
            if self.catalog.is_supported(code):
                return code
        return self.catalog.default

    # --- sending ------------------------------------------------------------------------------

    async def _in_handoff(self, chat_id: int) -> bool:
        """The user waits for an adviser or talks with one (False when the database cannot say:
        the replies, such as "something went wrong", go out anyway)."""
        try:
            conversation = await to_thread.run_sync(self.router.store.find, CHANNEL, str(chat_id))
        except Exception:  # noqa: BLE001
            log.warning("no handoff state for chat replies (database unavailable)")
            return False
        return getattr(conversation, "state", None) in (WAITING, WITH_ADVISER)

    async def _send_turn(self, chat_id: int, turn: Turn) -> None:
        in_handoff = bool(turn.replies) and await self._in_handoff(chat_id)
        for reply in turn.replies:
            await self._send_reply(chat_id, reply, reply.language or turn.language, in_handoff)

    async def deliver(self, external_id: str, replies: list[Reply]) -> None:
        """Messages outside a user turn: an adviser's, and handoff events."""
        chat_id = int(external_id)
        async with self._chat_lock(chat_id):
            in_handoff = await self._in_handoff(chat_id)
            for reply in replies:
                await self._send_reply(chat_id, reply, reply.language or self.catalog.default, in_handoff)

    async def _send_reply(self, chat_id: int, reply: Reply, language: str, in_handoff: bool = False) -> None:
        if reply.sender == "adviser":
            label = localized(language, "widget.adviser")
            reply = Reply(text=f"{label} {reply.sender_name}:\n{reply.text}", language=language)
        if isinstance(reply.custom, dict) and "handoff" in reply.custom:
            return  # the gateway's own business, not a message
        if reply.custom is not None:
            log.info("custom payload (%s) not shown in Telegram chat %s", ", ".join(map(str, reply.custom)), chat_id)
        keyboard = buttons_keyboard(reply.buttons)
        if keyboard is None and in_handoff:
            keyboard = end_chat_keyboard(language)
        if keyboard is None and reply.asks_feedback and reply.message_id:
            keyboard = feedback_keyboard(reply.message_id)
        text = reply.text or ""
        if not text.strip() and keyboard is not None:
            text = localized(language, "telegram.choose_option")
        if text.strip():
            titles = link_titles(text, language) if reply.sender == "bot" else {}
            await self._send_text(chat_id, text, language, keyboard, titles)
        if reply.asks_rating and reply.message_id:
            await self._send_text(chat_id, localized(language, "feedback.rating_question"), language,
                                  rating_keyboard(reply.message_id))
        if reply.image:
            await self._send_image(chat_id, reply.image, language)

    async def _send_text(
        self, chat_id: int, text: str, language: str | None, keyboard: InlineKeyboardMarkup | None = None,
        titles: dict[str, str] | None = None,
    ) -> None:
        """`text` in pieces within Telegram's limit; with `titles`, as HTML with titled links (each
        piece on its own: pieces are cut at white space, never inside a URL)."""
        pieces = message_texts(text, language, self.catalog)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await self._deliver(
                "sendMessage", self.application.bot.send_message, chat_id=chat_id,
                text=as_html(piece, titles) if titles else piece, parse_mode=ParseMode.HTML if titles else None,
                reply_markup=keyboard if last else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

    async def _send_image(self, chat_id: int, url: str, language: str) -> None:
        if not url.startswith(("https://", "http://")):
            log.warning("image %r is not a web address; not sent", url)
            return
        sent = await self._deliver("sendPhoto", self.application.bot.send_photo, chat_id=chat_id, photo=url)
        if sent is None:  # Telegram could not fetch it: the link instead
            await self._send_text(chat_id, url, language)

    async def _typing(self, chat_id: int) -> None:
        try:
            await self.application.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
        except TelegramError as error:  # only a courtesy
            log.debug("typing indicator failed: %s", error)

    async def _answer(self, query: Any, text: str | None = None) -> None:
        """Every callback query is answered (the user's client shows a spinner until then)."""
        await self._deliver("answerCallbackQuery", query.answer, text=text, attempts=3)

    async def _deliver(
        self, what: str, call: Callable[..., Awaitable[T]], *args: Any, attempts: int | None = SEND_ATTEMPTS,
        **kwargs: Any,
    ) -> T | None:
        """`call` with retries: after RetryAfter the wait Telegram asks for, after network errors
        and timeouts a growing pause. Refusals (bad request, blocked by the user) are not retried.
        `attempts=None` retries until it works (used for setting the webhook)."""
        delay = FIRST_BACKOFF
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call(*args, **kwargs)
            except RetryAfter as error:
                pause = _retry_after_seconds(error) + 0.1
                reason = str(error)
            except (BadRequest, Forbidden, InvalidToken) as error:
                log.warning("Telegram refused %s: %s", what, error)
                if isinstance(error, Forbidden) and "chat_id" in kwargs:  # the user blocked the bot
                    await to_thread.run_sync(self.router.store.mark_client, CHANNEL, str(kwargs["chat_id"]), "blocked")
                return None
            except NetworkError as error:  # includes TimedOut
                pause, delay = delay, min(delay * 2, MAX_BACKOFF)
                reason = str(error)
            if attempts is not None and attempt >= attempts:
                log.error("Telegram %s failed %d times (%s); giving up", what, attempt, reason)
                return None
            log.warning("Telegram %s failed (%s); retrying in %.1f s", what, reason, pause)
            await asyncio.sleep(pause)
