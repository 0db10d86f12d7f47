"""The statements the SQL store runs: upserts and reads, in the SQL both engines speak.

What differs between DuckDB and TimescaleDB is passed in: the parameter marker (DuckDB takes
``?``, psycopg ``%s``) and, for the asset upsert, a cast of the JSON document. Table and column
names come from :mod:`pipelines.contracts.served`, never from a caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pyarrow as pa

from pipelines.contracts.measures import MARKET_COUNT_MEASURES
from pipelines.contracts.served import (
    AGGREGATE_FLOWS,
    AGGREGATE_STOCKS,
    AGGREGATED_RESOLUTION,
    ASSET_COLUMNS,
    ASSETS,
    INTRADAY_RESOLUTIONS,
    MARKET,
    OHLCV,
    OHLCV_INTRADAY,
    SENTIMENT,
    MarketGroup,
    MarketInterval,
    Resolution,
    ServedTable,
)
from pipelines.serving.rows import as_utc
from pipelines.serving.schema import WEEKLY_RELATION

#: Columns of an OHLCV read, in :class:`~pipelines.serving.store.OhlcvBar` order.
OHLCV_READ_COLUMNS = ("ts", *OHLCV.values)
#: Their Arrow schema (what ``ohlcv_table`` returns).
OHLCV_READ_SCHEMA = pa.schema([OHLCV.schema.field(name) for name in OHLCV_READ_COLUMNS])


def _assignments(columns: tuple[str, ...]) -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in columns)


def upsert_sql(table: ServedTable, source: str) -> str:
    """Upsert every row of the relation ``source`` (same column names) into ``table``.

    Rows identical to the stored ones are filtered out first (the NOT EXISTS): replaying a
    load, the common case of an idempotent pipeline, then reaches neither the insert path nor
    the conflict handling. In PostgreSQL that spares row versions, WAL and bloat, and on a
    compressed TimescaleDB chunk it avoids decompressing segments only to find them
    unchanged (reading a compressed chunk needs no decompression into the table). The
    DO UPDATE's WHERE keeps the same promise for rows a concurrent writer changed between.
    """
    columns = ", ".join(table.schema.names)
    stored = ", ".join(f"o.{c}" for c in table.values)
    staged = ", ".join(f"s.{c}" for c in table.values)
    same_key = " AND ".join(f"o.{c} = s.{c}" for c in table.key)
    current = ", ".join(f"{table.name}.{c}" for c in table.values)
    incoming = ", ".join(f"excluded.{c}" for c in table.values)
    return (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {source} AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} AS o WHERE {same_key} "
        f"AND ({stored}) IS NOT DISTINCT FROM ({staged})) "
        f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {_assignments(table.values)} "
        f"WHERE ({current}) IS DISTINCT FROM ({incoming})"
    )


def upsert_assets_sql(marker: str, doc_marker: str | None = None) -> str:
    """Upsert one asset: the main columns, then ``doc`` (``doc_marker`` lets a dialect cast)."""
    columns = (*ASSET_COLUMNS, "doc")
    markers = [marker] * len(ASSET_COLUMNS) + [doc_marker or marker]
    return (
        f"INSERT INTO {ASSETS} ({', '.join(columns)}) VALUES ({', '.join(markers)}) "
        f"ON CONFLICT (asset_id) DO UPDATE SET {_assignments(columns[1:])}"
    )


def select_assets_sql(marker: str, *, by_id: bool = False, by_class: bool = False) -> str:
    """``doc`` of the assets (as text), ordered by id, optionally filtered."""
    where = [f"asset_id = {marker}"] if by_id else []
    where += [f"asset_class = {marker}"] if by_class else []
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT CAST(doc AS TEXT) FROM {ASSETS}{clause} ORDER BY asset_id"


@dataclass(frozen=True, slots=True)
class RangeQuery:
    """A read of one series: ``columns`` of ``relation`` where every ``filters`` column
    equals its value and ``start <= time < end`` in its ``time`` column; with ``limit``, the
    newest ``limit`` rows. Built for the whole series (:func:`series_query`,
    :func:`ohlcv_query`), then narrowed with :meth:`within`."""

    relation: str
    columns: tuple[str, ...]
    filters: Mapping[str, object]
    time: str = "ts"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int | None = None

    def within(
        self, start: dt.datetime | None, end: dt.datetime | None, limit: int | None
    ) -> RangeQuery:
        """The same read over ``start <= time < end`` (naive bounds are UTC), newest
        ``limit`` rows."""
        return replace(self, start=as_utc(start), end=as_utc(end), limit=limit)

    def sql(self, marker: str) -> tuple[str, list[object]]:
        """The statement, ascending in time, and its parameters. With ``limit`` the rows are
        taken newest-first along the key index, then put back in time order."""
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")
        where = [f"{column} = {marker}" for column in self.filters]
        params: list[object] = list(self.filters.values())
        if self.start is not None:
            where.append(f"{self.time} >= {marker}")
            params.append(self.start)
        if self.end is not None:
            where.append(f"{self.time} < {marker}")
            params.append(self.end)
        inner = f"SELECT {', '.join(self.columns)} FROM {self.relation} WHERE {' AND '.join(where)}"
        if self.limit is None:
            return f"{inner} ORDER BY {self.time}", params
        params.append(self.limit)
        newest = f"{inner} ORDER BY {self.time} DESC LIMIT {marker}"
        return f"SELECT * FROM ({newest}) AS newest ORDER BY {self.time}", params


def series_query(table: ServedTable, key: Mapping[str, object]) -> RangeQuery:
    """The read of the series of ``table`` that ``key`` names: a value for each column of
    ``table.series_key``, no more and no less (ValueError otherwise)."""
    if set(key) != set(table.series_key):
        raise ValueError(
            f"a series of {table.name} is named by {list(table.series_key)}, got {list(key)}"
        )
    return RangeQuery(table.name, tuple(table.schema.names), dict(key), table.time_column)


def panel_query(
    table: ServedTable,
    asset_ids: Sequence[str],
    where: Mapping[str, object],
    start: dt.datetime | None,
    end: dt.datetime | None,
    marker: str,
) -> tuple[str, list[object]]:
    """The rows of ``table`` of several assets' series (``asset_id IN (...)``, the other
    series-key columns equal to ``where``'s values, ``start <= time < end``), by asset then
    time; ValueError unless ``where`` names exactly the series key's other columns."""
    others = tuple(c for c in table.series_key if c != "asset_id")
    if "asset_id" not in table.series_key or set(where) != set(others):
        raise ValueError(
            f"a panel of {table.name} is named by asset ids and {list(others)}, got {list(where)}"
        )
    time = table.time_column
    clauses = [f"asset_id IN ({', '.join([marker] * len(asset_ids))})"]
    params: list[object] = list(asset_ids)
    clauses += [f"{column} = {marker}" for column in others]
    params += [where[column] for column in others]
    for bound, operator in ((as_utc(start), ">="), (as_utc(end), "<")):
        if bound is not None:
            clauses.append(f"{time} {operator} {marker}")
            params.append(bound)
    columns = ", ".join(
        f"CAST({c} AS TEXT) AS {c}" if c in table.json_columns else c for c in table.schema.names
    )
    sql = (
        f"SELECT {columns} FROM {table.name} WHERE {' AND '.join(clauses)} "
        f"ORDER BY asset_id, {time}"
    )
    return sql, params


