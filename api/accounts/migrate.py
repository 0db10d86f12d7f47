"""Bring the operational database to the newest schema (``rwa db migrate`` and API start-up).

Several API workers may start at once: the upgrade runs under a lock (a PostgreSQL advisory
lock; for SQLite, a lock file beside the database), so one migrates and the others then find
the schema at head.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from api.accounts.database import is_sqlite

#: Any fixed number: the advisory lock the migrating workers take on PostgreSQL.
_PG_LOCK_KEY = 7_412_001


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("api.accounts") / "migrations"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> str:
    """Migrate to head; returns the revision the database is at."""
    config = alembic_config()
    head = head_revision()
    if is_sqlite(engine.url):
        with _sqlite_lock(engine), engine.begin() as connection:
            return _upgrade_on(connection, config, head)
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        return _upgrade_on(connection, config, head)


def _upgrade_on(connection: Connection, config: Config, head: str) -> str:
    if current_revision(connection) != head:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head
