"""Profile a turn (docs/performance.md): where its time goes, with pyinstrument.

    python -m scripts.profile_turn gateway [--turns 60]   # the gateway's router, real Rasa and actions
    python -m scripts.profile_turn rasa [--turns 60]      # inside Rasa: a parse, and a whole turn

`gateway`: the router of `python -m bot serve` (its SQLite store, the insights log, rate
limits off) in this process, Rasa and the action server started as `make run` starts
them; turns of 10 messages per conversation, then each turn's deferred work, as a channel
runs it. Besides the profile it counts per turn the HTTP requests to Rasa, the database
transactions (commits) and their time. `rasa`: the trained agent loaded in this process with
config/endpoints.yml (a SQLite tracker store of its own, the action server started here):
a parse (`Agent.parse_message`) and a turn (`Agent.handle_message`), profiled separately.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from pyinstrument import Profiler

from scripts.model import model_path
from scripts.nlu_eval import heldout_sets

CONVERSATION_TURNS = 10


def texts() -> list[str]:
    return [t for examples in heldout_sets().values() for t, _ in examples]


def show(profiler: Profiler, title: str) -> None:
    print(f"== {title}")
    print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False))


async def gateway_turns(rasa_url: str, turns: int) -> None:
    import httpx
    from sqlalchemy import event

    from bot.insights.log import InsightsLog
    from bot.limits import build_limits
    from bot.rasa_client import RasaClient
    from bot.rasa_token import resolve_rasa_token
    from bot.router import Router
    from bot.settings import limit_rates, load_settings
    from bot.store.db import Database, migrate
    from bot.store.repository import ConversationStore

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='profile-turn-')) / 'gateway.db'}"
    migrate(url)
    settings = load_settings(environ={"DATABASE_URL": url, "RASA_URL": rasa_url, "RATE_LIMITS": "off"})
    database = Database(url)
    commits = {"count": 0}
    event.listen(database.engine, "commit", lambda _connection: commits.__setitem__("count", commits["count"] + 1))
    rasa = RasaClient(rasa_url, settings.rasa_timeout, token=resolve_rasa_token())
    requests = {"count": 0}

    async def count_request(_request: httpx.Request) -> None:
        requests["count"] += 1

    rasa._client.event_hooks["request"].append(count_request)
    router = Router(settings, ConversationStore(database), rasa, build_limits(limit_rates(settings), False, None))
    router.attach_insights(InsightsLog(database, "profile-secret"))
    messages = texts()

    async def run(n: int, offset: int) -> float:
        started = time.perf_counter()
        external = ""
        for index in range(n):
            if index % CONVERSATION_TURNS == 0:
                external = uuid.uuid4().hex
            turn = await router.handle("webchat", external, messages[(offset + index) % len(messages)])
            await turn.finish()
        return (time.perf_counter() - started) * 1000 / n

    await run(5, 0)  # warm up
    commits["count"] = requests["count"] = 0
    profiler = Profiler(async_mode="enabled", interval=0.0005)
    profiler.start()
    per_turn = await run(turns, 100)
    profiler.stop()
    await rasa.close()
    show(profiler, f"Gateway turn ({turns} turns, router + store + Rasa over HTTP)")
    print(f"per turn: {per_turn:.1f} ms, {requests['count'] / turns:.2f} Rasa requests, "
          f"{commits['count'] / turns:.2f} database commits")


def profile_gateway(model: Path, turns: int) -> None:
    from tests.helpers import running_servers

    with running_servers(model) as servers:
        asyncio.run(gateway_turns(servers.rasa_url, turns))


def profile_rasa(model: Path, turns: int) -> None:
    import yaml
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    from bot.rasa_speedups import install as install_rasa_speedups
    from tests.helpers import development_endpoints, running_servers

    with running_servers(model) as servers:
        work = Path(tempfile.mkdtemp(prefix="profile-rasa-"))
        endpoints_file = work / "endpoints.yml"
        port = int(servers.actions_url.rsplit(":", 1)[1])
        endpoints_file.write_text(yaml.safe_dump(development_endpoints(port, work / "tracker.db")))
        endpoints = AvailableEndpoints.read_endpoints(str(endpoints_file))

        async def main() -> None:
            import logging

            from rasa.utils.log_utils import configure_structlog

            logging.basicConfig(level=logging.WARNING)
            configure_structlog(logging.WARNING)  # as `rasa run` logs: no debug lines in the profile
            install_rasa_speedups()  # as scripts/serve.py does in Rasa's server
            agent = await load_agent(model_path=str(model), endpoints=endpoints)
            messages = texts()
            for text in messages[:5]:  # warm up
                await agent.parse_message(text)
                await agent.handle_message(UserMessage(text, CollectingOutputChannel(), "warm-up"))
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            profiler.start()
            started = time.perf_counter()
            for text in messages[100:100 + turns]:
                await agent.parse_message(text)
            parse_ms = (time.perf_counter() - started) * 1000 / turns
            profiler.stop()
            show(profiler, f"Rasa parse ({turns} messages, Agent.parse_message)")
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            profiler.start()
            started = time.perf_counter()
            sender = ""
            for index, text in enumerate(messages[200:200 + turns]):
                if index % CONVERSATION_TURNS == 0:
                    sender = uuid.uuid4().hex
                await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
            turn_ms = (time.perf_counter() - started) * 1000 / turns
            profiler.stop()
            show(profiler, f"Rasa turn ({turns} turns, Agent.handle_message with the action server)")
            print(f"per parse: {parse_ms:.1f} ms; per turn: {turn_ms:.1f} ms")

        asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.profile_turn", description=__doc__.splitlines()[0])
    parser.add_argument("where", choices=("gateway", "rasa"))
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--model", help="default: the model of the current inputs")
    options = parser.parse_args(argv)
    model = Path(options.model) if options.model else model_path()
    (profile_gateway if options.where == "gateway" else profile_rasa)(model, options.turns)


if __name__ == "__main__":
    main()
