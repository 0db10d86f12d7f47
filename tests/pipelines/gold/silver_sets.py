"""Silver-shaped Delta tables for the gold tests, written directly (not by the silver steps).

The price set is realistic in shape: several assets over several weeks; ``btc`` has 1h bars
throughout plus 1m bars on its last days (a finer feed that must win there), ``ousg`` trades
on weekdays only with thin hours (zero-volume bars), ``paxg`` has 1h bars every day, some
without a volume (a source that publishes none, as CoinGecko's OHLC endpoint): all of day
:data:`NO_VOLUME_DAY` and a few scattered hours.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from pipelines.contracts.silver import ECONOMIC, NEWS, ONCHAIN, PRICES, TRANSFERS
from pipelines.core.settings import Settings
from pipelines.ingestion.evm.logs import ZERO_ADDRESS

FIRST_DAY = dt.date(2026, 1, 1)
DAYS = 40
#: Days at the end of the span on which btc also has 1m bars.
MINUTE_DAYS = 3
#: The last day offset with a btc on-chain row: its feed stops there (later days go stale).
BTC_ONCHAIN_LAST = 30
#: The day paxg's bars have no volume at all; other days lose it on a share of the hours.
NO_VOLUME_DAY = FIRST_DAY + dt.timedelta(days=10)
SCATTERED_NO_VOLUME = 0.02

_LINEAGE = {"ingest_id": "test-ingest", "bronze_file": "bronze/test.jsonl"}


def _bars(
    asset_id: str,
    resolution: str,
    start: dt.date,
    days: int,
    seed: int,
    *,
    price: float,
    without_volume: bool = False,
) -> pd.DataFrame:
    minutes = {"1m": 1, "1h": 60}[resolution]
    rng = np.random.default_rng(seed)
    ts = pd.date_range(
        pd.Timestamp(start, tz="UTC"), periods=days * 1440 // minutes, freq=f"{minutes}min"
    )
    step_vol = 0.02 * np.sqrt(minutes / 1440)
    close = price * np.exp(np.cumsum(rng.normal(0, step_vol, len(ts))))
    open_ = np.concatenate([[price], close[:-1]])
    volume = rng.lognormal(2, 1, len(ts)) * (rng.uniform(size=len(ts)) > 0.1)  # 10 % zero
    trades = rng.integers(0, 20, len(ts)).astype("float")
    trades[rng.uniform(size=len(ts)) < 0.05] = np.nan  # some bars without a trade count
    if without_volume:  # drawn last, so the other columns are those of the same seed without
        unknown = (ts.date == NO_VOLUME_DAY) | (rng.uniform(size=len(ts)) < SCATTERED_NO_VOLUME)
        volume = np.where(unknown, np.nan, volume)
    return pd.DataFrame(
        {
            "date": ts.date,
            "asset_id": asset_id,
            "resolution": resolution,
            "ts": ts,
            "open": open_,
            "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, len(ts))),
            "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, len(ts))),
            "close": close,
            "volume": volume,
            "trades": pd.array(trades, dtype="Int64"),
            "symbol_id": f"TEST_{asset_id.upper()}",
            "source": "simulated",
            "fetched_at": ts + pd.Timedelta(minutes=5),
            **_LINEAGE,
        }
    )


def silver_prices_frame() -> pd.DataFrame:
    """The multi-asset price set described in the module docstring."""
    minute_start = FIRST_DAY + dt.timedelta(days=DAYS - MINUTE_DAYS)
    ousg = _bars("ousg", "1h", FIRST_DAY, DAYS, 2, price=105.0)
    ousg = ousg[pd.to_datetime(ousg["date"]).dt.weekday < 5]
    return pd.concat(
        [
            _bars("btc", "1h", FIRST_DAY, DAYS, 1, price=90_000.0),
            _bars("btc", "1m", minute_start, MINUTE_DAYS, 11, price=95_000.0),
            ousg,
            _bars("paxg", "1h", FIRST_DAY, DAYS, 3, price=2_600.0, without_volume=True),
        ],
        ignore_index=True,
    )


#: The silver tables' declared schemas (docs/data-model.md): the sets are built to the contract.
PRICES_SCHEMA = PRICES.schema
ONCHAIN_SCHEMA = ONCHAIN.schema
ECONOMIC_SCHEMA = ECONOMIC.schema
NEWS_SCHEMA = NEWS.schema
TRANSFERS_SCHEMA = TRANSFERS.schema


def write_silver(settings: Settings, name: str, frame: pd.DataFrame, schema: pa.Schema) -> str:
    """Write ``frame`` as ``silver/<name>`` (replacing it); declared columns the frame does not
    fill are null. Returns the table URI."""
    uri = settings.lake.uri("silver", name)
    table = silver_table(frame, schema)
    partition = "year" if "year" in schema.names else "date"
    write_deltalake(uri, table, mode="overwrite", partition_by=[partition])
    return uri


def silver_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``frame`` in ``schema``: its columns in order, missing ones null."""
    return pa.Table.from_pandas(frame.reindex(columns=schema.names), preserve_index=False).cast(
        schema
    )


