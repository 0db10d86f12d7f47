"""The serving store: what gold loaders write and the API reads.

``open_store(get_settings())`` gives the configured implementation: DuckDB (embedded, the
default) or TimescaleDB (production). Both keep the :class:`ServingStore` contract.

The two implementations are imported on first use, so a process on the embedded default never
loads the PostgreSQL driver (and one on TimescaleDB never loads DuckDB).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pipelines.core.errors import StoreUnavailableError
from pipelines.core.settings import Settings
from pipelines.serving.base import (
    ECONOMIC_SCHEMA,
    FEATURES_SCHEMA,
    OHLCV_SCHEMA,
    ONCHAIN_SCHEMA,
    PREDICTIONS_SCHEMA,
    RESOLUTIONS,
    RISK_SCORES_SCHEMA,
    SENTIMENT_SCHEMA,
    OhlcvBar,
    Resolution,
    RetentionResult,
    ServingStore,
    StoreHealth,
)

if TYPE_CHECKING:
    from pipelines.serving.duckdb_store import DuckDBStore
    from pipelines.serving.timescale_store import Edition, TimescaleStore

_LAZY = {
    "DuckDBStore": "pipelines.serving.duckdb_store",
    "TimescaleStore": "pipelines.serving.timescale_store",
    "Edition": "pipelines.serving.timescale_store",
}


def open_store(settings: Settings, *, read_only: bool = False) -> ServingStore:
    """The serving store ``settings.serving.backend`` names, connected but not migrated.

    ``read_only`` suits readers such as the API: DuckDB then reads the published snapshot
    and follows each newly published one, TimescaleDB makes every transaction read-only;
    either raises StoreUnavailableError on a write. A writable DuckDB store publishes what
    was written when it is closed, and waits up to ``settings.serving.duckdb_writer_wait_s`` for
    another writer. Raises StoreUnavailableError when the store cannot be reached. Intraday
    bars are kept for ``settings.serving.intraday_retention_days``.
    """
    retention_days = settings.serving.intraday_retention_days
    if settings.serving.backend == "timescaledb":
        from pipelines.serving.timescale_store import TimescaleStore

        return TimescaleStore(
            settings.serving.timescale_dsn,
            pool_max=settings.serving.timescale_pool_max,
            read_only=read_only,
            intraday_retention_days=retention_days,
        )
    from pipelines.serving.duckdb_store import DuckDBStore

    return DuckDBStore(
        settings.serving.duckdb_path,
        read_only=read_only,
        intraday_retention_days=retention_days,
        writer_wait_s=settings.serving.duckdb_writer_wait_s,
    )


def check_store_writable(settings: Settings) -> None:
    """Raise StoreUnavailableError now if a load into the configured store could not succeed
    for a reason known in advance (folder not writable, server unreachable, unreadable
    snapshot): for commands that do long work before they load. Changes nothing."""
    if settings.serving.backend == "duckdb":
        from pipelines.serving.duckdb_store import check_writable

        check_writable(settings.serving.duckdb_path)
        return
    with open_store(settings) as store:
        health = store.health()
    if not health.ok:
        raise StoreUnavailableError(f"serving store unavailable: {health.detail}")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ECONOMIC_SCHEMA",
    "FEATURES_SCHEMA",
    "OHLCV_SCHEMA",
    "ONCHAIN_SCHEMA",
    "PREDICTIONS_SCHEMA",
    "RESOLUTIONS",
    "RISK_SCORES_SCHEMA",
    "SENTIMENT_SCHEMA",
    "DuckDBStore",
    "Edition",
    "OhlcvBar",
    "Resolution",
    "RetentionResult",
    "ServingStore",
    "StoreHealth",
    "TimescaleStore",
    "check_store_writable",
    "open_store",
]
