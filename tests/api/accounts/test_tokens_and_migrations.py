"""Units of the accounts: the signing key, token types, and the migrations against the
tables (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import inspect

# The alert and portfolio tables share the accounts' metadata (as in migrations/env.py).
import api.alerts.tables
import api.portfolios.tables  # noqa: F401
from api.accounts.database import OpsDatabase
from api.accounts.migrate import current_revision, head_revision, upgrade
from api.accounts.tables import Base
from api.accounts.tokens import InvalidTokenError, TokenIssuer, TokenType, signing_key
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import AuthSettings, OpsDbSettings


def test_the_key_is_generated_once_private_and_required_in_production(tmp_path: Path) -> None:
    auth = AuthSettings(jwt_key_file=tmp_path / "keys" / "jwt.key")
    key = signing_key(auth, "local")
    assert signing_key(auth, "ci") == key  # kept, not regenerated
    assert stat.S_IMODE(auth.jwt_key_file.stat().st_mode) == 0o600
    with pytest.raises(ConfigurationError, match="RWA_JWT_SECRET is required"):
        signing_key(auth, "production")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        signing_key(auth.model_copy(update={"jwt_secret": SecretStr("short")}), "production")
    secret = "s" * 40
    given = auth.model_copy(update={"jwt_secret": SecretStr(secret)})
    assert signing_key(given, "production") == secret.encode()


def test_a_token_is_accepted_only_as_its_own_type() -> None:
    issuer = TokenIssuer(b"k" * 32, AuthSettings())
    for typ in TokenType:
        token, claims = issuer.issue(7, typ)
        assert issuer.decode(token, typ) == claims
        for other in set(TokenType) - {typ}:
            with pytest.raises(InvalidTokenError):
                issuer.decode(token, other)


def test_migrations_create_exactly_the_tables_and_rerun_as_no_ops(ops_db_url: str) -> None:
    database = OpsDatabase.open(OpsDbSettings(url=ops_db_url))
    try:
        head = head_revision()
        assert upgrade(database.engine) == upgrade(database.engine) == head
        with database.engine.connect() as connection:
            assert current_revision(connection) == head
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            names = set(inspect(connection).get_table_names())
        assert {"users", "refresh_tokens", "recovery_codes", "api_keys", "audit_log"} <= names
        assert "alert_rules" in names
    finally:
        database.close()
