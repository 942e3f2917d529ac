"""A schema of its own on the local PostgreSQL (127.0.0.1:5432, trust auth), for tests that
run against the real server; they skip, saying so, where it is not running."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


class PostgresUnavailable(Exception):
    pass


def create_schema() -> str:
    """A new, empty schema; PostgresUnavailable when the server cannot be reached."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, future=True)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:  # noqa: BLE001 - any failure means: no PostgreSQL here
        raise PostgresUnavailable(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__})") from error
    finally:
        admin.dispose()
    return schema


def drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, future=True)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


def schema_url(schema: str, port: int = 5432) -> str:
    """The database URL of `schema` (through another port: e.g. a TCP relay in front of the server)."""
    return f"postgresql://postgres@127.0.0.1:{port}/test?options=-csearch_path%3D{schema}"
