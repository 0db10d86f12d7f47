"""Claims on both backends: a claimed row is nobody else's until its lease lapses, a lapsed
claim (a crashed worker) is taken over with the next attempt number, a worker whose claim was
taken over records nothing, and concurrent workers claim disjoint rows."""

from __future__ import annotations

import datetime as dt
import threading

from api.accounts.database import OpsDatabase
from api.accounts.tables import utcnow
from api.notifications.attempts import Outcome
from api.notifications.claims import Claim, claim_due, record
from pipelines.core.settings import NotificationSettings
from tests.api.notifications.conftest import FiringMaker

LEASE = 60
SETTINGS = NotificationSettings(claim_lease_seconds=LEASE, batch_size=3, max_attempts=5)


def _enqueue(firings: FiringMaker, count: int) -> None:
    firings.enqueued(
        [{"type": "webhook", "url": f"https://hooks.example.com/{i}"} for i in range(count)]
    )


def _finish(database: OpsDatabase, claims: list[Claim]) -> None:
    for claim in claims:
        assert record(database.sessions, claim, Outcome.sent(200), SETTINGS)


def test_a_lapsed_claim_is_taken_over_and_the_late_worker_records_nothing(
    ops_database: OpsDatabase, firings: FiringMaker
) -> None:
    _enqueue(firings, 2)
    now = utcnow()
    first = claim_due(ops_database.sessions, SETTINGS, now)
    assert [c.attempts for c in first] == [1, 1]
    assert all(c.secret and c.secret.startswith("whsec_") for c in first)
    assert claim_due(ops_database.sessions, SETTINGS, now + dt.timedelta(seconds=LEASE - 1)) == []
    later = now + dt.timedelta(seconds=LEASE + 1)
    second = claim_due(ops_database.sessions, SETTINGS, later)
    assert [(c.id, c.attempts) for c in second] == [(c.id, 2) for c in first]
    assert [c.delivery_id for c in second] == [c.delivery_id for c in first]  # same id again
    assert not record(ops_database.sessions, first[0], Outcome.sent(200), SETTINGS)
    _finish(ops_database, second)
    assert claim_due(ops_database.sessions, SETTINGS, later + dt.timedelta(days=1)) == []


def test_concurrent_workers_claim_disjoint_rows(
    ops_database: OpsDatabase, firings: FiringMaker
) -> None:
    _enqueue(firings, 5)
    start = threading.Barrier(2)
    claimed: list[list[Claim]] = []
    errors: list[Exception] = []

    def worker() -> None:
        start.wait()
        try:  # both create the owner's signing secret at once, too
            claimed.append(claim_due(ops_database.sessions, SETTINGS))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    ids = [c.id for batch in claimed for c in batch]
    assert sorted(len(batch) for batch in claimed) == [2, 3]
    assert len(set(ids)) == 5
    _finish(ops_database, [c for batch in claimed for c in batch])


def test_a_worker_dying_on_the_last_attempt_leaves_the_notification_failed(
    ops_database: OpsDatabase, firings: FiringMaker
) -> None:
    firing_id = firings.enqueued([{"type": "email", "address": "ada@example.com"}])
    last = SETTINGS.model_copy(update={"max_attempts": 1})
    now = utcnow()
    assert len(claim_due(ops_database.sessions, last, now)) == 1
    # ... and the worker dies: no record. After the lease, nobody sends it again.
    assert claim_due(ops_database.sessions, last, now + dt.timedelta(seconds=LEASE + 1)) == []
    row = firings.rows(firing_id)["ada@example.com"]
    assert (row.status, row.attempts, row.claimed_until) == ("failed", 1, None)
    assert row.last_error is not None and "stopped during the last one" in row.last_error
