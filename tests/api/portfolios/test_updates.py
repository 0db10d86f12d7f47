"""``portfolio_update`` events after a serving load (:mod:`api.after_load`), on SQLite and
PostgreSQL: a load that changes a held asset's close publishes exactly one event per affected
portfolio, to its owner only; a replayed load publishes none, nor does a new bar at the same
close; a portfolio that sold the asset, or holds only other assets, hears nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import delete, select

from api.accounts.database import OpsDatabase
from api.accounts.principal import Principal, Role, Scope
from api.after_load import after_serving_load
from api.events.bus import EventMessage, EventType
from api.events.tables import Event
from api.portfolios.tables import Portfolio, PortfolioTransaction
from api.push.access import may_see
from pipelines.core.settings import Settings
from pipelines.reference import get_reference_asset
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.accounts.conftest import ops_db_url
from tests.fixtures.accounts import accounts_settings, open_accounts, provision
from tests.fixtures.sample_data import flat_bars

__all__ = ["ops_db_url"]

DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
#: Daily closes of the two served assets (the last is the latest price).
CLOSES = {"btc": [60_000.0, 61_000.0], "usdc": [1.0, 0.999]}


def daily(asset_id: str, closes: list[float], first: dt.datetime = START) -> pa.Table:
    return flat_bars(asset_id, closes, resolution="1d", start=first, step=DAY)


def serve(path: Path, table: pa.Table) -> None:
    """A load of ``table`` into the store (as ``rwa load`` writes it)."""
    store = DuckDBStore(path)
    try:
        store.migrate()
        store.upsert_ohlcv(table)
    finally:
        store.close()


@dataclass(frozen=True)
class Owners:
    settings: Settings
    database: OpsDatabase
    store: Path
    alice: int
    bob: int
    #: Portfolio ids by name.
    portfolios: dict[str, int]


def buy(asset_id: str, quantity: str, price: str, day: int) -> PortfolioTransaction:
    return PortfolioTransaction(
        kind="buy",
        asset_id=asset_id,
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(0),
        executed_at=START + day * DAY,
    )


def holdings(database: OpsDatabase, alice: int, bob: int) -> dict[str, int]:
    """Alice: btc (and usdc), and usdc only; Bob: btc, and btc sold again."""
    sold = buy("btc", "1", "60000", 0)
    sold.kind, sold.price, sold.executed_at = "sell", Decimal(61_000), START + DAY
    books = {
        "alice-btc": (alice, [buy("btc", "0.5", "59000", 0), buy("usdc", "100", "1", 0)]),
        "alice-usdc": (alice, [buy("usdc", "250", "1", 0)]),
        "bob-btc": (bob, [buy("btc", "2", "60000", 0)]),
        "bob-sold": (bob, [buy("btc", "1", "60000", 0), sold]),
    }
    ids: dict[str, int] = {}
    with database.sessions() as session:
        for name, (owner, trades) in books.items():
            portfolio = Portfolio(user_id=owner, name=name, cost_method="fifo", currency="USD")
            session.add(portfolio)
            session.flush()
            for trade in trades:
                trade.portfolio_id = portfolio.id
                session.add(trade)
            ids[name] = portfolio.id
        session.commit()
    return ids


@pytest.fixture(scope="module")
def owners(ops_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Owners]:
    workdir = tmp_path_factory.mktemp("portfolio-updates")
    store = workdir / "serving.duckdb"
    serve(store, pa.concat_tables([daily(a, c) for a, c in CLOSES.items()]))
    warm = DuckDBStore(store)
    try:
        warm.upsert_assets([get_reference_asset(a) for a in CLOSES])
    finally:
        warm.close()
    settings = accounts_settings(workdir, ops_db_url).updated(
        serving_backend="duckdb", duckdb_path=store
    )
    alice = provision(settings, Role.PROFESSIONAL).user_id
    bob = provision(settings, Role.EXPLORER).user_id
    accounts = open_accounts(settings)
    try:
        ids = holdings(accounts.database, alice, bob)
        yield Owners(settings, accounts.database, store, alice, bob, ids)
    finally:
        accounts.close()


def load(owners: Owners) -> list[Event]:
    """What follows a load; the ``portfolio_update`` events it published."""
    with owners.database.sessions() as session:
        before = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
    report = after_serving_load(owners.settings)
    with owners.database.sessions() as session:
        published = list(
            session.scalars(
                select(Event)
                .where(Event.id > before, Event.type == EventType.PORTFOLIO_UPDATE.value)
                .order_by(Event.id)
            )
        )
    assert report.portfolio_updates == len(published)
    return published


def by_portfolio(owners: Owners, events: list[Event]) -> dict[str, Event]:
    names = {i: name for name, i in owners.portfolios.items()}
    found = {names[int(e.payload["portfolio_id"])]: e for e in events}
    assert len(found) == len(events), "one event per portfolio"
    return found


def reader(user_id: int, role: Role = Role.ADMIN) -> Principal:
    return Principal(user_id=user_id, role=role, scopes=frozenset(Scope), api_key_id=None)


def test_the_first_load_announces_every_holding_portfolio_once(owners: Owners) -> None:
    first = by_portfolio(owners, load(owners))
    # bob-sold holds no btc any more: its value does not move with btc's price.
    assert sorted(first) == ["alice-btc", "alice-usdc", "bob-btc"]
    payload: dict[str, Any] = first["alice-btc"].payload
    assert set(payload) == {
        "portfolio_id",
        "currency",
        "value",
        "unrealized_pnl",
        "total_pnl",
        "as_of",
    }
    assert Decimal(payload["value"]) == pytest.approx(
        Decimal("0.5") * 61_000 + 100 * Decimal("0.999")
    )
    assert load(owners) == []  # a replay: nothing changed


def test_a_changed_close_reaches_each_affected_owner_once_and_nobody_else(
    owners: Owners,
) -> None:
    load(owners)  # whatever the module's earlier tests left unannounced
    serve(owners.store, daily("btc", [62_500.0], START + 2 * DAY))
    changed = by_portfolio(owners, load(owners))
    assert sorted(changed) == ["alice-btc", "bob-btc"]
    alice, bob = changed["alice-btc"], changed["bob-btc"]
    assert (alice.user_id, bob.user_id) == (owners.alice, owners.bob)
    assert Decimal(bob.payload["value"]) == 125_000
    assert Decimal(bob.payload["unrealized_pnl"]) == 5_000
    assert bob.payload["as_of"].startswith((START + 2 * DAY).date().isoformat())
    # The push streams' rule: the owner sees it; another user, even an admin, does not.
    assert may_see(reader(owners.bob, Role.EXPLORER), _visible(bob))
    assert not may_see(reader(owners.alice), _visible(bob))
    assert not may_see(reader(owners.bob), _visible(alice))
    assert load(owners) == []  # replayed
    # A new bar at the same close: a price update, but no portfolio changed value.
    serve(owners.store, daily("btc", [62_500.0], START + 3 * DAY))
    assert load(owners) == []


def test_an_update_lost_to_retention_is_announced_again(owners: Owners) -> None:
    load(owners)
    with owners.database.sessions() as session:
        session.execute(delete(Event).where(Event.type == EventType.PORTFOLIO_UPDATE.value))
        session.commit()
    serve(owners.store, daily("usdc", [0.998], START + 3 * DAY))
    assert sorted(by_portfolio(owners, load(owners))) == ["alice-btc", "alice-usdc"]


@dataclass(frozen=True)
class _Seen:
    type: EventType
    user_id: int | None
    resolution: str | None


def _visible(event: Event) -> _Seen:
    message = EventMessage.of(event)
    return _Seen(message.type, event.user_id, None)
