"""The operational database under test, once per backend (SQLite, PostgreSQL): the accounts
tests' fixtures."""

from tests.api.accounts.conftest import ops_db_url, ops_workdir

__all__ = ["ops_db_url", "ops_workdir"]
