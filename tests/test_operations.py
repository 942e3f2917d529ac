"""Operations: /readyz (database, every Rasa instance, the action server),
/metrics (Prometheus, with the handoff queue read at scrape time), JSON logs
with personal data masked, and the migration at start-up being optional."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import inspect
from starlette.testclient import TestClient

from bot import logging_setup, metrics
from bot.app import create_app
from bot.health import CachedChecks
from bot.ops_access import OpsAccess
from bot.settings import Settings
from bot.store.db import Database, make_engine, migrate
from bot.store.models import Handoff
from bot.store.repository import ConversationStore
from tests.helpers import free_port, running_gateway


class _Answers200(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b'{"status": "ok"}' if self.path == "/health" else b"Hello from Rasa: 3.6.21"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def up_server() -> Iterator[str]:
    """A stand-in for Rasa (GET /) and the action server (GET /health)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers200)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# /readyz details and /metrics are for the internal network (bot/ops_access.py).
INTERNAL_CLIENT = ("127.0.0.1", 50000)


def settings_for(tmp_path: Path, rasa_urls: list[str], actions_url: str, **changes: object) -> Settings:
    values = {"database_url": f"sqlite:///{tmp_path / 'gateway.db'}", **changes}
    return Settings(rasa_url=rasa_urls[0], rasa_urls=tuple(rasa_urls), actions_url=actions_url, **values)


def test_readyz_is_200_when_everything_answers(tmp_path: Path, up_server: str) -> None:
    settings = settings_for(tmp_path, [up_server, up_server + "/"], up_server)
    with TestClient(create_app(settings), client=INTERNAL_CLIENT) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["actions"]["ok"]
    assert all(check["ok"] for check in body["checks"]["rasa"].values())


def test_readyz_is_503_and_names_what_is_down(tmp_path: Path, up_server: str) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(tmp_path, [up_server, down], down)
    with TestClient(create_app(settings), client=INTERNAL_CLIENT) as client:
        assert client.get("/healthz").status_code == 200  # alive all the same
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"]
    assert checks["rasa"][up_server]["ok"] and not checks["rasa"][down]["ok"]
    assert not checks["actions"]["ok"] and checks["actions"]["error"] == "ConnectError"


def test_readyz_fails_when_the_database_is_gone(tmp_path: Path, up_server: str) -> None:
    settings = settings_for(tmp_path, [up_server], up_server,
                            database_url="postgresql://nobody@127.0.0.1:1/none", migrate_on_start=False)
    with TestClient(create_app(settings), client=INTERNAL_CLIENT) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert not response.json()["checks"]["database"]["ok"]
    assert "nobody" not in response.text  # no connection details leak out


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, value = line.rsplit(" ", 1)
        if series == name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""):
            return float(value)
    return None


def test_metrics_count_turns_fallbacks_and_the_handoff_queue(tmp_path: Path, up_server: str) -> None:
    settings = settings_for(tmp_path, [up_server], up_server)
    app = create_app(settings)
    store = ConversationStore(Database(settings.database_url))
    now = datetime.now(timezone.utc)
    # One conversation per handoff: a conversation has at most one open handoff (the schema says so).
    waits = [(4.5, "sv", "waiting"), (0.5, "sv", "waiting"), (1.5, "ar", "waiting"), (30, "fi", "closed")]
    conversations = [store.get_or_create("webchat", f"queue-test-{n}") for n in range(len(waits))]
    with store.db.session() as session:
        for conversation, (minutes, language, status) in zip(conversations, waits, strict=True):
            session.add(Handoff(conversation_id=conversation.id, status=status, reason="button", language=language,
                                channel="webchat", requested_at=now - timedelta(minutes=minutes)))
    with TestClient(app, client=INTERNAL_CLIENT) as client:
        before = client.get("/metrics").text
        metrics.observe_turn("webchat", "sv", 0.3)
        metrics.observe_turn("webchat", "sv", 0.7, fallback=True)
        metrics.observe_turn("telegram", "xx-nonsense", 2.0)
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    def grew(name: str, by: float, **labels: str) -> None:
        assert (sample(text, name, **labels) or 0) - (sample(before, name, **labels) or 0) == pytest.approx(by), name

    grew("assistant_messages_total", 2, channel="webchat", language="sv")
    grew("assistant_messages_total", 1, channel="telegram", language="other")
    grew("assistant_fallbacks_total", 1, channel="webchat", language="sv")
    grew("assistant_turn_seconds_count", 2, channel="webchat")
    grew("assistant_turn_seconds_sum", 1.0, channel="webchat")
    assert sample(text, "assistant_handoff_queue_length", language="sv") == 2
    assert sample(text, "assistant_handoff_queue_length", language="ar") == 1
    assert sample(text, "assistant_handoff_queue_length", language="fi") is None  # closed: not waiting
    assert 269 < sample(text, "assistant_handoff_queue_oldest_wait_seconds") < 300
    assert sample(text, "assistant_handoff_queue_wait_seconds_gcount") == 3
    assert sample(text, "assistant_handoff_queue_wait_seconds_bucket", le="120.0") == 2
    assert sample(text, "assistant_handoff_queue_wait_seconds_bucket", le="+Inf") == 3


