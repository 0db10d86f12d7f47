"""SQL text shared by the DuckDB and TimescaleDB stores.

Both engines speak the same SQL for most of what the stores do: the same column types
(``DOUBLE PRECISION``, ``TIMESTAMPTZ``, ``UUID``, ``NUMERIC`` ...), ``INSERT ... ON CONFLICT``,
``time_bucket``. What differs is passed in: parameter markers (DuckDB takes ``?``, psycopg
``%s``), the JSON type (``JSON`` / ``JSONB``), referential actions DuckDB lacks, and the
first/last aggregates. Each store keeps only its own dialect's extras (hypertables, indexes,
policies).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipelines.serving.base import (
    AGGREGATED_RESOLUTION,
    INTRADAY_RESOLUTIONS,
    OHLCV,
    OHLCV_INTRADAY,
    RISK_SCORES,
    Resolution,
    ServedTable,
)

OHLCV_KEY = OHLCV.key
OHLCV_VALUES = OHLCV.values
OHLCV_COLUMNS = OHLCV_KEY + OHLCV_VALUES
#: Relation of the weekly bars derived from the daily ones.
WEEKLY_RELATION = "ohlcv_1w"

#: Columns of ``assets`` besides ``doc``, the full model as JSON: the ones worth filtering
#: or joining on in SQL. ``doc`` is what is read back, so a new model field needs no migration.
ASSET_COLUMNS = (
    "asset_id",
    "symbol",
    "name",
    "asset_class",
    "blockchain_network",
    "contract_address",
    "issuer_name",
)


# --- migrations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; applied once, in ``version`` order, and recorded in schema_migrations.

    Never edit a released migration: add a new one, since databases that already recorded a
    version will not run it again. ``licensed`` statements, when given, run instead of
    ``statements`` on TimescaleDB's Timescale-License build (continuous aggregates,
    compression, policies); every other engine and build runs ``statements``.
    """

    version: int
    name: str
    statements: tuple[str, ...]
    licensed: tuple[str, ...] | None = None

    def statements_for(self, *, licensed: bool) -> tuple[str, ...]:
        if licensed and self.licensed is not None:
            return self.licensed
        return self.statements


CREATE_MIGRATIONS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)"""
APPLIED_MIGRATIONS_SQL = "SELECT version FROM schema_migrations"


def record_migration_sql(marker: str) -> str:
    return f"INSERT INTO schema_migrations (version, name) VALUES ({marker}, {marker})"


def pending_migrations(
    migrations: tuple[Migration, ...], applied: Iterable[int]
) -> list[Migration]:
    """The migrations not yet recorded, in order; checks the list itself first."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and ascending: {versions}")
    done = set(applied)
    return [m for m in migrations if m.version not in done]


# --- DDL shared by both dialects ----------------------------------------------------------

#: Values of ``ohlcv.resolution``; 1m/5m live in ``ohlcv_intraday``.
OHLCV_RESOLUTION_CHECK = "ALTER TABLE ohlcv ADD CONSTRAINT ohlcv_resolution_check " + (
    "CHECK (resolution IN ('1h', '1d'))"
)


