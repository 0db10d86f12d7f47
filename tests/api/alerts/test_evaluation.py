"""Alert evaluation on a real operational database (SQLite and PostgreSQL) over a real
serving store (DuckDB here; the reads of every kind run on both stores in
``test_observations.py``): every kind fires on data that should fire it and not on data that
should not; edge trigger, cooldown, "holds for"; the same data fires nothing new; an edited
rule starts again; class targets; paused rules and inactive users are left alone;
concurrent evaluators record one firing; a rule whose asset is gone is skipped."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.database import OpsDatabase
from api.accounts.tables import User
from api.alerts import firings, service
from api.alerts.evaluation import EvaluationReport, evaluate
from api.alerts.rules import RulePatch, RuleSpec
from api.alerts.tables import AlertFiring, AlertRule, AlertState
from pipelines.reference import get_reference_asset
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.alerts.served_alerts import DATA_TS, LAST_BAR, hourly, load_alert_data
from tests.fixtures.accounts import accounts_settings, provision

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
#: The evaluations' clock: shortly after the data's last bar closed.
NOW = DATA_TS + MINUTE


@pytest.fixture(scope="module")
def database(ops_db_url: str, ops_workdir: Path) -> Iterator[tuple[OpsDatabase, int]]:
    """The migrated operational database of each backend and a user in it."""
    credentials = provision(accounts_settings(ops_workdir, ops_db_url))
    opened = OpsDatabase.open(credentials.settings.ops_db)
    try:
        yield opened, credentials.user_id
    finally:
        opened.close()


@pytest.fixture
def sessions(database: tuple[OpsDatabase, int]) -> sessionmaker[Session]:
    """The database's sessions, with no rule left from another test."""
    opened, _ = database
    with opened.sessions() as session:
        session.execute(delete(AlertRule))
        session.execute(update(User).values(is_active=True))
        session.commit()
    return opened.sessions


@pytest.fixture
def user_id(database: tuple[OpsDatabase, int]) -> int:
    return database[1]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    opened = DuckDBStore(tmp_path / "serving.duckdb")
    opened.migrate()
    load_alert_data(opened)
    try:
        yield opened
    finally:
        opened.close()


def _rule(sessions: sessionmaker[Session], user_id: int, body: dict[str, Any]) -> int:
    spec = RuleSpec.model_validate({"cooldown_minutes": 0} | body)
    with sessions() as session:
        row = service.create(session, user_id, spec, None)
        session.commit()
        return row.id


def _on(asset_id: str, **condition: Any) -> dict[str, Any]:
    return {"target": {"kind": "asset", "asset_id": asset_id}, "condition": condition}


def _firings(sessions: sessionmaker[Session]) -> list[AlertFiring]:
    with sessions() as session:
        return list(session.scalars(select(AlertFiring).order_by(AlertFiring.id)))


def _fired(report: EvaluationReport, sessions: sessionmaker[Session]) -> set[tuple[int, str]]:
    with sessions() as session:
        rows = session.execute(
            select(AlertFiring.rule_id, AlertFiring.asset_id).where(
                AlertFiring.id.in_(report.fired)
            )
        )
        return {(rule_id, asset_id) for rule_id, asset_id in rows}


#: (rule that fires on the served data, rule of the same kind that does not).
KINDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "price": (
        _on("usdc", kind="price", direction="below", level=0.995),
        _on("usdt", kind="price", direction="below", level=0.995),
    ),
    "pct_move": (
        _on("btc", kind="pct_move", pct=5, window_minutes=60, move="up"),
        _on("btc", kind="pct_move", pct=5, window_minutes=60, move="down"),
    ),
    "peg_deviation": (
        _on("usdc", kind="peg_deviation", threshold_bps=50),
        _on("usdt", kind="peg_deviation", threshold_bps=50),
    ),
    "nav_premium": (
        _on("buidl", kind="nav_premium", side="premium", threshold_bps=150),
        _on("buidl", kind="nav_premium", side="discount", threshold_bps=150),
    ),
    "risk_score": (
        _on("btc", kind="risk_score", direction="above", level=60),
        _on("btc", kind="risk_score", direction="below", level=60),
    ),
    "sentiment_below": (
        _on("btc", kind="sentiment_below", level=-0.5),
        _on("btc", kind="sentiment_below", level=-0.7),
    ),
    "forecast_return_7d": (
        _on("btc", kind="forecast_return_7d", direction="above", level_pct=5),
        _on("btc", kind="forecast_return_7d", direction="below", level_pct=-5),
    ),
    "supply_change": (
        _on("buidl", kind="supply_change", pct=10, window_days=1, move="up"),
        _on("buidl", kind="supply_change", pct=30, window_days=1),
    ),
    "holders_change": (
        _on("buidl", kind="holders_change", pct=10, window_days=1, move="up"),
        _on("buidl", kind="holders_change", pct=5, window_days=1, move="down"),
    ),
}


