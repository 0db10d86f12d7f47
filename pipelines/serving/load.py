"""Loading the lake into the serving store: every gold table that is built, plus
``silver/economic``, as idempotent upserts; then the weekly aggregate and intraday retention.

The source tables and columns are those of ``docs/data-model.md``. The store keys every time
series on ``ts``, so a gold ``date`` (or silver ``observation_date``) becomes midnight UTC of
that day, and a few columns take their served names (see :data:`SOURCES`). Loading the same
lake twice leaves the store as loading it once; rows unchanged since the last load are not
rewritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts.served import INTRADAY_RESOLUTIONS, LOADED_RESOLUTIONS, UTC_TS
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.serving.store import RetentionResult, ServingStore

#: Rows per upsert: bounds the staging memory of either store on large tables. An upsert holds
#: its rows several times over on the driver (the lake's batch, the served shape, the fresh and
#: the stored parts) besides what the store's engine makes of them; a reload of rows the store
#: holds (every load after the first) upserts them all, through a join of the batch with the
#: stored rows. Reloading 16x the demo's hourly bars (233k) into a DuckDB store that held them
#: peaked 78 MB above the store's opening with 200k rows per upsert, 18 MB with 50k, in the same
#: time (0.4 s); the first load took as long (0.7-0.8 s), 25k made it slower (1.1 s) for no less
#: memory (docs/benchmarks.md, session 19).
BATCH_ROWS = 50_000

Upsert = Callable[[ServingStore, pa.Table], int]


@dataclass(frozen=True, slots=True)
class Source:
    """One lake table the store serves: ``layer/name``, the store method that upserts it, and
    the columns renamed on the way (lake name -> served name). A ``date`` column named in
    ``renames`` becomes a UTC midnight time stamp."""

    layer: str
    name: str
    upsert: Upsert
    renames: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_ohlcv(self) -> bool:
        return self.name.startswith("ohlcv_")

    @property
    def label(self) -> str:
        return f"{self.layer}/{self.name}"

    def uri(self, paths: LakePaths) -> str:
        return paths.gold(self.name) if self.layer == "gold" else paths.silver(self.name)


_DAY_TO_TS = {"date": "ts"}

#: What :func:`load_gold` loads, in order. ``gold/macro_asof`` is not served: the API serves
#: the macro series themselves (``silver/economic``), and macro_asof is their per-asset
#: alignment for models, which read it from the lake.
SOURCES: tuple[Source, ...] = (
    *(
        Source("gold", f"ohlcv_{resolution}", lambda store, rows: store.upsert_ohlcv(rows))
        for resolution in LOADED_RESOLUTIONS
    ),
    Source(
        "gold",
        "features_daily",
        lambda store, rows: store.upsert_features(rows),
        _DAY_TO_TS,
    ),
    Source(
        "gold",
        "onchain_daily",
        lambda store, rows: store.upsert_onchain(rows),
        _DAY_TO_TS,
    ),
    Source(
        "gold",
        "market_daily",
        lambda store, rows: store.upsert_market(rows),
        _DAY_TO_TS,
    ),
    Source(
        "gold",
        "sentiment_daily",
        lambda store, rows: store.upsert_sentiment(rows),
        {"date": "ts", "sentiment_confidence": "confidence"},
    ),
    Source(
        "gold",
        "predictions",
        lambda store, rows: store.upsert_predictions(rows),
    ),
    Source(
        "gold",
        "risk_scores",
        lambda store, rows: store.upsert_risk_scores(rows),
    ),
    Source(
        "gold",
        "signals",
        lambda store, rows: store.upsert_signals(rows),
    ),
    Source(
        "gold",
        "news_articles",
        lambda store, rows: store.upsert_news(rows),
        {"published_at": "ts"},
    ),
    Source(
        "silver",
        "economic",
        lambda store, rows: store.upsert_economic(rows),
        {"observation_date": "ts"},
    ),
)


@dataclass
class GoldLoadReport:
    """Rows upserted per source table (``gold/ohlcv_1h`` ...), the sources not built yet,
    the aggregates refreshed and what retention removed."""

    rows: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    retention: RetentionResult | None = None


def load_gold(
    store: ServingStore, lake: DeltaLake, paths: LakePaths, now: dt.datetime | None = None
) -> GoldLoadReport:
    """Upsert every built source of :data:`SOURCES` into the migrated ``store``, skipping (and
    reporting in ``missing``) those not built yet; then refresh the aggregates and apply
    intraday retention as of ``now`` (default: the current time). Intraday bars already
    older than the retention cutoff are not loaded at all."""
    now = now or dt.datetime.now(dt.UTC)
    cutoff = store.retention_cutoff(now)
    report = GoldLoadReport()
    for source in SOURCES:
        uri = source.uri(paths)
        if not lake.exists(uri):
            report.missing.append(source.label)
            continue
        # Read in bounded batches, never whole: the driver's memory does not grow with the lake.
        rows = (
            served_rows(pa.Table.from_batches([batch]), source, intraday_cutoff=cutoff)
            for batch in lake.batches(uri, batch_rows=BATCH_ROWS)
        )
        report.rows[source.label] = upsert_in_batches(store, source.upsert, rows)
    report.refreshed = store.refresh_aggregates()
    report.retention = store.apply_retention(now)
    return report


def served_rows(table: pa.Table, source: Source, *, intraday_cutoff: dt.datetime) -> pa.Table:
    """A lake table in the served shape: columns renamed (dates as UTC midnights) and, for
    OHLCV, intraday bars older than ``intraday_cutoff`` left out (retention would drop them)."""
    for old, new in source.renames.items():
        if old not in table.column_names:
            continue  # the store's schema check names what is missing
        column = table.column(old)
        if pa.types.is_date(column.type):
            column = column.cast(pa.timestamp("us")).cast(UTC_TS)
        table = table.set_column(table.column_names.index(old), new, column)
    if source.is_ohlcv and "resolution" in table.column_names:
        table = _without_expired_intraday(table, intraday_cutoff)
    return table


def _without_expired_intraday(bars: pa.Table, cutoff: dt.datetime) -> pa.Table:
    intraday = pc.is_in(bars.column("resolution"), pa.array(INTRADAY_RESOLUTIONS))
    expired = pc.and_(intraday, pc.less(bars.column("ts"), pa.scalar(cutoff, UTC_TS)))
    return bars.filter(pc.invert(expired))


def upsert_in_batches(
    store: ServingStore, upsert: Upsert, rows: pa.Table | Iterable[pa.Table]
) -> int:
    """``upsert`` of ``rows`` (a table, or a stream of tables of one schema) in upserts of
    :data:`BATCH_ROWS` rows (the last one fewer); returns rows loaded. Tables of the stream
    are sliced or gathered to that size, so the driver holds at most one upsert's rows plus
    one table of the stream."""
    loaded = 0
    for batch in _regrouped([rows] if isinstance(rows, pa.Table) else rows, BATCH_ROWS):
        loaded += upsert(store, batch)
    return loaded


def _regrouped(tables: Iterable[pa.Table], size: int) -> Iterator[pa.Table]:
    """The rows of ``tables`` in order, as tables of ``size`` rows (the last one fewer).

    Gathering matters as much as slicing: a lake table partitioned by date is read a file,
    so a day, at a time (648 hourly bars for the demo's 27 assets), in the Delta log's order,
    not in time order. Upserted one by one, each day cost a transaction and a look-up that
    scanned every row already stored (a store skips stored blocks by their time range only
    when the days come in order): the load grew with the square of the days. Slices share
    the tables' buffers; only the upsert's own staging copies them.
    """
    pending: list[pa.RecordBatch] = []
    held = 0
    schema: pa.Schema | None = None
    for table in tables:
        schema = table.schema
        for batch in table.to_batches():
            while batch.num_rows:
                take = min(size - held, batch.num_rows)
                pending.append(batch.slice(0, take))
                held += take
                batch = batch.slice(take)
                if held == size:
                    yield pa.Table.from_batches(pending, schema=schema)
                    pending, held = [], 0
    if held and schema is not None:
        yield pa.Table.from_batches(pending, schema=schema)
