"""`python -m bot adviser ...`: console accounts from the command line.

    python -m bot adviser add anna --name Anna --languages fi,en,ar [--role adviser|admin|analyst] [--ui fi|en]
    python -m bot adviser password anna
    python -m bot adviser disable anna
    python -m bot adviser list

The password is asked twice on the terminal, or read from standard input with
--password-stdin (for scripts); it never appears on the command line. A new
password, and disabling, end every session of the account at once; a disabled
adviser's open chats go back to the queue at the gateway's next sweep (the users
are told), and the account's trusted devices are forgotten.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.console.auth import MIN_PASSWORD_CHARS, ROLES, UI_LANGUAGES, end_sessions, hash_password
from bot.handoff.store import HandoffStore
from bot.language.catalog import load_catalog
from bot.store.db import Database, migrate


def add_parser(commands: argparse._SubParsersAction) -> None:
    adviser = commands.add_parser("adviser", help="manage adviser console accounts")
    actions = adviser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the name users see, e.g. a first name")
    add.add_argument("--languages", default="fi", help="languages the adviser serves, e.g. fi,en,ar")
    add.add_argument("--role", choices=ROLES, default="adviser")
    add.add_argument("--ui", choices=UI_LANGUAGES, default="fi", help="the console's language")
    add.add_argument("--password-stdin", action="store_true")
    password = actions.add_parser("password", help="set a new password")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    disable = actions.add_parser("disable", help="stop an account from signing in")
    disable.add_argument("username")
    actions.add_parser("list", help="list accounts")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"Password (at least {MIN_PASSWORD_CHARS} characters): ")
    if first != getpass.getpass("Again: "):
        raise SystemExit("the passwords differ")
    return first


def run(args: argparse.Namespace, database_url: str) -> None:
    migrate(database_url)
    database = Database(database_url)
    store = HandoffStore(database)
    if args.action == "list":
        for a in store.advisers():
            state = "active" if a.active else "disabled"
            print(f"{a.username}\t{a.display_name}\t{a.role}\t{','.join(a.languages)}\t{a.ui_language}\t{state}")
        return
    if args.action == "add":
        catalog = load_catalog()
        languages = [code.strip() for code in args.languages.split(",") if code.strip()]
        unknown = [code for code in languages if code not in catalog.languages]
        if unknown:
            raise SystemExit(f"unknown language codes: {', '.join(unknown)}")
        if store.adviser_by_username(args.username):
            raise SystemExit(f"{args.username} exists already")
        try:
            hashed = hash_password(_password(args.password_stdin))
        except ValueError as error:
            raise SystemExit(str(error)) from error
        store.add_adviser(args.username, args.name, hashed, args.role, languages, args.ui)
        print(f"added {args.username}")
        return
    adviser = store.adviser_by_username(args.username)
    if adviser is None:
        raise SystemExit(f"no account {args.username}")
    if args.action == "password":
        try:
            store.update_adviser(adviser.id, password_hash=hash_password(_password(args.password_stdin)))
        except ValueError as error:
            raise SystemExit(str(error)) from error
        ended = end_sessions(database, adviser.id)
        print(f"password: {args.username} ({ended} session(s) ended)")
    elif args.action == "disable":
        store.update_adviser(adviser.id, active=False)
        ended = end_sessions(database, adviser.id, devices=True)
        chats = len(store.with_adviser(adviser.id))
        print(f"disable: {args.username} ({ended} session(s) ended; {chats} open chat(s) go back to the queue)")
