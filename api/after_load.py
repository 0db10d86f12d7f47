"""What follows a serving load, in whichever process ran it (``rwa load``, ``rwa backfill``,
the Dagster asset ``alerts/evaluation``): ``price_update`` events for the assets whose latest
bar changed and ``portfolio_update`` events for the portfolios holding them whose value
changed (committed together: a crash between them cannot lose the portfolios' updates, which
are found from the prices'), then an evaluation of every active alert rule (its firings
notified and pushed).

All read the store as the API serves it (read-only: for DuckDB the snapshot the load just
published), so what is announced and what fires is what clients can see. It sits above
alerts and portfolios in the API's layers (they may not import each other) and below nothing
but the processes' entry points.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from api.accounts.database import OpsDatabase
from api.accounts.migrate import upgrade
from api.alerts.evaluation import EvaluationReport, evaluate
from api.events import stream
from api.events.prices import publish_price_updates
from api.portfolios.updates import publish_portfolio_updates
from pipelines.core.settings import Settings
from pipelines.serving import open_store


@dataclass(frozen=True)
class AfterLoadReport:
    price_updates: int
    evaluation: EvaluationReport
    portfolio_updates: int = 0

    def summary(self) -> str:
        """One line for a command's output or a run's log."""
        e = self.evaluation
        skipped = f", {len(e.skipped_rules)} skipped (asset gone)" if e.skipped_rules else ""
        return (
            f"alerts: {e.rules} active rules over {e.pairs} (rule, asset) pairs, "
            f"{len(e.fired)} fired{skipped}; {self.price_updates} price updates published; "
            f"{self.portfolio_updates} portfolio updates published"
        )


def after_serving_load(settings: Settings, now: dt.datetime | None = None) -> AfterLoadReport:
    """Publish the price and portfolio updates and evaluate the alert rules on the served
    data, in the operational database ``settings.ops_db`` (migrated first, as the API does on
    start)."""
    database = OpsDatabase.open(settings.ops_db)
    relay = stream.attach(database.sessions, settings.events)
    try:
        upgrade(database.engine)
        with open_store(settings.serving, read_only=True) as store:
            with database.sessions() as session:
                published = publish_price_updates(session, store)
                changed = {p.asset_id for p in published}
                portfolios = publish_portfolio_updates(session, store, changed)
                session.commit()
            report = evaluate(store, database.sessions, now)
    finally:
        if relay is not None:
            relay.close()
        database.close()
    return AfterLoadReport(len(published), report, len(portfolios))