def newest_rows_sql(table: ServedTable, marker: str) -> str:
    """The rows of every series of ``table`` whose time is at most an interval (the one
    parameter) before the newest of their series, by series then time. The newest instant of
    each series is found on the key alone; JSON columns are cast to text, as other reads do."""
    key = table.series_key
    columns = ", ".join(
        f"CAST(t.{c} AS TEXT) AS {c}" if c in table.json_columns else f"t.{c}"
        for c in table.schema.names
    )
    joined = " AND ".join(f"t.{c} = n.{c}" for c in key)
    time = table.time_column
    return f"""
        WITH newest AS (
            SELECT {", ".join(key)}, max({time}) AS newest FROM {table.name}
            GROUP BY {", ".join(key)}
        )
        SELECT {columns} FROM {table.name} t JOIN newest n ON {joined}
        WHERE t.{time} >= n.newest - CAST({marker} AS INTERVAL)
        ORDER BY {", ".join(f"t.{c}" for c in key)}, t.{time}"""


def ohlcv_query(asset_id: str, resolution: Resolution) -> RangeQuery:
    """The read of the bars of one asset at ``resolution``: in ``ohlcv_intraday`` for 1m/5m,
    the weekly relation for 1w (one resolution only, so no filter on it), else ``ohlcv``.
    Tests EXPLAIN it to check chunk exclusion."""
    filters: dict[str, object] = {"asset_id": asset_id}
    if resolution == AGGREGATED_RESOLUTION:
        relation = WEEKLY_RELATION
    else:
        relation = OHLCV_INTRADAY.name if resolution in INTRADAY_RESOLUTIONS else OHLCV.name
        filters["resolution"] = resolution
    return RangeQuery(relation, OHLCV_READ_COLUMNS, filters)


