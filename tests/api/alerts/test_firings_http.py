"""``GET /alerts/firings`` against a running server: firings an evaluation recorded are listed
newest first with the values that fired them, filtered by rule and time, paged; another user
sees none of them; bad filters are 422s naming the field. One server, on SQLite (a server
costs 10 s): the same reads on PostgreSQL are tested without one, in test_evaluation.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.accounts.database import OpsDatabase
from api.accounts.principal import Role
from api.alerts.evaluation import evaluate
from api.events.tables import Event
from api.notifications.tables import Notification
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.accounts.account_server import AccountServer, account_server
from tests.api.alerts.served_alerts import DATA_TS, LAST_BAR, hourly, load_alert_data
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision

pytestmark = pytest.mark.slow

NOW = DATA_TS + dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def ops_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('ops') / 'ops.db'}"


@pytest.fixture(scope="module")
def running(
    ops_db_url: str, ops_workdir: Path
) -> Iterator[tuple[AccountServer, ApiCredentials, OpsDatabase]]:
    """A server for one user, a second user of it, and the operational database itself."""
    with account_server(ops_db_url, ops_workdir) as server:
        other = provision(accounts_settings(ops_workdir, ops_db_url), Role.PROFESSIONAL)
        database = OpsDatabase.open(server.credentials.settings.ops_db)
        try:
            yield server, other, database
        finally:
            database.close()


def _three_firings(
    server: AccountServer, database: OpsDatabase, tmp_path: Path
) -> tuple[list[dict[str, Any]], list[int]]:
    """Two rules made over HTTP, three firings recorded by evaluations (USDC falls, recovers,
    falls again): the rules, and the ids of the newest evaluation's firings."""
    webhook = {"type": "webhook", "url": "https://example.com/hook"}
    with server.client() as http:
        created = [
            http.post("/alerts/rules", json=body).json()
            for body in (
                {
                    "target": {"kind": "asset", "asset_id": "usdc"},
                    "condition": {"kind": "price", "direction": "below", "level": 0.995},
                    "channels": [webhook],
                    "cooldown_minutes": 0,
                },
                {
                    "target": {"kind": "asset_class", "asset_class": "stablecoin"},
                    "condition": {"kind": "peg_deviation", "threshold_bps": 50},
                    "cooldown_minutes": 180,  # quiet when USDC falls again 2 hours later
                },
            )
        ]
    with DuckDBStore(tmp_path / "serving.duckdb") as store:
        store.migrate()
        load_alert_data(store)
        first = evaluate(store, database.sessions, NOW)
        store.upsert_ohlcv(hourly("usdc", [1.0], last=LAST_BAR + HOUR))
        evaluate(store, database.sessions, NOW + HOUR)
        store.upsert_ohlcv(hourly("usdc", [0.99], last=LAST_BAR + 2 * HOUR))
        last = evaluate(store, database.sessions, NOW + 2 * HOUR)
    assert (len(first.fired), len(last.fired)) == (2, 1)

    return created, last.fired


def _announced(
    database: OpsDatabase, listed: list[dict[str, Any]], price: int, user_id: int
) -> None:
    # Each firing was announced in its transaction: its event for the owner, a notification
    # for each channel of its rule.
    with database.sessions() as session:
        events = session.scalars(select(Event).where(Event.type == "alert_triggered")).all()
        assert sorted(e.payload["id"] for e in events) == sorted(f["id"] for f in listed)
        assert {e.user_id for e in events} == {user_id}
        notified = session.scalars(select(Notification.firing_id)).all()
        assert sorted(notified) == sorted(f["id"] for f in listed if f["rule_id"] == price)


def test_firings_are_listed_newest_first_filtered_and_only_to_their_owner(
    running: tuple[AccountServer, ApiCredentials, OpsDatabase], tmp_path: Path
) -> None:
    server, other, database = running
    created, newest_ids = _three_firings(server, database, tmp_path)
    price, peg = (rule["id"] for rule in created)

    with server.client() as http:
        page = http.get("/alerts/firings").json()
        assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
        listed = page["firings"]
        assert [f["rule_id"] for f in listed] == [price, peg, price]
        newest = listed[0]
        assert newest["id"] == newest_ids[0]
        assert newest["rule_name"] == created[0]["name"]
        assert (newest["asset_id"], newest["condition_kind"]) == ("usdc", "price")
        assert newest["observed"]["price"] == pytest.approx(0.99)
        assert newest["data_ts"].startswith((DATA_TS + 2 * HOUR).isoformat()[:19])

        only_peg = http.get("/alerts/firings", params={"rule_id": peg}).json()
        assert [f["rule_id"] for f in only_peg["firings"]] == [peg]
        later = http.get("/alerts/firings", params={"since": (NOW + HOUR).isoformat()}).json()
        assert [f["id"] for f in later["firings"]] == newest_ids
        paged = http.get("/alerts/firings", params={"limit": 1, "offset": 1}).json()
        assert (paged["total"], len(paged["firings"])) == (3, 1)

        for params, field in (({"limit": 501}, "limit"), ({"since": "soon"}, "since")):
            answer = http.get("/alerts/firings", params=params)
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"][0]["loc"] == ["query", field]

    with server.client(other.headers) as http:
        theirs = http.get("/alerts/firings", params={"rule_id": price}).json()
        assert (theirs["total"], theirs["firings"]) == (0, [])
    with server.client({}) as http:
        assert http.get("/alerts/firings").status_code == 401

    _announced(database, listed, price, server.credentials.user_id)
