"""Command line: `python -m bot serve` (the gateway), `python -m bot migrate`,
`python -m bot adviser ...` (console accounts), `python -m bot report` (work package 6
report), `python -m bot retention` (delete old personal data, also from Rasa's tracker store), `python -m bot inbox
export` (labelled questions as NLU data)."""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import uvicorn

from bot.console import cli as adviser_cli
from bot.console.texts import UI_LANGUAGES
from bot.insights.period import DEFAULT_DAYS, DEFAULT_TIMEZONE, last_days
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
    report = commands.add_parser("report", help="write the work package 6 report (HTML and CSV)")
    report.add_argument("--since", type=date.fromisoformat,
                        help=f"first day, YYYY-MM-DD (default: {DEFAULT_DAYS - 1} days before --until, "
                             f"so {DEFAULT_DAYS} days in all)")
    report.add_argument("--until", type=date.fromisoformat,
                        help="last day (included), YYYY-MM-DD (default: today in --timezone)")
    report.add_argument("--out", type=Path, required=True, help="folder for report.html and the CSV files")
    report.add_argument("--timezone", default=DEFAULT_TIMEZONE, help="whose days and weeks (default %(default)s)")
    report.add_argument("--language", choices=UI_LANGUAGES, default=UI_LANGUAGES[0],
                        help="language of the names in charts and tables (default %(default)s)")
    report.add_argument("--no-clusters", action="store_true", help="leave out topic discovery")
    retention = commands.add_parser("retention", help="delete personal data older than config/retention.yml says")
    retention.add_argument("--config", type=Path, help="retention file (default config/retention.yml)")
    retention.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    inbox = commands.add_parser("inbox", help="the NLU inbox of unresolved questions")
    inbox_commands = inbox.add_subparsers(dest="inbox_command", required=True)
    export = inbox_commands.add_parser("export", help="labelled questions as Rasa NLU YAML per language")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--language", action="append", help="only these languages (repeatable)")
    args = parser.parse_args()
    settings = load_settings()
    if args.command == "adviser":
        adviser_cli.run(args, settings.database_url)
        return
    if args.command == "migrate":
        migrate(settings.database_url)
        return
    if args.command in ("report", "retention", "inbox"):
        insights_command(args, settings.database_url, settings.tracker_store_url)
        return
    uvicorn.run("bot.app:create_app", factory=True, host=args.host or settings.host,
                port=args.port or settings.port, log_level="info",
                log_config=log_config(settings.log_format),
                # bot/app.py applies FORWARDED_ALLOW_IPS itself (the setting of config/gateway.yml).
                proxy_headers=False,
                # Rasa pins websockets 10, too old for uvicorn's default implementation.
                ws="wsproto")


def insights_command(args: argparse.Namespace, database_url: str, tracker_store_url: str | None = None) -> None:
    from bot.store.db import Database

    database = Database(database_url)
    if args.command == "report":
        from bot.insights.labels import ReportLabels
        from bot.insights.render import write_report
        from bot.insights.report import build_report

        until = args.until or last_days(zone=args.timezone)[1]
        since = args.since or until - timedelta(days=DEFAULT_DAYS - 1)
        if until < since:
            raise SystemExit(f"--until {until} is before --since {since}")
        built = build_report(database, since, until, zone=args.timezone, clusters=not args.no_clusters)
        for path in write_report(built, args.out, ReportLabels(args.language)):
            print(path)
    elif args.command == "retention":
        from bot.insights.retention import RETENTION_FILE, load_retention, purge
        from bot.insights.tracker_retention import purge_tracker_store

        policy = load_retention(args.config or RETENTION_FILE)
        deleted = purge(database, policy, dry_run=args.dry_run)
        # Rasa's copy of the conversations (TRACKER_STORE_URL), with the same period.
        deleted |= purge_tracker_store(tracker_store_url, policy, dry_run=args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        for kind, count in deleted.items():
            print(f"{verb} {count} {kind}")
    else:
        from bot.insights.inbox import Inbox

        for language, path in Inbox(database).export(args.out, args.language).items():
            print(f"{language}: {path}")
        print(args.out / "new_topics.csv")


if __name__ == "__main__":
    main()