def latest_predictions_sql(marker: str) -> str:
    """Rows of the newest run (``generated_at``, then model version) for one asset and
    horizon, by target date."""
    return f"""
        WITH mine AS (
            SELECT * FROM predictions WHERE asset_id = {marker} AND horizon_days = {marker}
        ), newest AS (
            SELECT generated_at, model_version FROM mine
            ORDER BY generated_at DESC, model_version DESC LIMIT 1
        )
        SELECT m.asset_id, m.horizon_days, m.generated_at, m.model_version, m.target_date,
               m.value, m.lower_80, m.upper_80, m.lower_95, m.upper_95
        FROM mine m JOIN newest n
          ON m.generated_at = n.generated_at AND m.model_version = n.model_version
        ORDER BY m.target_date"""


def forecast_summaries_sql(marker: str, *, by_class: bool) -> str:
    """Per asset: the last target day of its newest run at one horizon, and the daily close of
    the day before ``generated_at`` (the last bar the model saw), if served."""
    class_filter = f"AND a.asset_class = {marker}" if by_class else ""
    return f"""
        WITH runs AS (
            SELECT asset_id, horizon_days, generated_at, model_version,
                   MAX(target_date) AS last_target,
                   ROW_NUMBER() OVER (
                       PARTITION BY asset_id ORDER BY generated_at DESC, model_version DESC
                   ) AS newest
            FROM predictions WHERE horizon_days = {marker}
            GROUP BY asset_id, horizon_days, generated_at, model_version
        )
        SELECT p.asset_id, p.horizon_days, p.generated_at, p.model_version, p.target_date,
               p.value, p.lower_80, p.upper_80, p.lower_95, p.upper_95, o.close
        FROM runs r
        JOIN predictions p
          ON p.asset_id = r.asset_id AND p.horizon_days = r.horizon_days
         AND p.generated_at = r.generated_at AND p.model_version = r.model_version
         AND p.target_date = r.last_target
        JOIN assets a ON a.asset_id = p.asset_id
        LEFT JOIN ohlcv o
          ON o.asset_id = p.asset_id AND o.resolution = '1d'
         AND o.ts = p.generated_at - INTERVAL '1 day'
        WHERE r.newest = 1 {class_filter}
        ORDER BY p.asset_id"""


def latest_news_sql(marker: str) -> str:
    """Every row of the newest ``limit`` articles (an article is one row per asset it names),
    newest first."""
    return f"""
        WITH newest AS (
            SELECT article_id, max(ts) AS ts FROM news_articles
            GROUP BY article_id ORDER BY ts DESC, article_id LIMIT {marker}
        )
        SELECT n.asset_id, n.ts, n.article_id, n.title, n.url, n.outlet, n.sentiment_score,
               n.sentiment_label, n.model_version
        FROM news_articles n JOIN newest USING (article_id)
        ORDER BY n.ts DESC, n.article_id, n.asset_id"""


def latest_risk_scores_sql(marker: str, *, by_class: bool) -> str:
    """The newest row per asset (latest ``calculated_at``, then the greatest model version);
    JSON factors cast to text so both stores return the same type. The newest rows are found
    on the key columns alone and only their ``factors`` are cast: casting every stored
    document (a day of history per asset) before ranking was most of the read's time."""
    class_filter = f"AND a.asset_class = {marker}" if by_class else ""
    return f"""
        WITH ranked AS (
            SELECT asset_id, calculated_at, model_version,
                   ROW_NUMBER() OVER (
                       PARTITION BY asset_id ORDER BY calculated_at DESC, model_version DESC
                   ) AS newest
            FROM risk_scores
        )
        SELECT r.asset_id, r.calculated_at, r.model_version, r.composite_score, r.market_risk,
               r.credit_risk, r.regulatory_risk, r.technical_risk,
               CAST(r.factors AS TEXT) AS factors
        FROM ranked n
        JOIN risk_scores r
          ON r.asset_id = n.asset_id AND r.calculated_at = n.calculated_at
         AND r.model_version = n.model_version
        JOIN assets a ON a.asset_id = r.asset_id
        WHERE n.newest = 1 {class_filter}
        ORDER BY r.asset_id"""