def test_each_kind_fires_on_data_that_should_fire_it_only(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    firing = {kind: _rule(sessions, user_id, yes) for kind, (yes, _) in KINDS.items()}
    quiet = {kind: _rule(sessions, user_id, no) for kind, (_, no) in KINDS.items()}
    announced: list[tuple[int, int]] = []
    report = evaluate(
        store,
        sessions,
        NOW,
        announce=lambda _s, fired: announced.extend((f.id, r.id) for f, r in fired),
    )
    fired_rules = {rule_id for rule_id, _ in _fired(report, sessions)}
    assert fired_rules == set(firing.values())
    assert not fired_rules & set(quiet.values())
    assert sorted(announced) == sorted(zip(report.fired, sorted(fired_rules), strict=True))
    assert report.rules == 2 * len(KINDS) and report.pairs == 2 * len(KINDS)
    by_rule = {f.rule_id: f for f in _firings(sessions)}
    price = by_rule[firing["price"]]
    assert (price.asset_id, price.condition_kind, price.data_ts) == ("usdc", "price", DATA_TS)
    assert price.observed["price"] == pytest.approx(0.99)
    assert price.observed["level"] == 0.995
    move = by_rule[firing["pct_move"]].observed
    assert move["change_pct"] == pytest.approx(6.0)
    assert (move["price_before"], move["window_minutes"]) == (100.0, 60)
    assert by_rule[firing["nav_premium"]].observed["premium_bps"] == pytest.approx(200.0)
    assert by_rule[firing["peg_deviation"]].observed["deviation_bps"] == pytest.approx(-100.0)
    assert by_rule[firing["forecast_return_7d"]].observed["return_7d_pct"] == pytest.approx(
        5.7547, abs=1e-3
    )


def _load_usdc(store: DuckDBStore, close: float, bars_after: int) -> None:
    """A new USDC bar closing at ``close``, ``bars_after`` hours after the sample's last."""
    store.upsert_ohlcv(hourly("usdc", [close], last=LAST_BAR + bars_after * HOUR))


def test_edge_trigger_fires_once_per_episode_and_again_after_it_cleared(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    rule = _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    assert len(evaluate(store, sessions, NOW).fired) == 1
    _load_usdc(store, 0.98, 1)  # still below: the same episode
    assert evaluate(store, sessions, NOW + HOUR).fired == []
    _load_usdc(store, 1.0, 2)  # cleared
    cleared = evaluate(store, sessions, NOW + 2 * HOUR)
    assert (cleared.fired, cleared.true) == ([], 0)
    _load_usdc(store, 0.99, 3)  # below again: a new episode fires
    assert len(evaluate(store, sessions, NOW + 3 * HOUR).fired) == 1
    times = [f.data_ts for f in _firings(sessions) if f.rule_id == rule]
    assert times == [DATA_TS, DATA_TS + 3 * HOUR]


def test_cooldown_delays_a_new_episode_until_it_passed(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    body = _on("usdc", kind="price", direction="below", level=0.995) | {"cooldown_minutes": 120}
    _rule(sessions, user_id, body)
    assert len(evaluate(store, sessions, NOW).fired) == 1
    _load_usdc(store, 1.0, 1)
    evaluate(store, sessions, NOW + HOUR)
    _load_usdc(store, 0.99, 2)  # a new episode within the cooldown: quiet
    assert evaluate(store, sessions, NOW + 90 * MINUTE).fired == []
    # No new data, but the cooldown has passed and the condition still holds.
    assert len(evaluate(store, sessions, NOW + 121 * MINUTE).fired) == 1
    assert evaluate(store, sessions, NOW + 5 * HOUR).fired == []


def test_hold_fires_once_the_condition_held_long_enough_without_new_data(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    body = _on("usdc", kind="price", direction="below", level=0.995) | {"hold_minutes": 30}
    _rule(sessions, user_id, body)
    assert evaluate(store, sessions, NOW).fired == []
    assert evaluate(store, sessions, NOW + 29 * MINUTE).fired == []
    assert len(evaluate(store, sessions, NOW + 30 * MINUTE).fired) == 1
    assert evaluate(store, sessions, NOW + 60 * MINUTE).fired == []
    # A break in the condition starts the hold again.
    _load_usdc(store, 1.0, 1)
    evaluate(store, sessions, NOW + 2 * HOUR)
    _load_usdc(store, 0.99, 2)
    assert evaluate(store, sessions, NOW + 3 * HOUR).fired == []
    assert len(evaluate(store, sessions, NOW + 3 * HOUR + 30 * MINUTE).fired) == 1


def test_evaluating_the_same_data_again_fires_nothing_new(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore, tmp_path: Path
) -> None:
    _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    assert len(evaluate(store, sessions, NOW).fired) == 1
    for later in (NOW, NOW + MINUTE, NOW + 3 * HOUR):
        again = evaluate(store, sessions, later)
        assert (again.fired, again.duplicates, again.true) == ([], 0, 1)
    # A reader of an older snapshot (USDC at 1.0 an hour before) cannot clear the episode:
    # its data is older than what was evaluated, so the newer data does not fire again.
    with DuckDBStore(tmp_path / "older.duckdb") as older:
        older.migrate()
        older.upsert_assets([get_reference_asset("usdc")])
        older.upsert_ohlcv(hourly("usdc", [1.0], last=LAST_BAR - HOUR))
        stale = evaluate(older, sessions, NOW + 4 * HOUR)
    assert (stale.pairs, stale.fired) == (0, [])
    assert evaluate(store, sessions, NOW + 5 * HOUR).fired == []
    assert len(_firings(sessions)) == 1


def test_an_edited_rule_starts_from_a_clean_state(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    rule = _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    assert len(evaluate(store, sessions, NOW).fired) == 1
    _load_usdc(store, 0.98, 1)
    assert evaluate(store, sessions, NOW + HOUR).fired == []
    with sessions() as session:
        row = service.get(session, user_id, rule)
        assert row is not None
        patch = {"condition": {"kind": "price", "direction": "below", "level": 0.99}}
        service.update(row, RulePatch.model_validate(patch), NOW + HOUR)
        session.commit()
    # Still true under the new level, and the edit voided the old episode: it fires.
    assert len(evaluate(store, sessions, NOW + HOUR + MINUTE).fired) == 1


def test_a_class_target_fires_for_each_of_its_assets_that_meets_it(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    body = {
        "target": {"kind": "asset_class", "asset_class": "stablecoin"},
        "condition": {"kind": "peg_deviation", "threshold_bps": 50},
    }
    rule = _rule(sessions, user_id, body)
    report = evaluate(store, sessions, NOW)
    assert report.pairs == 2  # USDC and USDT are the served stablecoins
    assert _fired(report, sessions) == {(rule, "usdc")}
    store.upsert_ohlcv(hourly("usdt", [1.01], last=LAST_BAR + HOUR))
    assert _fired(evaluate(store, sessions, NOW + HOUR), sessions) == {(rule, "usdt")}


def test_paused_rules_and_inactive_users_are_not_evaluated(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    rule = _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    with sessions() as session:
        session.execute(update(AlertRule).where(AlertRule.id == rule).values(active=False))
        session.commit()
    report = evaluate(store, sessions, NOW)
    assert (report.rules, report.fired) == (0, [])
    with sessions() as session:
        session.execute(update(AlertRule).values(active=True))
        session.execute(update(User).where(User.id == user_id).values(is_active=False))
        session.commit()
    assert evaluate(store, sessions, NOW).rules == 0
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AlertState)) == 0


def test_concurrent_evaluators_of_one_load_record_one_firing(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    for level in (0.995, 0.996, 0.997):
        _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=level))
    reports: list[EvaluationReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait()
            reports.append(evaluate(store, sessions, NOW))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(len(r.fired) for r in reports) == [0, 0, 3]
    assert len(_firings(sessions)) == 3


def test_a_firing_already_recorded_is_not_recorded_or_announced_again(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    """The unique (rule, asset, instant) is the last guard: a firing another evaluator wrote
    (its state not written) is counted as a duplicate, nothing is announced."""
    rule = _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    with sessions() as session:
        values = {"rule_id": rule, "user_id": user_id, "asset_id": "usdc"}
        values |= {"condition_kind": "price", "data_ts": DATA_TS, "observed": {}}
        session.execute(insert(AlertFiring).values(**values))
        session.commit()
    announced: list[int] = []
    report = evaluate(
        store, sessions, NOW, announce=lambda _s, fired: announced.extend(f.id for f, _ in fired)
    )
    assert (report.fired, report.duplicates, announced) == ([], 1, [])
    assert evaluate(store, sessions, NOW + MINUTE).duplicates == 0  # its state says fired


def test_a_rule_whose_asset_is_gone_or_condition_unreadable_is_skipped_not_fatal(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    kept = _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    gone = _rule(sessions, user_id, _on("usdt", kind="price", direction="below", level=2))
    garbled = _rule(sessions, user_id, _on("usdt", kind="price", direction="below", level=2))
    with sessions() as session:  # as if the reference data had dropped the asset
        session.execute(update(AlertRule).where(AlertRule.id == gone).values(asset_id="gone-coin"))
        # A row not written through the API: its condition lacks its level.
        garbled_condition = {"kind": "price", "direction": "below"}
        session.execute(
            update(AlertRule).where(AlertRule.id == garbled).values(condition=garbled_condition)
        )
        session.commit()
    report = evaluate(store, sessions, NOW)
    assert (report.rules, report.skipped_rules) == (3, [gone, garbled])
    assert {rule for rule, _ in _fired(report, sessions)} == {kept}


def test_no_rules_no_reads(sessions: sessionmaker[Session], store: DuckDBStore) -> None:
    report = evaluate(store, sessions, NOW)
    assert (report.rules, report.pairs, report.fired) == (0, 0, [])


def test_an_asset_without_data_changes_nothing(
    sessions: sessionmaker[Session], user_id: int, tmp_path: Path
) -> None:
    _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    with DuckDBStore(tmp_path / "empty.duckdb") as empty:
        empty.migrate()
        empty.upsert_assets([get_reference_asset("usdc")])
        report = evaluate(empty, sessions, NOW)
    assert (report.rules, report.pairs, report.fired, report.skipped_rules) == (1, 0, [], [])


def test_firings_are_read_back_newest_first_by_rule_and_time(
    sessions: sessionmaker[Session], user_id: int, store: DuckDBStore
) -> None:
    """What GET /alerts/firings reads (tested over HTTP on SQLite), on both databases."""
    price = _rule(sessions, user_id, _on("usdc", kind="price", direction="below", level=0.995))
    peg = _rule(sessions, user_id, _on("usdc", kind="peg_deviation", threshold_bps=50))
    first = evaluate(store, sessions, NOW).fired
    _load_usdc(store, 1.0, 1)
    evaluate(store, sessions, NOW + HOUR)
    _load_usdc(store, 0.98, 2)
    last = evaluate(store, sessions, NOW + 2 * HOUR).fired
    with sessions() as session:
        total, page = firings.page(session, user_id, rule_id=None, since=None, limit=10, offset=0)
        assert (total, [f.id for f in page]) == (4, [*reversed(last), *reversed(first)])
        assert page[0].rule_name.startswith("USDC")
        _, mine = firings.page(session, user_id, rule_id=peg, since=None, limit=1, offset=0)
        assert [f.rule_id for f in mine] == [peg]
        total, later = firings.page(
            session, user_id, rule_id=price, since=NOW + HOUR, limit=10, offset=0
        )
        assert (total, [f.data_ts for f in later]) == (1, [DATA_TS + 2 * HOUR])
        assert (
            firings.page(session, user_id + 1, rule_id=None, since=None, limit=10, offset=0)[0] == 0
        )
