"""The evaluation step of the alerts worker (``rwa alerts run``, :mod:`api.alerts.worker`).

The pipeline evaluates the rules right after each serving load (:mod:`api.after_load`);
the worker evaluates them again

* when the store serves new data since its last evaluation, where the store can tell (a
  DuckDB reader follows published snapshots: what it memoises lasts one snapshot), so a load
  whose own evaluation failed is caught up at once;
* and every ``every_seconds`` in any case, so a rule that "holds for N minutes" or whose
  cooldown ends between loads fires without new data.

Evaluations are idempotent and serialised (:mod:`api.alerts.evaluation`): the worker and the
pipeline evaluating the same load record one firing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from api.alerts.evaluation import evaluate
from pipelines.core.errors import StoreUnavailableError
from pipelines.serving.store import ServingStore

logger = logging.getLogger(__name__)

#: The memo key whose value stands for the store's current snapshot.
_SNAPSHOT_KEY = ("alerts.evaluation_step", "snapshot")


@dataclass
class EvaluationStep:
    """One pass: evaluate if due; returns the firings recorded (0: none, or not due)."""

    open_store: Callable[[], ServingStore]
    sessions: sessionmaker[Session]
    every_seconds: float
    clock: Callable[[], float] = time.monotonic
    _store: ServingStore | None = field(default=None, init=False)
    _evaluated_at: float | None = field(default=None, init=False)
    _snapshot: object | None = field(default=None, init=False)

    def _snapshot_token(self, store: ServingStore) -> object | None:
        """An object that changes when the store publishes new data; None where the store
        cannot tell (it keeps no memo: TimescaleDB, whose data changes under every read)."""
        token = store.recall(_SNAPSHOT_KEY)
        if token is None:
            token = store.memoised(_SNAPSHOT_KEY, object)
            if store.recall(_SNAPSHOT_KEY) is None:
                return None
        return token

    def _periodic(self) -> bool:
        return self._evaluated_at is None or self.clock() - self._evaluated_at >= self.every_seconds

    def __call__(self) -> int:
        if self._store is None:
            if not self._periodic():
                return 0
            try:
                self._store = self.open_store()
            except StoreUnavailableError as error:  # nothing served yet: nothing to evaluate
                self._evaluated_at = self.clock()  # tried again at the next period
                logger.warning("alerts: not evaluated, the serving store is unavailable: %s", error)
                return 0
        try:
            snapshot = self._snapshot_token(self._store)
            if not self._periodic() and (snapshot is None or snapshot is self._snapshot):
                return 0
            report = evaluate(self._store, self.sessions)
        except Exception:
            # Reopened at the next period: the store or the database may have been unreachable.
            self._evaluated_at = self.clock()
            self.close()
            raise
        self._evaluated_at, self._snapshot = self.clock(), snapshot
        if report.fired or report.skipped_rules:
            logger.info(
                "alerts: %d rules evaluated, %d fired, %d skipped (asset gone)",
                report.rules,
                len(report.fired),
                len(report.skipped_rules),
            )
        return len(report.fired)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
