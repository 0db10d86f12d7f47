"""The worker's evaluation step: it evaluates at its first pass, when the DuckDB store it
reads publishes a new snapshot, and every period otherwise, never in between; a store not
served yet is waited for without failing the worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.database import OpsDatabase
from api.alerts import evaluation_step, service
from api.alerts.evaluation import evaluate
from api.alerts.evaluation_step import EvaluationStep
from api.alerts.rules import RuleSpec
from pipelines.core.errors import StoreUnavailableError
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.alerts.served_alerts import HOUR, LAST_BAR, hourly, load_alert_data
from tests.fixtures.accounts import accounts_settings, provision

PERIOD = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A SQLite operational database with one user's rule: USDC below 0.995, no cooldown."""
    credentials = provision(accounts_settings(tmp_path))
    database = OpsDatabase.open(credentials.settings.ops_db)
    spec = {
        "target": {"kind": "asset", "asset_id": "usdc"},
        "condition": {"kind": "price", "direction": "below", "level": 0.995},
        "cooldown_minutes": 0,
    }
    with database.sessions() as session:
        service.create(session, credentials.user_id, RuleSpec.model_validate(spec), None)
        session.commit()
    try:
        yield database.sessions
    finally:
        database.close()


def _publish(path: Path, close: float, hours_after: int) -> None:
    """A load of a new USDC bar, published as a new snapshot."""
    with DuckDBStore(path) as writer:
        writer.upsert_ohlcv(hourly("usdc", [close], last=LAST_BAR + hours_after * HOUR))


def test_it_evaluates_new_snapshots_at_once_and_otherwise_every_period(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "serving.duckdb"
    with DuckDBStore(path) as writer:
        writer.migrate()
        load_alert_data(writer)
    clock = Clock()
    step = EvaluationStep(lambda: DuckDBStore(path, read_only=True), sessions, PERIOD, clock)
    with mock.patch.object(evaluation_step, "evaluate", wraps=evaluate) as evaluations:
        try:
            assert step() == 1  # the first pass evaluates: USDC is at 0.99
            assert (step(), evaluations.call_count) == (0, 1)  # nothing new, not yet due
            _publish(path, 1.0, 1)  # recovers
            assert (step(), evaluations.call_count) == (0, 2)
            _publish(path, 0.99, 2)  # falls again: fires at once
            assert (step(), evaluations.call_count) == (1, 3)
            clock.now += PERIOD - 1
            assert (step(), evaluations.call_count) == (0, 3)
            clock.now += 1
            assert (step(), evaluations.call_count) == (0, 4)  # the period's evaluation
        finally:
            step.close()


def test_a_store_that_keeps_no_snapshot_is_evaluated_every_period(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    writer = DuckDBStore(tmp_path / "serving.duckdb")  # a writer memoises nothing
    writer.migrate()
    load_alert_data(writer)
    clock = Clock()
    step = EvaluationStep(lambda: writer, sessions, PERIOD, clock)
    with mock.patch.object(evaluation_step, "evaluate", wraps=evaluate) as evaluations:
        assert step() == 1
        writer.upsert_ohlcv(hourly("usdc", [1.0], last=LAST_BAR + HOUR))
        assert (step(), evaluations.call_count) == (0, 1)
        clock.now += PERIOD
        assert (step(), evaluations.call_count) == (0, 2)
    step.close()


def test_a_store_not_served_yet_is_waited_for(sessions: sessionmaker[Session]) -> None:
    opened: list[int] = []

    def unavailable() -> DuckDBStore:
        opened.append(1)
        raise StoreUnavailableError("no snapshot published yet")

    clock = Clock()
    step = EvaluationStep(unavailable, sessions, PERIOD, clock)
    assert (step(), step(), len(opened)) == (0, 0, 1)  # tried again only the next period
    clock.now += PERIOD
    assert (step(), len(opened)) == (0, 2)