def market_tables_ddl() -> tuple[str, ...]:
    """Migration 3: the time-series tables besides ``ohlcv``. Primary keys are the natural
    keys and lead with the series (asset or macro series), then ``ts``: every read is one
    series over a time range, and every load upserts on exactly this key."""
    return (
        """CREATE TABLE ohlcv_intraday (
            asset_id   TEXT NOT NULL,
            resolution TEXT NOT NULL CHECK (resolution IN ('1m', '5m')),
            ts         TIMESTAMPTZ NOT NULL,
            open       DOUBLE PRECISION NOT NULL,
            high       DOUBLE PRECISION NOT NULL,
            low        DOUBLE PRECISION NOT NULL,
            close      DOUBLE PRECISION NOT NULL,
            volume     DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (asset_id, resolution, ts)
        )""",
        """CREATE TABLE onchain_metrics (
            asset_id              TEXT NOT NULL,
            ts                    TIMESTAMPTZ NOT NULL,
            holders               BIGINT,
            transfer_count        BIGINT,
            transfer_volume_usd   DOUBLE PRECISION,
            total_supply          DOUBLE PRECISION,
            dex_liquidity_usd     DOUBLE PRECISION,
            exchange_inflow_usd   DOUBLE PRECISION,
            exchange_outflow_usd  DOUBLE PRECISION,
            net_exchange_flow_usd DOUBLE PRECISION,
            nav_usd               DOUBLE PRECISION,
            tvl_usd               DOUBLE PRECISION,
            circulating_usd       DOUBLE PRECISION,
            premium_to_nav        DOUBLE PRECISION,
            PRIMARY KEY (asset_id, ts)
        )""",
        """CREATE TABLE asset_features (
            asset_id          TEXT NOT NULL,
            ts                TIMESTAMPTZ NOT NULL,
            close             DOUBLE PRECISION,
            return_1d         DOUBLE PRECISION,
            log_return_1d     DOUBLE PRECISION,
            realized_vol_7d   DOUBLE PRECISION,
            realized_vol_30d  DOUBLE PRECISION,
            drawdown          DOUBLE PRECISION,
            max_drawdown_30d  DOUBLE PRECISION,
            dollar_volume     DOUBLE PRECISION,
            amihud_30d        DOUBLE PRECISION,
            zero_volume_share DOUBLE PRECISION,
            hl_range          DOUBLE PRECISION,
            PRIMARY KEY (asset_id, ts)
        )""",
        """CREATE TABLE economic_indicators (
            series_id      TEXT NOT NULL,
            region         TEXT NOT NULL,
            ts             TIMESTAMPTZ NOT NULL,
            value          DOUBLE PRECISION,
            frequency      TEXT,
            units          TEXT,
            realtime_start DATE,
            PRIMARY KEY (series_id, region, ts)
        )""",
        """CREATE TABLE sentiment_scores (
            asset_id        TEXT NOT NULL,
            ts              TIMESTAMPTZ NOT NULL,
            article_count   INTEGER NOT NULL CHECK (article_count >= 0),
            sentiment_score DOUBLE PRECISION CHECK (sentiment_score BETWEEN -1 AND 1),
            confidence      DOUBLE PRECISION,
            positive_share  DOUBLE PRECISION,
            negative_share  DOUBLE PRECISION,
            model_version   TEXT,
            PRIMARY KEY (asset_id, ts)
        )""",
    )