def _utc(day: dt.date, hour: int = 0) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC))


def silver_onchain_frame() -> pd.DataFrame:
    """Two sources for paxg and ousg on every day (ousg: only one of them publishes NAV, the
    other fetched later but missing some metrics), one source for btc on every other day
    until :data:`BTC_ONCHAIN_LAST`."""
    rng = np.random.default_rng(5)
    rows = []
    for offset in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=offset)
        for asset_id, sources in (("paxg", ("alpha", "beta")), ("ousg", ("alpha", "beta"))):
            for lag_h, source in enumerate(sources, start=1):
                rows.append(
                    {
                        "date": day,
                        "asset_id": asset_id,
                        "source": source,
                        "ts": _utc(day),
                        # beta fetches later (lag 2 h vs 1 h, except every 5th day)
                        "fetched_at": _utc(
                            day + dt.timedelta(days=1), lag_h if offset % 5 else 3 - lag_h
                        ),
                        "holders": int(rng.integers(1_000, 2_000)),
                        "transfer_count": None
                        if source == "beta" and offset % 3 == 0
                        else int(rng.integers(10, 100)),
                        "transfer_volume_usd": float(rng.uniform(1e5, 1e6)),
                        "total_supply": float(rng.uniform(1e6, 2e6)),
                        "dex_liquidity_usd": None
                        if source == "alpha"
                        else float(rng.uniform(1e4, 1e5)),
                        "exchange_inflow_usd": float(rng.uniform(0, 1e5)),
                        "exchange_outflow_usd": None
                        if offset % 7 == 0
                        else float(rng.uniform(0, 1e5)),
                        "nav_usd": (105.0 + offset * 0.01)
                        if (asset_id == "ousg" and source == "alpha")
                        else None,
                        "tvl_usd": float(rng.uniform(1e8, 2e8)),
                        "circulating_usd": float(rng.uniform(1e8, 2e8)),
                    }
                )
        if offset % 2 == 0 and offset <= BTC_ONCHAIN_LAST:
            rows.append(
                {
                    "date": day,
                    "asset_id": "btc",
                    "source": "alpha",
                    "ts": _utc(day),
                    "fetched_at": _utc(day + dt.timedelta(days=1)),
                    "holders": 50_000_000,
                    "transfer_count": 400_000,
                    "transfer_volume_usd": 1e10,
                    "total_supply": 2e7,
                    "dex_liquidity_usd": None,
                    "exchange_inflow_usd": 1e9,
                    "exchange_outflow_usd": 9e8,
                    "nav_usd": None,
                    "tvl_usd": None,
                    "circulating_usd": 1.8e12,
                }
            )
    return pd.DataFrame(rows).assign(**_LINEAGE)