def test_migration_at_start_up_can_be_switched_off(tmp_path: Path, up_server: str) -> None:
    settings = settings_for(tmp_path, [up_server], up_server, migrate_on_start=False)
    create_app(settings)
    engine = make_engine(settings.database_url)
    assert "conversations" not in inspect(engine).get_table_names()
    migrate(settings.database_url)
    assert "conversations" in inspect(engine).get_table_names()
    engine.dispose()


def log_record(message: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bot.router", logging.WARNING, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_json_logs_are_one_object_per_line_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging_setup, "_mask", lambda text: text.replace("040-1234567", "[phone]"))
    try:
        raise ValueError("call 040-1234567")
    except ValueError:
        import sys

        error = sys.exc_info()
    line = logging_setup.JsonFormatter().format(
        log_record("user %s wrote %s", "abc", "soita 040-1234567", exc_info=error, conversation="c1")
    )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "bot.router"
    assert entry["message"] == "user abc wrote soita [phone]"
    assert "040-1234567" not in line and "ValueError" in entry["exception"]
    assert entry["conversation"] == "c1"
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    text_line = logging_setup.MaskingFormatter("%(message)s").format(log_record("soita 040-1234567"))
    assert text_line == "soita [phone]"


def access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it (uvicorn/protocols/http/h11_impl.py)."""
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                             ("203.0.113.9:54021", "GET", path, "1.1", 200), None)


def test_access_lines_mask_the_path_even_percent_encoded_and_nothing_else() -> None:
    """Only the path and query of an access line can carry what a person typed; the client's address
    and port are not run through the phone-number matcher (docs/performance.md)."""
    text = logging_setup.MaskingFormatter("%(name)s %(message)s")
    plain = access_record("/webhooks/rest/webhook?v=2")
    assert text.format(plain) == 'uvicorn.access 203.0.113.9:54021 - "GET /webhooks/rest/webhook?v=2 HTTP/1.1" 200'
    leaky = access_record("/chat?email=anna.virtanen%40example.com&phone=040%20123%204567%0AFORGED")
    line = text.format(leaky)
    assert "anna.virtanen" not in line and "123 4567" not in line and "123%204567" not in line, line
    assert "\n" not in line and "\\x0aFORGED" in line and line.startswith("uvicorn.access 203.0.113.9:54021 - "), line
    assert leaky.args[2].startswith("/chat?email=anna.virtanen%40")  # other handlers see the record as it was
    entry = json.loads(logging_setup.JsonFormatter().format(leaky))
    assert entry["logger"] == "uvicorn.access" and "anna.virtanen" not in entry["message"], entry
    assert entry["message"].startswith('203.0.113.9:54021 - "GET ') and entry["message"].endswith('HTTP/1.1" 200')
    # Anything else from that logger (a different shape) is masked whole, as before.
    odd = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "call %s", ("040 123 4567",), None)
    assert "123 4567" not in text.format(odd)


def test_masking_uses_the_privacy_module_or_identity_only_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging_setup, "_mask", None)
    try:
        from bot.privacy.masking import mask as real_mask
    except ModuleNotFoundError:
        assert logging_setup.mask("hei 040-1234567") == "hei 040-1234567"
    else:
        assert logging_setup.mask("hei 040-1234567") == real_mask("hei 040-1234567")
        line = logging_setup.JsonFormatter().format(
            log_record("user wrote %s", "soita 040 123 4567 tai anna.virtanen@example.com, hetu 131052-308T")
        )
        assert not any(personal in line for personal in ("123 4567", "anna.virtanen", "131052-308T")), line


def test_the_gateway_logs_json_lines_when_asked(tmp_path: Path, up_server: str) -> None:
    with running_gateway(up_server, tmp_path, {"LOG_FORMAT": "json", "ACTIONS_URL": up_server}) as gateway:
        with urllib.request.urlopen(gateway.url + "/readyz", timeout=10) as response:
            assert response.status == 200
    lines = [line for line in (tmp_path / "gateway.log").read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e["logger"] == "uvicorn.access" and "/readyz" in e["message"] for e in entries), lines
    assert any(e["logger"] == "uvicorn.error" and "startup complete" in e["message"] for e in entries), lines


def test_ops_access_networks_and_token() -> None:
    access = OpsAccess("127.0.0.0/8, ::1, 10.1.0.0/16", token="s3cret")
    inside = [("127.0.0.1", {}), ("127.9.9.9", {}), ("::1", {}), ("::ffff:10.1.2.3", {}), ("10.1.255.1", {}),
              ("203.0.113.9", {"authorization": "Bearer s3cret"}), ("unknown", {"authorization": "bearer s3cret"})]
    outside = [("203.0.113.9", {}), ("10.2.0.1", {}), ("testclient", {}), ("unknown", {}),
               ("192.168.1.1", {"authorization": "Bearer wrong"}), ("192.168.1.1", {"authorization": "s3cret"}),
               ("192.168.1.1", {"authorization": "Basic s3cret"})]
    for address, headers in inside:
        assert access.allows({"client": (address, 1)}, headers), (address, headers)
    for address, headers in outside:
        assert not access.allows({"client": (address, 1)}, headers), (address, headers)
    assert not OpsAccess("127.0.0.0/8").allows({"client": ("8.8.8.8", 1)}, {"authorization": "Bearer "})
    with pytest.raises(ValueError):
        OpsAccess("127.0.0.0/8, not-a-network")


def test_cached_checks_make_one_round_per_period_and_share_the_round_in_progress() -> None:
    clock = [100.0]
    rounds: list[float] = []

    async def run() -> tuple[bool, dict]:
        rounds.append(clock[0])
        await asyncio.sleep(0.05)
        return True, {"round": len(rounds)}

    checks = CachedChecks(run, seconds=5, clock=lambda: clock[0])

    async def flood() -> list:
        return await asyncio.gather(*(checks.get() for _ in range(50)))

    assert {result[1]["round"] for result in asyncio.run(flood())} == {1}
    clock[0] += 4.9
    assert asyncio.run(checks.get())[1]["round"] == 1
    clock[0] += 0.2
    assert asyncio.run(checks.get())[1]["round"] == 2
    assert rounds == pytest.approx([100.0, 105.1])
    # 0 seconds: every call checks.
    uncached = CachedChecks(run, seconds=0, clock=lambda: clock[0])
    asyncio.run(uncached.get())
    asyncio.run(uncached.get())
    assert len(rounds) == 4


def test_readyz_gives_outsiders_the_status_only(tmp_path: Path, up_server: str) -> None:
    settings = settings_for(tmp_path, [up_server], up_server)
    with TestClient(create_app(settings), client=("198.51.100.7", 50000)) as client:
        response = client.get("/readyz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert client.get("/metrics").status_code == 403
