"""``rwa load`` (its handler, in this process) evaluates the alert rules and publishes price
updates after loading: a rule that holds on the served data fires once, and a second load of
the same data fires nothing new."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from api.accounts.database import OpsDatabase
from api.alerts import service
from api.alerts.rules import RuleSpec
from api.alerts.tables import AlertFiring
from api.events.tables import Event
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.alerts.served_alerts import ASSETS, load_alert_data
from tests.fixtures.accounts import accounts_settings, provision
from tests.fixtures.demo import rwa_in_process


def test_rwa_load_evaluates_the_rules_on_what_it_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DuckDBStore(data / "serving.duckdb") as store:  # served before, kept by the load
        store.migrate()
        load_alert_data(store)
    credentials = provision(accounts_settings(data))  # data/ops.db, as the command opens it
    database = OpsDatabase.open(credentials.settings.ops_db)
    try:
        with database.sessions() as session:
            spec = {
                "target": {"kind": "asset", "asset_id": "usdc"},
                "condition": {"kind": "price", "direction": "below", "level": 0.995},
            }
            service.create(session, credentials.user_id, RuleSpec.model_validate(spec), None)
            session.commit()
        first = rwa_in_process(tmp_path, "load")
        assert "alerts: 1 active rules over 1 (rule, asset) pairs, 1 fired;" in first
        assert f"; {len(ASSETS)} price updates published" in first
        again = rwa_in_process(tmp_path, "load")
        assert "1 (rule, asset) pairs, 0 fired; 0 price updates published" in again
        with database.sessions() as session:
            assert session.scalar(select(func.count()).select_from(AlertFiring)) == 1
            alerts = select(func.count()).where(Event.type == "alert_triggered")
            assert session.scalar(alerts) == 1
    finally:
        database.close()