def relational_tables_ddl(json_type: str, on_delete_cascade: str) -> tuple[str, ...]:
    """Migration 4: the relational tables of the product schema (seed ``004``), with our
    conventions: ``asset_id`` is the TEXT slug of ``assets``; prices and model outputs are
    DOUBLE PRECISION (the lake's type, so loads round-trip exactly); user holdings are
    NUMERIC (exact, as entered); natural keys instead of surrogate ids where rows come from
    the pipeline, so reloading a model run replaces it instead of duplicating it.

    ``on_delete_cascade`` is the referential action of rows owned by a user (DuckDB has none).
    """
    return (
        """CREATE TABLE users (
            user_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            email         TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            tier          TEXT NOT NULL
                          CHECK (tier IN ('explorer', 'professional', 'enterprise')),
            totp_secret   TEXT,
            created_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
            updated_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
        )""",
        # Key order serves the reads: one asset and horizon, the newest run, its path.
        """CREATE TABLE predictions (
            asset_id      TEXT NOT NULL REFERENCES assets (asset_id),
            horizon_days  INTEGER NOT NULL CHECK (horizon_days > 0),
            generated_at  TIMESTAMPTZ NOT NULL,
            model_version TEXT NOT NULL,
            target_date   DATE NOT NULL,
            value         DOUBLE PRECISION NOT NULL,
            lower_80      DOUBLE PRECISION,
            upper_80      DOUBLE PRECISION,
            lower_95      DOUBLE PRECISION,
            upper_95      DOUBLE PRECISION,
            PRIMARY KEY (asset_id, horizon_days, generated_at, model_version, target_date)
        )""",
        f"""CREATE TABLE risk_scores (
            asset_id        TEXT NOT NULL REFERENCES assets (asset_id),
            calculated_at   TIMESTAMPTZ NOT NULL,
            model_version   TEXT NOT NULL,
            composite_score INTEGER NOT NULL CHECK (composite_score BETWEEN 1 AND 100),
            market_risk     INTEGER CHECK (market_risk BETWEEN 1 AND 100),
            credit_risk     INTEGER CHECK (credit_risk BETWEEN 1 AND 100),
            regulatory_risk INTEGER CHECK (regulatory_risk BETWEEN 1 AND 100),
            technical_risk  INTEGER CHECK (technical_risk BETWEEN 1 AND 100),
            factors         {json_type},
            PRIMARY KEY (asset_id, calculated_at, model_version)
        )""",
        f"""CREATE TABLE portfolios (
            portfolio_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id            UUID NOT NULL REFERENCES users (user_id) {on_delete_cascade},
            asset_id           TEXT NOT NULL REFERENCES assets (asset_id),
            quantity           NUMERIC(38, 18) NOT NULL CHECK (quantity >= 0),
            avg_purchase_price NUMERIC(38, 18),
            wallet_address     TEXT,
            created_at         TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
            updated_at         TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
        )""",
        f"""CREATE TABLE alerts (
            alert_id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id             UUID NOT NULL REFERENCES users (user_id) {on_delete_cascade},
            asset_id            TEXT NOT NULL REFERENCES assets (asset_id),
            condition_type      TEXT NOT NULL,
            condition_value     {json_type} NOT NULL,
            notification_method TEXT NOT NULL
                                CHECK (notification_method IN ('email', 'telegram', 'push')),
            is_active           BOOLEAN NOT NULL DEFAULT TRUE,
            created_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
        )""",
    )


#: Volume of a bucket of bars: the sum, or null when any bar's volume is unknown. A sum of the
#: known volumes only would understate the bucket's volume (and overstate its illiquidity);
#: gold rolls bars up by the same rule (pipelines/gold/ohlcv.py).
COMPLETE_VOLUME_SUM = "CASE WHEN count(volume) = count(*) THEN sum(volume) END"


def weekly_bars_select(first_open: str, last_close: str, volume: str = "sum(volume)") -> str:
    """Weekly bars from the daily ones, in ISO weeks (``time_bucket``'s default origin is a
    Monday in both engines). ``first_open``/``last_close`` are the dialect's aggregates of the
    open of the earliest and the close of the latest day; ``volume`` the week's volume (the
    plain sum is what migration 5 released, :data:`COMPLETE_VOLUME_SUM` what 7 replaced it
    with)."""
    return f"""SELECT asset_id,
               time_bucket(INTERVAL '1 week', ts) AS ts,
               {first_open} AS open,
               max(high) AS high,
               min(low) AS low,
               {last_close} AS close,
               {volume} AS volume
        FROM ohlcv
        WHERE resolution = '1d'
        GROUP BY asset_id, time_bucket(INTERVAL '1 week', ts)"""


#: Migration 7, columns made nullable exactly as declared (pipelines.serving.base): volume may
#: be null (a source without volumes, docs/data-model.md) in both bar tables, and a risk score
#: always has its factors (the API serves them). Each dialect then rebuilds its weekly relation
#: with :data:`COMPLETE_VOLUME_SUM`.
NULLABILITY_DDL: tuple[str, ...] = (
    *(
        f"ALTER TABLE {table.name} ALTER COLUMN volume DROP NOT NULL"
        for table in (OHLCV, OHLCV_INTRADAY)
    ),
    f"ALTER TABLE {RISK_SCORES.name} ALTER COLUMN factors SET NOT NULL",
)


