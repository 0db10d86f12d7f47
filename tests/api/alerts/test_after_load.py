"""``rwa load`` (its handler, in this process) evaluates the alert rules and publishes price
updates after loading: a rule that holds on the served data fires once, and a second load of
the same data fires nothing new."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from api.alerts.tables import AlertFiring
from api.events.tables import Event
from tests.api.alerts.served_alerts import ASSETS, served_with_a_rule
from tests.fixtures.accounts import accounts_settings
from tests.fixtures.demo import rwa_in_process


def test_rwa_load_evaluates_the_rules_on_what_it_served(tmp_path: Path) -> None:
    data = tmp_path / "data"  # where the command opens its store and data/ops.db
    database = served_with_a_rule(data / "serving.duckdb", accounts_settings(data))
    try:
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
