"""The SQL schema of both serving stores, as their versioned migrations: read
:data:`DUCKDB_MIGRATIONS` or :data:`TIMESCALE_MIGRATIONS` top to bottom for the complete schema
of either store. The tables both dialects create alike are written once, above them.

Both engines speak the same SQL for most of the schema: the same column types (``DOUBLE
PRECISION``, ``TIMESTAMPTZ``, ``UUID``, ``NUMERIC`` ...), ``time_bucket``. What differs is passed
in: the JSON type (``JSON`` / ``JSONB``), referential actions DuckDB lacks, the first/last
aggregates. TimescaleDB adds its hypertables, indexes, continuous aggregate and policies.

The served tables' columns, types, nullability and keys must equal their declarations in
:mod:`pipelines.contracts.served`: ``tests/pipelines/serving/test_schema.py`` reads both live
schemas back and compares. The statements are not generated from those declarations because a
released migration never changes: a new column is a new migration, which that test then asks
for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.contracts.measures import FLOW_METRICS
from pipelines.contracts.served import (
    OHLCV,
    OHLCV_INTRADAY,
    ONCHAIN,
    RISK_SCORES,
    SIGNAL_PERFORMANCE,
)

#: Relation of the weekly bars derived from the daily ones.
WEEKLY_RELATION = "ohlcv_1w"

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


# --- tables both dialects create alike --------------------------------------------------------

#: Values of ``ohlcv.resolution``; 1m/5m live in ``ohlcv_intraday``.
OHLCV_RESOLUTION_CHECK = "ALTER TABLE ohlcv ADD CONSTRAINT ohlcv_resolution_check " + (
    "CHECK (resolution IN ('1h', '1d'))"
)

#: Migration 3: the time-series tables besides ``ohlcv``. Primary keys are the natural keys
#: and lead with the series (asset or macro series), then ``ts``: every read is one series
#: over a time range, and every load upserts on exactly this key.
MARKET_TABLES_DDL: tuple[str, ...] = (
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

#: Migration 4 before its dialect is filled in (:func:`relational_tables_ddl`).
_RELATIONAL_TABLES: tuple[str, ...] = (
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
    """CREATE TABLE risk_scores (
        asset_id        TEXT NOT NULL REFERENCES assets (asset_id),
        calculated_at   TIMESTAMPTZ NOT NULL,
        model_version   TEXT NOT NULL,
        composite_score INTEGER NOT NULL CHECK (composite_score BETWEEN 1 AND 100),
        market_risk     INTEGER CHECK (market_risk BETWEEN 1 AND 100),
        credit_risk     INTEGER CHECK (credit_risk BETWEEN 1 AND 100),
        regulatory_risk INTEGER CHECK (regulatory_risk BETWEEN 1 AND 100),
        technical_risk  INTEGER CHECK (technical_risk BETWEEN 1 AND 100),
        factors         {json},
        PRIMARY KEY (asset_id, calculated_at, model_version)
    )""",
    """CREATE TABLE portfolios (
        portfolio_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id            UUID NOT NULL REFERENCES users (user_id) {on_delete_cascade},
        asset_id           TEXT NOT NULL REFERENCES assets (asset_id),
        quantity           NUMERIC(38, 18) NOT NULL CHECK (quantity >= 0),
        avg_purchase_price NUMERIC(38, 18),
        wallet_address     TEXT,
        created_at         TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        updated_at         TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    """CREATE TABLE alerts (
        alert_id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id             UUID NOT NULL REFERENCES users (user_id) {on_delete_cascade},
        asset_id            TEXT NOT NULL REFERENCES assets (asset_id),
        condition_type      TEXT NOT NULL,
        condition_value     {json} NOT NULL,
        notification_method TEXT NOT NULL
                            CHECK (notification_method IN ('email', 'telegram', 'push')),
        is_active           BOOLEAN NOT NULL DEFAULT TRUE,
        created_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
)


#: The seed's application tables (users, their portfolios and alerts) live in the operational
#: database (``api/accounts``, ``api/portfolios``, ``api/alerts``): one home per concept, with
#: the accounts they belong to. Migration 4 created them here; migration 11 drops them.
DROP_APPLICATION_TABLES_DDL = (
    "DROP TABLE IF EXISTS alerts",
    "DROP TABLE IF EXISTS portfolios",
    "DROP TABLE IF EXISTS users",
)


def relational_tables_ddl(json_type: str, on_delete_cascade: str) -> tuple[str, ...]:
    """Migration 4: the relational tables of the product schema (seed ``004``), with our
    conventions: ``asset_id`` is the TEXT slug of ``assets``; prices and model outputs are
    DOUBLE PRECISION (the lake's type, so loads round-trip exactly); user holdings are
    NUMERIC (exact, as entered); natural keys instead of surrogate ids where rows come from
    the pipeline, so reloading a model run replaces it instead of duplicating it.

    ``json_type`` is the dialect's JSON type; ``on_delete_cascade`` the referential action of
    rows owned by a user (DuckDB has none).
    """
    return tuple(
        statement.format(json=json_type, on_delete_cascade=on_delete_cascade)
        for statement in _RELATIONAL_TABLES
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


#: Migration 7, columns made nullable exactly as declared (pipelines.contracts.served): volume may
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


#: Migration 8, the token flows of the ERC-20 Transfer logs (pipelines.contracts.measures
#: ``FLOW_METRICS``: tokens and USD) beside the on-chain metrics of the same asset-day. Both
#: dialects add nullable columns alike; on a hypertable this changes only the catalog.
TOKEN_FLOWS_DDL: tuple[str, ...] = tuple(
    f"ALTER TABLE {ONCHAIN.name} ADD COLUMN {measure} DOUBLE PRECISION" for measure in FLOW_METRICS
)


#: Migration 9: ``market_daily``, the market analytics of each asset-day (gold/market_daily;
#: columns as declared in pipelines.contracts.served.MARKET_SCHEMA).
MARKET_DAILY_DDL = """CREATE TABLE market_daily (
    asset_id            TEXT NOT NULL,
    ts                  TIMESTAMPTZ NOT NULL,
    price_usd           DOUBLE PRECISION,
    nav_usd             DOUBLE PRECISION,
    premium_to_nav      DOUBLE PRECISION,
    total_supply        DOUBLE PRECISION,
    market_value_usd    DOUBLE PRECISION,
    asset_value_usd     DOUBLE PRECISION,
    value_usd           DOUBLE PRECISION,
    holders             BIGINT,
    yield_7d            DOUBLE PRECISION,
    tbill_3m            DOUBLE PRECISION,
    yield_spread        DOUBLE PRECISION,
    utilization         DOUBLE PRECISION,
    transfer_count      BIGINT,
    transfer_volume_usd DOUBLE PRECISION,
    minted_usd          DOUBLE PRECISION,
    burned_usd          DOUBLE PRECISION,
    net_flow_usd        DOUBLE PRECISION,
    yield_method        TEXT CHECK (yield_method IN ('nav', 'price')),
    price_as_of         DATE,
    nav_as_of           DATE,
    supply_as_of        DATE,
    holders_as_of       DATE,
    as_of               DATE,
    stale               BOOLEAN NOT NULL,
    PRIMARY KEY (asset_id, ts)
)"""


#: Migration 10: ``news_articles``, the headlines behind the sentiment (gold/news_articles;
#: columns as declared in pipelines.contracts.served.NEWS_SCHEMA).
NEWS_ARTICLES_DDL = """CREATE TABLE news_articles (
    asset_id        TEXT NOT NULL,
    ts              TIMESTAMPTZ NOT NULL,
    article_id      TEXT NOT NULL,
    title           TEXT NOT NULL,
    url             TEXT,
    outlet          TEXT,
    sentiment_score DOUBLE PRECISION CHECK (sentiment_score BETWEEN -1 AND 1),
    sentiment_label TEXT,
    model_version   TEXT,
    PRIMARY KEY (asset_id, ts, article_id)
)"""


def signals_ddl(json_type: str) -> str:
    """Migration 12: ``signals`` (gold/signals, as ``SIGNALS_SCHEMA`` declares): a few rows per
    asset-day, a plain table on both stores."""
    own = "".join(f"\n    {name} DOUBLE PRECISION NOT NULL," for name in SIGNAL_PERFORMANCE)
    hold = "".join(f"\n    hold_{name} DOUBLE PRECISION NOT NULL," for name in SIGNAL_PERFORMANCE)
    return f"""CREATE TABLE signals (
    asset_id      TEXT NOT NULL REFERENCES assets (asset_id),
    signal        TEXT NOT NULL CHECK (signal IN ('forecast', 'sentiment', 'risk')),
    generated_at  TIMESTAMPTZ NOT NULL,
    as_of         DATE NOT NULL,
    direction     INTEGER NOT NULL CHECK (direction BETWEEN -1 AND 1),
    strength      DOUBLE PRECISION NOT NULL CHECK (strength BETWEEN 0 AND 1),
    inputs        {json_type} NOT NULL,
    rule          TEXT NOT NULL,
    window_start  DATE NOT NULL,
    window_end    DATE NOT NULL,
    days          INTEGER NOT NULL,{own}
    hit_rate      DOUBLE PRECISION,
    exposure      DOUBLE PRECISION NOT NULL,{hold}
    hold_hit_rate DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (asset_id, signal, generated_at)
)"""


# --- DuckDB -----------------------------------------------------------------------------------

#: Versions match TimescaleDB's from 3 on (the same step under the same number); DuckDB's
#: version 1 is TimescaleDB's 1 and 2 together (it has no extension to create).
DUCKDB_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "assets and ohlcv",
        (
            """CREATE TABLE assets (
                asset_id           VARCHAR PRIMARY KEY,
                symbol             VARCHAR NOT NULL,
                name               VARCHAR NOT NULL,
                asset_class        VARCHAR NOT NULL,
                blockchain_network VARCHAR NOT NULL,
                contract_address   VARCHAR,
                issuer_name        VARCHAR,
                doc                JSON NOT NULL
            )""",
            # The primary key doubles as the index of every read: one series, a time range.
            """CREATE TABLE ohlcv (
                asset_id   VARCHAR NOT NULL,
                resolution VARCHAR NOT NULL,
                ts         TIMESTAMPTZ NOT NULL,
                open       DOUBLE NOT NULL,
                high       DOUBLE NOT NULL,
                low        DOUBLE NOT NULL,
                close      DOUBLE NOT NULL,
                volume     DOUBLE NOT NULL,
                PRIMARY KEY (asset_id, resolution, ts)
            )""",
        ),
    ),
    Migration(3, "market and macro time series", MARKET_TABLES_DDL),
    # DuckDB has no ON DELETE CASCADE: deleting a user deletes its rows explicitly.
    Migration(4, "relational tables", relational_tables_ddl("JSON", "")),
    # A plain view: DuckDB aggregates a few thousand daily bars per asset in milliseconds,
    # and a view is never stale, so there is nothing to refresh.
    Migration(
        5,
        "weekly ohlcv",
        (
            f"CREATE VIEW {WEEKLY_RELATION} AS "
            + weekly_bars_select("arg_min(open, ts)", "arg_max(close, ts)"),
        ),
    ),
    # Compression is TimescaleDB's; the version is kept so both stores count alike.
    Migration(6, "ohlcv compression (TimescaleDB License build only)", ()),
    Migration(
        7,
        "nullability as declared: volume nullable, risk factors required",
        (
            *NULLABILITY_DDL,
            f"CREATE OR REPLACE VIEW {WEEKLY_RELATION} AS "
            + weekly_bars_select("arg_min(open, ts)", "arg_max(close, ts)", COMPLETE_VOLUME_SUM),
        ),
    ),
    Migration(8, "token flows from transfer logs", TOKEN_FLOWS_DDL),
    Migration(9, "market analytics", (MARKET_DAILY_DDL,)),
    Migration(10, "news articles", (NEWS_ARTICLES_DDL,)),
    Migration(
        11, "application tables moved to the operational database", DROP_APPLICATION_TABLES_DDL
    ),
    Migration(12, "signals", (signals_ddl("JSON"),)),
)


# --- TimescaleDB ------------------------------------------------------------------------------


def _weekly_view(volume: str) -> tuple[str, ...]:
    """Apache build: the weekly bars as a plain materialized view, refreshed by
    refresh_aggregates() after every load; the unique index lets it refresh CONCURRENTLY
    (readers never block). ``volume``: the week's volume aggregate."""
    select = weekly_bars_select("first(open, ts)", "last(close, ts)", volume)
    return (
        f"CREATE MATERIALIZED VIEW {WEEKLY_RELATION} AS {select}",
        f"CREATE UNIQUE INDEX ohlcv_1w_key ON {WEEKLY_RELATION} (asset_id, ts)",
    )


def _weekly_continuous_aggregate(volume: str) -> tuple[str, ...]:
    """License build: a continuous aggregate. Real-time (materialized_only = false), so the
    unmaterialized latest week is computed on read; the policy materializes the last eight
    weeks hourly and refresh_aggregates() refreshes any backfilled range."""
    select = weekly_bars_select("first(open, ts)", "last(close, ts)", volume)
    return (
        f"""CREATE MATERIALIZED VIEW {WEEKLY_RELATION}
                WITH (timescaledb.continuous, timescaledb.materialized_only = false)
                AS {select} WITH NO DATA""",
        f"""SELECT add_continuous_aggregate_policy('{WEEKLY_RELATION}',
                    start_offset => INTERVAL '8 weeks', end_offset => INTERVAL '1 week',
                    schedule_interval => INTERVAL '1 hour')""",
    )


_DROP_WEEKLY = f"DROP MATERIALIZED VIEW {WEEKLY_RELATION}"  # a policy goes with its view


def _hypertable_sql(table: str, chunk_interval: str) -> str:
    return (
        f"SELECT create_hypertable('{table}', by_range('ts', INTERVAL '{chunk_interval}'), "
        "create_default_indexes => FALSE)"
    )


# 30-day chunks: a year of hourly bars for ~50 assets is ~440k rows, so even one chunk per
# month stays far below the "chunk fits in a quarter of RAM" guideline while keeping the chunk
# count (and planning time) small for multi-year daily series. Timescale's 7-day default
# targets ingest-heavy tables, which this is not.
TIMESCALE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "timescaledb extension", ("CREATE EXTENSION IF NOT EXISTS timescaledb",)),
    Migration(
        2,
        "assets and ohlcv",
        (
            """CREATE TABLE assets (
                asset_id           TEXT PRIMARY KEY,
                symbol             TEXT NOT NULL,
                name               TEXT NOT NULL,
                asset_class        TEXT NOT NULL,
                blockchain_network TEXT NOT NULL,
                contract_address   TEXT,
                issuer_name        TEXT,
                doc                JSONB NOT NULL
            )""",
            "CREATE INDEX assets_asset_class_idx ON assets (asset_class)",
            # The primary key doubles as the index of every read: one series, a time range.
            """CREATE TABLE ohlcv (
                asset_id   TEXT NOT NULL,
                resolution TEXT NOT NULL,
                ts         TIMESTAMPTZ NOT NULL,
                open       DOUBLE PRECISION NOT NULL,
                high       DOUBLE PRECISION NOT NULL,
                low        DOUBLE PRECISION NOT NULL,
                close      DOUBLE PRECISION NOT NULL,
                volume     DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (asset_id, resolution, ts)
            )""",
            """SELECT create_hypertable('ohlcv', by_range('ts', INTERVAL '30 days'),
                                        if_not_exists => TRUE)""",
        ),
    ),
    Migration(
        3,
        "market and macro time series",
        (
            *MARKET_TABLES_DDL,
            OHLCV_RESOLUTION_CHECK,
            # No default index on ts alone: every read names its series first and the primary
            # key serves it; drop_chunks and chunk exclusion need no index at all.
            *(
                _hypertable_sql(name, interval)
                for name, interval in (
                    # 1m bars of ~50 assets are ~86k rows a day with 5m: one-day chunks stay
                    # a few MB, and retention then drops whole days exactly.
                    ("ohlcv_intraday", "1 day"),
                    # One row per asset-day (~18k rows a year): yearly chunks keep years of
                    # history in a handful of chunks; smaller ones would only add planning.
                    ("onchain_metrics", "365 days"),
                    ("asset_features", "365 days"),
                    ("sentiment_scores", "365 days"),
                    # Macro history reaches back to 1960 (World Bank annual, FRED daily since
                    # 1962) at a few hundred rows a year per series: decade chunks.
                    ("economic_indicators", "3650 days"),
                )
            ),
        ),
    ),
    Migration(
        4,
        "relational tables",
        (
            *relational_tables_ddl("JSONB", "ON DELETE CASCADE"),
            # Foreign keys are not indexed by PostgreSQL itself: these serve "a user's
            # portfolio/alerts" and the cascade when a user is deleted.
            "CREATE INDEX portfolios_user_idx ON portfolios (user_id)",
            "CREATE INDEX alerts_user_idx ON alerts (user_id)",
            # Alert evaluation looks up the active alerts of an asset when its data changes.
            "CREATE INDEX alerts_active_asset_idx ON alerts (asset_id) WHERE is_active",
        ),
    ),
    Migration(
        5,
        "weekly ohlcv",
        _weekly_view("sum(volume)"),
        licensed=_weekly_continuous_aggregate("sum(volume)"),
    ),
    Migration(
        6,
        "ohlcv compression (TimescaleDB License build only)",
        (),
        # Columnar compression of 1h/1d chunks older than 90 days: segmented by series, so a
        # read of one series decompresses only its segment; ordered by ts like the reads.
        # Loads filter unchanged rows before the upsert (see queries.upsert_sql), so replaying
        # gold does not decompress old chunks.
        licensed=(
            """ALTER TABLE ohlcv SET (timescaledb.compress,
                    timescaledb.compress_segmentby = 'asset_id, resolution',
                    timescaledb.compress_orderby = 'ts DESC')""",
            "SELECT add_compression_policy('ohlcv', compress_after => INTERVAL '90 days')",
        ),
    ),
    # Volume may be null; the weekly bars are rebuilt so that a week with a day of unknown
    # volume has an unknown volume, not the sum of the other days.
    Migration(
        7,
        "nullability as declared: volume nullable, risk factors required",
        (*NULLABILITY_DDL, _DROP_WEEKLY, *_weekly_view(COMPLETE_VOLUME_SUM)),
        licensed=(
            *NULLABILITY_DDL,
            _DROP_WEEKLY,
            *_weekly_continuous_aggregate(COMPLETE_VOLUME_SUM),
        ),
    ),
    Migration(8, "token flows from transfer logs", TOKEN_FLOWS_DDL),
    # One row per asset-day, like the other daily series: yearly chunks.
    Migration(
        9,
        "market analytics",
        (MARKET_DAILY_DDL, _hypertable_sql("market_daily", "365 days")),
    ),
    # A few hundred articles a day at most: yearly chunks, like the daily series.
    Migration(
        10,
        "news articles",
        (NEWS_ARTICLES_DDL, _hypertable_sql("news_articles", "365 days")),
    ),
    Migration(
        11, "application tables moved to the operational database", DROP_APPLICATION_TABLES_DDL
    ),
    Migration(12, "signals", (signals_ddl("JSONB"),)),
)
