"""The operational database under test, once per backend (SQLite, PostgreSQL), and rows to
notify about: a user, a rule with channels and a firing of it."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from api.accounts import users
from api.accounts.database import OpsDatabase
from api.accounts.migrate import upgrade
from api.alerts import service
from api.alerts.rules import Rule, RuleSpec
from api.alerts.tables import AlertFiring
from pipelines.core.settings import OpsDbSettings
from tests.api.accounts.conftest import ops_db_url, ops_workdir

__all__ = ["FiringMaker", "ops_db_url", "ops_workdir"]


@pytest.fixture(scope="module")
def ops_database(ops_db_url: str) -> Iterator[OpsDatabase]:
    """The migrated operational database of the module's backend."""
    database = OpsDatabase.open(OpsDbSettings(url=ops_db_url))
    upgrade(database.engine)
    try:
        yield database
    finally:
        database.close()


@dataclass
class FiringMaker:
    """Stores a user, a rule with ``channels`` and one firing of it (committed)."""

    database: OpsDatabase

    def user(self, session: Session) -> int:
        email = f"notify-{secrets.token_hex(4)}@example.com"
        return users.create(session, email, secrets.token_urlsafe(12)).id

    def make(
        self, channels: list[dict[str, str]], observed: dict[str, object] | None = None
    ) -> tuple[AlertFiring, Rule]:
        spec = RuleSpec.model_validate(
            {
                "name": "USDC under peg",
                "target": {"kind": "asset", "asset_id": "usdc"},
                "condition": {"kind": "price", "direction": "below", "level": 0.995},
                "channels": channels,
            }
        )
        with self.database.sessions() as session:
            user_id = self.user(session)
            row = service.create(session, user_id, spec, None)
            firing = AlertFiring(
                rule_id=row.id,
                user_id=user_id,
                asset_id="usdc",
                condition_kind="price",
                data_ts=dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC),
                observed=observed or {"close": 0.9931, "level": 0.995},
            )
            session.add(firing)
            session.commit()
            return firing, service.to_rule(row)


@pytest.fixture(scope="module")
def firings(ops_database: OpsDatabase) -> FiringMaker:
    return FiringMaker(ops_database)
