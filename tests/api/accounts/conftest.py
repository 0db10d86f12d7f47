"""The operational database under test, once per backend: a SQLite file, or a database
``rwa_ops_test_<random>`` of its own on the TimescaleDB server (PostgreSQL), dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

from tests.fixtures.timescaledb import throwaway_database

BACKENDS = ("sqlite", "postgresql")


def sqlalchemy_url(dsn: str) -> str:
    """The SQLAlchemy URL (psycopg 3) of a libpq DSN."""
    parts = conninfo_to_dict(dsn)
    return URL.create(
        "postgresql+psycopg",
        username=parts.get("user"),
        password=parts.get("password"),
        host=parts.get("host"),
        port=int(parts["port"]) if parts.get("port") else None,
        database=parts.get("dbname"),
    ).render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=BACKENDS)
def ops_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('ops') / 'ops.db'}"
        return
    admin_dsn = request.getfixturevalue("timescale_admin_dsn")
    with throwaway_database(admin_dsn, prefix="rwa_ops_test") as dsn:
        yield sqlalchemy_url(dsn)


@pytest.fixture(scope="module")
def ops_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("accounts")