def silver_economic_frame() -> pd.DataFrame:
    """FRED DFF daily (published the next day, no value on 2026-01-19), DTB3 on business days,
    FRED CPIAUCSL monthly
    (published mid next month: January's value only on 2026-02-12, after the last price day),
    and World Bank annual inflation for the USA and Switzerland."""
    rows = []

    def add(
        series: str,
        region: str,
        source: str,
        obs: dt.date,
        value: float | None,
        known: dt.date,
        frequency: str,
    ) -> None:
        rows.append(
            {
                "year": obs.year,
                "series_id": series,
                "region": region,
                "observation_date": obs,
                "value": value,
                "frequency": frequency,
                "units": "percent",
                "realtime_start": known,
                "source": source,
                "fetched_at": _utc(known, 12),
            }
        )

    for offset in range(-10, DAYS + 5):
        obs = FIRST_DAY + dt.timedelta(days=offset)
        value = None if obs == dt.date(2026, 1, 19) else 4.0 + offset / 100
        add("DFF", "USA", "fred", obs, value, obs + dt.timedelta(days=1), "daily")
    for offset in range(-10, DAYS + 5):  # DTB3: business days, published the next day
        obs = FIRST_DAY + dt.timedelta(days=offset)
        if obs.weekday() < 5:
            add("DTB3", "USA", "fred", obs, 3.9 + offset / 200, obs + dt.timedelta(days=1), "daily")
    for month, value in ((10, 3.0), (11, 3.1), (12, 3.2), (13, 3.3)):
        obs = dt.date(2025 + month // 13, (month - 1) % 12 + 1, 1)
        known = dt.date(2025 + (month + 1) // 13, month % 12 + 1, 12)
        add("CPIAUCSL", "USA", "fred", obs, value, known, "monthly")
    add(
        "FP.CPI.TOTL.ZG",
        "USA",
        "worldbank",
        dt.date(2024, 1, 1),
        2.9,
        dt.date(2025, 7, 1),
        "annual",
    )
    add(
        "FP.CPI.TOTL.ZG",
        "USA",
        "worldbank",
        dt.date(2025, 1, 1),
        2.7,
        dt.date(2026, 1, 20),
        "annual",
    )
    add(
        "FP.CPI.TOTL.ZG",
        "CHE",
        "worldbank",
        dt.date(2025, 1, 1),
        0.6,
        dt.date(2025, 12, 1),
        "annual",
    )
    return pd.DataFrame(rows).assign(**_LINEAGE)


def silver_news_frame() -> pd.DataFrame:
    """A few articles a day from three outlets, naming one or two assets (or none)."""
    rng = np.random.default_rng(7)
    names = [["btc"], ["paxg"], ["ousg"], ["btc", "paxg"], []]
    rows = []
    for offset in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=offset)
        for n in range(int(rng.integers(0, 5))):
            published = _utc(day, int(rng.integers(0, 24)))
            rows.append(
                {
                    "date": day,
                    "article_id": f"a{offset:02d}-{n}",
                    "published_at": published,
                    "title": f"story {offset}-{n}",
                    "outlet": ["Wire", "Daily", "Chain"][int(rng.integers(0, 3))],
                    "asset_ids": names[int(rng.integers(0, len(names)))],
                    "source": "simulated",
                    "fetched_at": published + pd.Timedelta(hours=1),
                }
            )
    return pd.DataFrame(rows).assign(**_LINEAGE)


#: Transfer logs: the day a page over ousg's blocks was re-read after a reorg (its first log
#: moved to another place, its last one orphaned), and the day one of paxg's logs came back
#: ``removed``.
REORG_DAY = FIRST_DAY + dt.timedelta(days=6)
REMOVED_DAY = FIRST_DAY + dt.timedelta(days=9)
_HOLDERS = [f"0x{n:040x}" for n in range(1, 7)]
_DECIMALS = {"paxg": 18, "ousg": 18, "usdc": 6}


def _transfer_page(
    asset_id: str, day: dt.date, offset: int, moves: list[tuple[str, str, int]], fetch_h: int
) -> list[dict[str, object]]:
    """One page's rows: its range row and a log row per move, in blocks of ``day``."""
    first = 1_000 * offset
    page = {
        "date": day,
        "chain": "ethereum",
        "contract_address": "0x" + asset_id.encode().hex().rjust(40, "0"),
        "asset_id": asset_id,
        "decimals": _DECIMALS[asset_id],
        "source": "simulated",
        "fetched_at": _utc(day + dt.timedelta(days=1), fetch_h),
        "ingest_id": f"page-{asset_id}-{offset}-{fetch_h}",
        "bronze_file": "bronze/test.jsonl",
    }
    rows: list[dict[str, object]] = [
        page
        | {
            "block_number": first,
            "log_index": -1,
            "range_to": first + 999,
            "block_ts": _utc(day),
        }
    ]
    for index, (sender, receiver, amount) in enumerate(moves):
        rows.append(
            page
            | {
                "block_number": first + 10 * index,
                "log_index": index,
                "block_ts": _utc(day, 1 + index % 20),
                "block_hash": f"0x{first + 10 * index:064x}",
                "tx_hash": f"0x{fetch_h:02x}{first + index:062x}",
                "from_address": sender,
                "to_address": receiver,
                "amount_raw": Decimal(amount),
                "removed": False,
            }
        )
    return rows


def silver_transfers_frame() -> pd.DataFrame:
    """Logs of paxg and ousg every third day and of usdc (no feed, no prices) on a few days:
    mints, burns and transfers between six holders that sometimes empty their balance; plus a
    reorg re-read and a removed log (see :data:`REORG_DAY`)."""
    rng = np.random.default_rng(11)
    rows: list[dict[str, object]] = []
    balances: dict[str, dict[str, int]] = {}
    for offset in range(0, DAYS, 3):
        day = FIRST_DAY + dt.timedelta(days=offset)
        for asset_id in ("paxg", "ousg", "usdc") if offset < 12 else ("paxg", "ousg"):
            held = balances.setdefault(asset_id, {})
            unit = 10 ** _DECIMALS[asset_id]
            moves = [(ZERO_ADDRESS, str(rng.choice(_HOLDERS)), int(rng.integers(1, 500)) * unit)]
            for sender in sorted(a for a, b in held.items() if b > 0)[:3]:
                whole = rng.random() < 0.3  # an address that empties its balance stops holding
                amount = held[sender] if whole else held[sender] // 3
                receiver = ZERO_ADDRESS if rng.random() < 0.3 else str(rng.choice(_HOLDERS))
                moves.append((sender, receiver, amount))
            for sender, receiver, amount in moves:
                held[sender] = held.get(sender, 0) - amount
                held[receiver] = held.get(receiver, 0) + amount
            rows += _transfer_page(asset_id, day, offset, moves, fetch_h=1)
    # The re-read of ousg's page: one log where the first was (a MERGE replaces it), none where
    # the others were; the newer range row makes gold drop those orphans and undo their effect.
    reorg = (REORG_DAY - FIRST_DAY).days
    rows += _transfer_page("ousg", REORG_DAY, reorg, [(ZERO_ADDRESS, _HOLDERS[5], 7 * 10**18)], 5)
    removed = next(
        r
        for r in rows
        if r["asset_id"] == "paxg" and r["date"] == REMOVED_DAY and r["log_index"] == 1
    )
    removed["removed"] = True
    key = list(TRANSFERS.keys)
    return pd.DataFrame(rows).drop_duplicates(key, keep="last").reset_index(drop=True)


def write_all_silver(settings: Settings) -> None:
    """Every silver table gold reads, from the frames above."""
    write_silver(settings, "prices", silver_prices_frame(), PRICES_SCHEMA)
    write_silver(settings, "onchain", silver_onchain_frame(), ONCHAIN_SCHEMA)
    write_silver(settings, "economic", silver_economic_frame(), ECONOMIC_SCHEMA)
    write_silver(settings, "news", silver_news_frame(), NEWS_SCHEMA)
    write_silver(settings, "transfers", silver_transfers_frame(), TRANSFERS_SCHEMA)