# --- statements -----------------------------------------------------------------------------


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
        f"INSERT INTO assets ({', '.join(columns)}) VALUES ({', '.join(markers)}) "
        f"ON CONFLICT (asset_id) DO UPDATE SET {_assignments(columns[1:])}"
    )


def select_assets_sql(marker: str, *, by_id: bool = False, by_class: bool = False) -> str:
    """``doc`` of the assets (as text), ordered by id, optionally filtered."""
    where = [f"asset_id = {marker}"] if by_id else []
    where += [f"asset_class = {marker}"] if by_class else []
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT CAST(doc AS TEXT) FROM assets{clause} ORDER BY asset_id"


def ohlcv_relation(resolution: Resolution) -> tuple[str, str | None]:
    """Where the bars of ``resolution`` are read, and the ``resolution`` value to filter on
    there (None for the weekly relation, which holds one resolution only)."""
    if resolution == AGGREGATED_RESOLUTION:
        return WEEKLY_RELATION, None
    if resolution in INTRADAY_RESOLUTIONS:
        return OHLCV_INTRADAY.name, resolution
    return OHLCV.name, resolution


@dataclass(frozen=True, slots=True)
class RangeQuery:
    """A read of one series: ``columns`` of ``relation`` where every ``filters`` column
    equals its value and ``start <= ts < end``; with ``limit``, the newest ``limit`` rows."""

    relation: str
    columns: tuple[str, ...]
    filters: Mapping[str, object]
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int | None = None

    def sql(self, marker: str) -> tuple[str, list[object]]:
        """The statement, ascending in ``ts``, and its parameters. With ``limit`` the rows are
        taken newest-first along the key index, then put back in time order."""
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")
        where = [f"{column} = {marker}" for column in self.filters]
        params: list[object] = list(self.filters.values())
        if self.start is not None:
            where.append(f"ts >= {marker}")
            params.append(self.start)
        if self.end is not None:
            where.append(f"ts < {marker}")
            params.append(self.end)
        inner = f"SELECT {', '.join(self.columns)} FROM {self.relation} WHERE {' AND '.join(where)}"
        if self.limit is None:
            return f"{inner} ORDER BY ts", params
        params.append(self.limit)
        return (
            f"SELECT * FROM ({inner} ORDER BY ts DESC LIMIT {marker}) AS newest ORDER BY ts",
            params,
        )


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


def latest_risk_scores_sql(marker: str, *, by_class: bool) -> str:
    """The newest row per asset (latest ``calculated_at``, then the greatest model version);
    JSON factors cast to text so both stores return the same type."""
    class_filter = f"WHERE a.asset_class = {marker}" if by_class else ""
    return f"""
        SELECT asset_id, calculated_at, model_version, composite_score, market_risk,
               credit_risk, regulatory_risk, technical_risk, factors
        FROM (
            SELECT r.asset_id, r.calculated_at, r.model_version, r.composite_score,
                   r.market_risk, r.credit_risk, r.regulatory_risk, r.technical_risk,
                   CAST(r.factors AS TEXT) AS factors,
                   ROW_NUMBER() OVER (
                       PARTITION BY r.asset_id ORDER BY r.calculated_at DESC, r.model_version DESC
                   ) AS newest
            FROM risk_scores r JOIN assets a ON a.asset_id = r.asset_id
            {class_filter}
        ) AS ranked
        WHERE newest = 1
        ORDER BY asset_id"""


def economic_regions_sql(marker: str) -> str:
    return (
        f"SELECT DISTINCT region FROM economic_indicators WHERE series_id = {marker} "
        "ORDER BY region"
    )


def count_sql(relation: str) -> str:
    return f"SELECT count(*) FROM {relation}"


def count_by_resolution_sql(relation: str) -> str:
    return f"SELECT resolution, count(*) FROM {relation} GROUP BY resolution"
