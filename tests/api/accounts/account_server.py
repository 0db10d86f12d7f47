"""A real API server for the account tests, on SQLite or on PostgreSQL (a throwaway database
on the local TimescaleDB server): a uvicorn process, a user of a given role in its operational
database and that user's password and access token (a plain module, not a plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import URL

from api.accounts.principal import Role
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.sample_data import sample_duckdb
from tests.fixtures.timescaledb import throwaway_database

#: The operational databases every account test runs on.
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class AccountServer:
    base_url: str
    credentials: ApiCredentials

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client of the server, as the user (their access token) unless ``headers`` says
        otherwise (``{}``: no credentials)."""
        sent = self.credentials.headers if headers is None else headers
        return httpx.Client(base_url=self.base_url, headers=sent, timeout=30)


def sqlalchemy_url(dsn: str) -> str:
    """A libpq DSN (as the TimescaleDB fixtures give) as an ``RWA_OPS_DB_URL``."""
    parts = conninfo_to_dict(dsn)
    url = URL.create(
        "postgresql",
        username=str(parts.get("user") or "") or None,
        password=str(parts.get("password") or "") or None,
        host=str(parts.get("host") or "127.0.0.1"),
        port=int(str(parts.get("port") or 5432)),
        database=str(parts["dbname"]),
    )
    return url.render_as_string(hide_password=False)


@contextmanager
def account_server(
    backend: str, workdir: Path, request: pytest.FixtureRequest, role: Role = Role.PROFESSIONAL
) -> Iterator[AccountServer]:
    """A server whose operational database is ``backend`` ("sqlite" or "postgresql")."""
    with ExitStack() as stack:
        ops_url = None
        if backend == "postgresql":
            admin_dsn: str = request.getfixturevalue("timescale_admin_dsn")
            ops_url = sqlalchemy_url(stack.enter_context(throwaway_database(admin_dsn)))
        credentials = provision(accounts_settings(workdir, ops_url), role)
        duckdb_file = sample_duckdb(workdir / "serving.duckdb")
        base_url = stack.enter_context(running_server(duckdb_file, workdir, credentials))
        yield AccountServer(base_url, credentials)
