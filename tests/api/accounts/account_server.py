"""A real API server for the 2FA and key tests: a uvicorn process on the operational database
under test (``ops_db_url``: SQLite or PostgreSQL) with a user of a given role, whose password
and access token the tests use (a plain module, not a plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.accounts.principal import Role
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.sample_data import sample_duckdb


@dataclass(frozen=True)
class AccountServer:
    base_url: str
    credentials: ApiCredentials

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client of the server, as the user (their access token) unless ``headers`` says
        otherwise (``{}``: no credentials)."""
        sent = self.credentials.headers if headers is None else headers
        return httpx.Client(base_url=self.base_url, headers=sent, timeout=60)


@contextmanager
def account_server(
    ops_db_url: str, workdir: Path, role: Role = Role.PROFESSIONAL
) -> Iterator[AccountServer]:
    credentials = provision(accounts_settings(workdir, ops_db_url), role)
    duckdb_file = sample_duckdb(workdir / "serving.duckdb")
    with running_server(duckdb_file, workdir, credentials) as base_url:
        yield AccountServer(base_url, credentials)


# Module-scoped fixtures of the modules that test a resource of a user over HTTP (alert rules,
# portfolios): import them into the test module (or its conftest) to use them.


@pytest.fixture(scope="module")
def server(ops_db_url: str, ops_workdir: Path) -> Iterator[AccountServer]:
    """A server on the module's operational database, as a professional user."""
    with account_server(ops_db_url, ops_workdir) as running:
        yield running


@pytest.fixture(scope="module")
def explorer(server: AccountServer, ops_db_url: str, ops_workdir: Path) -> ApiCredentials:
    """A second user, on the lowest tier, of the same server."""
    return provision(accounts_settings(ops_workdir, ops_db_url), Role.EXPLORER)
