"""The operational database under test, once per backend (SQLite, PostgreSQL), and rows to
notify about: a user, a rule with channels and a firing of it."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts import users
from api.accounts.database import OpsDatabase
from api.accounts.migrate import upgrade
from api.alerts import service
from api.alerts.rules import Rule, RuleSpec
from api.alerts.tables import AlertFiring
from api.notifications import signing
from api.notifications.outbox import enqueue
from api.notifications.tables import Notification
from pipelines.core.settings import OpsDbSettings
from tests.api.accounts.conftest import ops_db_url, ops_workdir
from tests.api.notifications.receivers import Loopback, loopback_receivers

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
        self, channels: list[dict[str, str]], user_id: int | None = None
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
            user_id = user_id or self.user(session)
            row = service.create(session, user_id, spec, None)
            firing = AlertFiring(
                rule_id=row.id,
                user_id=user_id,
                asset_id="usdc",
                condition_kind="price",
                data_ts=dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC),
                observed={"close": 0.9931, "level": 0.995},
            )
            session.add(firing)
            session.commit()
            return firing, service.to_rule(row)

    def enqueued(self, channels: list[dict[str, str]], user_id: int | None = None) -> int:
        """A firing (of a new user's, or ``user_id``'s) with its notifications in the outbox;
        its id."""
        firing, rule = self.make(channels, user_id)
        with self.database.sessions() as session:
            enqueue(session, session.merge(firing), rule)
            session.commit()
        return firing.id

    def rows(self, firing_id: int) -> dict[str, Notification]:
        """The firing's notifications by destination."""
        with self.database.sessions() as session:
            query = select(Notification).where(Notification.firing_id == firing_id)
            return {row.destination: row for row in session.scalars(query)}

    def secret(self, firing_id: int) -> str:
        """The webhook signing secret of the firing's owner."""
        with self.database.sessions() as session:
            firing = session.get(AlertFiring, firing_id)
            assert firing is not None
            secret = signing.secret_of(session, firing.user_id)
            session.commit()
            return secret


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    """A webhook receiver, a fake Telegram and an SMTP server on loopback, per module."""
    with loopback_receivers() as receivers:
        yield receivers


@pytest.fixture(scope="module")
def firings(ops_database: OpsDatabase) -> FiringMaker:
    return FiringMaker(ops_database)
