"""The operational database: an engine and a session factory from :class:`OpsDbSettings`.

SQLite (the embedded default, a file under ``data/``) runs in WAL mode so the API's readers
never wait on a writer, with foreign keys enforced (SQLite leaves them off per connection)
and a busy timeout so concurrent writers queue instead of failing. PostgreSQL is reached
through psycopg 3 (``postgresql://`` URLs are taken to mean it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from pipelines.core.settings import OpsDbSettings

#: How long a SQLite writer waits for another one before giving up (ms).
SQLITE_BUSY_TIMEOUT_MS = 15_000


def ops_url(settings: OpsDbSettings) -> URL:
    """The URL of the operational database, with psycopg 3 as the PostgreSQL driver."""
    url = make_url(settings.url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL + NORMAL is durable across application crashes; only an OS crash may lose the
        # last transactions, which is the usual trade for an embedded store.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_ops_engine(settings: OpsDbSettings) -> Engine:
    """An engine on the configured database; a SQLite file's folder is created."""
    url = ops_url(settings)
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass
class OpsDatabase:
    """An engine and the factory of its sessions, opened once per process."""

    engine: Engine
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        # expire_on_commit=False: rows stay readable after commit (routes answer from them).
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: OpsDbSettings) -> OpsDatabase:
        return cls(create_ops_engine(settings))

    def close(self) -> None:
        self.engine.dispose()
