"""What follows a serving load, in whichever process ran it (``rwa load``, ``rwa backfill``,
the Dagster asset ``alerts/evaluation``): ``price_update`` events for the assets whose latest
bar changed, then an evaluation of every active alert rule (its firings notified and pushed).

Both read the store as the API serves it (read-only: for DuckDB the snapshot the load just
published), so what fires is what clients can see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from api.accounts.database import OpsDatabase
from api.accounts.migrate import upgrade
from api.alerts.evaluation import EvaluationReport, evaluate
from api.events import stream
from api.events.prices import publish_price_updates
from pipelines.core.settings import Settings
from pipelines.serving import open_store


@dataclass(frozen=True)
class AfterLoadReport:
    price_updates: int
    evaluation: EvaluationReport

    def summary(self) -> str:
        """One line for a command's output or a run's log."""
        e = self.evaluation
        skipped = f", {len(e.skipped_rules)} skipped (asset gone)" if e.skipped_rules else ""
        return (
            f"alerts: {e.rules} active rules over {e.pairs} (rule, asset) pairs, "
            f"{len(e.fired)} fired{skipped}; {self.price_updates} price updates published"
        )


def after_serving_load(settings: Settings, now: dt.datetime | None = None) -> AfterLoadReport:
    """Publish the price updates and evaluate the alert rules on the served data, in the
    operational database ``settings.ops_db`` (migrated first, as the API does on start)."""
    database = OpsDatabase.open(settings.ops_db)
    relay = stream.attach(database.sessions, settings.events)
    try:
        upgrade(database.engine)
        with open_store(settings.serving, read_only=True) as store:
            with database.sessions() as session:
                published = publish_price_updates(session, store)
                session.commit()
            report = evaluate(store, database.sessions, now)
    finally:
        if relay is not None:
            relay.close()
        database.close()
    return AfterLoadReport(len(published), report)
