"""Command line: `python -m bot serve` (the gateway), `python -m bot migrate`,
`python -m bot adviser ...` (console accounts)."""

from __future__ import annotations

import argparse

import uvicorn

from bot.console import cli as adviser_cli
from bot.logging_setup import log_config
from bot.settings import load_settings
from bot.store.db import migrate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    adviser_cli.add_parser(commands)
    args = parser.parse_args()
    settings = load_settings()
    if args.command == "adviser":
        adviser_cli.run(args, settings.database_url)
        return
    if args.command == "migrate":
        migrate(settings.database_url)
        return
    uvicorn.run("bot.app:create_app", factory=True, host=args.host or settings.host,
                port=args.port or settings.port, log_level="info",
                log_config=log_config(settings.log_format),
                # Rasa pins websockets 10, too old for uvicorn's default implementation.
                ws="wsproto")


if __name__ == "__main__":
    main()
