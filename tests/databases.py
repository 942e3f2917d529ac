"""The `database_url` fixture: every test that takes it runs on SQLite (a fresh file) and on
PostgreSQL (a fresh schema in the `test` database at 127.0.0.1:5432; skipped when no server runs)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(POSTGRES_ADMIN_URL, future=True)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__})")
    yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
