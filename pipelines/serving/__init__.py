"""The serving store: what gold loaders write and the API reads.

``open_store(get_settings())`` gives the configured implementation: DuckDB (embedded, the
default) or TimescaleDB (production). Both keep the :class:`ServingStore` contract.

The two implementations are imported on first use, so a process on the embedded default never
loads the PostgreSQL driver (and one on TimescaleDB never loads DuckDB).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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
    """The serving store ``settings.serving_backend`` names, connected but not migrated.

    ``read_only`` suits readers such as the API: DuckDB then opens the file in shared
    read-only mode (no writer process may hold it meanwhile), TimescaleDB makes every
    transaction read-only; either raises StoreUnavailableError on a write. Raises
    StoreUnavailableError when the store cannot be reached. Intraday bars are kept for
    ``settings.serving_intraday_retention_days``.
    """
    retention_days = settings.serving_intraday_retention_days
    if settings.serving_backend == "timescaledb":
        from pipelines.serving.timescale_store import TimescaleStore

        return TimescaleStore(
            settings.timescale_dsn,
            pool_max=settings.timescale_pool_max,
            read_only=read_only,
            intraday_retention_days=retention_days,
        )
    from pipelines.serving.duckdb_store import DuckDBStore

    return DuckDBStore(
        settings.duckdb_path, read_only=read_only, intraday_retention_days=retention_days
    )


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
    "open_store",
]