def economic_regions_sql(marker: str) -> str:
    return (
        f"SELECT DISTINCT region FROM economic_indicators WHERE series_id = {marker} "
        "ORDER BY region"
    )


def count_sql(relation: str) -> str:
    return f"SELECT count(*) FROM {relation}"


def count_by_resolution_sql(relation: str) -> str:
    return f"SELECT resolution, count(*) FROM {relation} GROUP BY resolution"


# --- market analytics -----------------------------------------------------------------------

#: The ``assets`` column each market group is taken over ('all': one group of every asset).
MARKET_GROUP_COLUMNS: dict[MarketGroup, str] = {
    "asset_class": "a.asset_class",
    "network": "a.blockchain_network",
    "issuer": "a.issuer_name",
    "all": "'all'",
}


def market_day_sql(marker: str) -> str:
    """Every asset's ``market_daily`` row of one day, by asset."""
    return (
        f"SELECT {', '.join(MARKET.schema.names)} FROM {MARKET.name} "
        f"WHERE ts = {marker} ORDER BY asset_id"
    )


def market_latest_day_sql() -> str:
    return f"SELECT CAST(max(ts) AS DATE) FROM {MARKET.name}"


def _integer_sum(expression: str) -> str:
    # PostgreSQL sums BIGINTs into NUMERIC, DuckDB into HUGEINT: both back to BIGINT.
    return f"CAST({expression} AS BIGINT)"


def market_aggregates_sql(
    marker: str, by: MarketGroup, interval: MarketInterval, *, start: bool, end: bool
) -> str:
    """Market aggregates per bucket and group over ``start <= ts < end`` (a marker for each
    bound given). Each asset's stocks are those of its last row in the bucket, summed over the
    group apart for current and stale rows; its flows are summed over every row of the bucket
    (window sums over the asset's bucket, so no second pass over the rows)."""
    where = ["TRUE"]
    where += [f"m.ts >= {marker}"] if start else []
    where += [f"m.ts < {marker}"] if end else []
    integers = set(MARKET_COUNT_MEASURES)
    flows = ", ".join(
        f"sum({name}) OVER (PARTITION BY asset_id, bucket) AS flow_{name}"
        for name in AGGREGATE_FLOWS
    )

    def stock(name: str, stale: bool) -> str:
        total = f"sum({name}) FILTER (WHERE {'' if stale else 'NOT '}stale)"
        return _integer_sum(total) if name in integers else total

    def flow(name: str) -> str:
        total = f"sum(flow_{name})"
        return _integer_sum(total) if name in integers else total

    measures = ", ".join(
        [
            *(stock(name, False) for name in AGGREGATE_STOCKS),
            *(stock(name, True) for name in AGGREGATE_STOCKS),
            *(flow(name) for name in AGGREGATE_FLOWS),
        ]
    )
    return f"""
        WITH picked AS (
            SELECT m.*, date_trunc('{interval}', m.ts) AS bucket,
                   {MARKET_GROUP_COLUMNS[by]} AS grp
            FROM {MARKET.name} m JOIN {ASSETS} a ON a.asset_id = m.asset_id
            WHERE {" AND ".join(where)}
        ), ranked AS (
            SELECT picked.*, {flows},
                   ROW_NUMBER() OVER (PARTITION BY asset_id, bucket ORDER BY ts DESC) AS newest
            FROM picked
        )
        SELECT bucket, grp, CAST(max(ts) AS DATE),
               count(*) FILTER (WHERE NOT stale), count(*) FILTER (WHERE stale),
               {measures}
        FROM ranked WHERE newest = 1
        GROUP BY bucket, grp ORDER BY bucket, grp"""


def sentiment_means_sql(marker: str) -> str:
    """Per asset, the mean daily sentiment score and the articles over ``start <= ts < end``."""
    return f"""
        SELECT asset_id, avg(sentiment_score), {_integer_sum("sum(article_count)")}
        FROM {SENTIMENT.name} WHERE ts >= {marker} AND ts < {marker}
        GROUP BY asset_id ORDER BY asset_id"""
