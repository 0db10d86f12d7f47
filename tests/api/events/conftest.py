"""The operational database under test, once per backend (SQLite, PostgreSQL): the accounts
tests' fixtures, migrated by the app's own code (:func:`migrated_ops`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.accounts.database import OpsDatabase
from tests.api.accounts.conftest import ops_db_url, ops_workdir
from tests.fixtures.accounts import accounts_settings, open_accounts

__all__ = ["ops_db_url", "ops_workdir"]


@pytest.fixture(scope="module")
def ops_database(ops_db_url: str, ops_workdir: Path) -> Iterator[OpsDatabase]:
    """The module's operational database, migrated to head (the accounts open it so)."""
    accounts = open_accounts(accounts_settings(ops_workdir, ops_db_url))
    try:
        yield accounts.database
    finally:
        accounts.close()
