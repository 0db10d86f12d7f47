"""The serving store: what gold loaders write and the API reads.

``open_store(settings.serving)`` gives the configured store: DuckDB (embedded, the default) or
TimescaleDB (production), both a :class:`~pipelines.serving.sql_store.SqlStore` keeping the
:class:`ServingStore` interface. Where things are:

* ``store.py``: the interface (:class:`ServingStore`) and the values reads return;
* ``pipelines/contracts/served.py``: the tables, their Arrow schemas and keys;
* ``sql_store.py``: the store itself, over either engine; ``queries.py`` its statements,
  ``rows.py`` the checks and conversions of rows in and out;
* ``schema.py``: both engines' complete SQL schema, as versioned migrations;
* ``duckdb_store.py`` (+ ``duckdb_snapshots.py``) and ``timescale_store.py``: each engine's
  connections, bulk staging, retention and aggregates;
* ``fresh_rows.py``: which rows of a load are outside their series' stored time range, so
  appended without the upsert; ``binary_copy.py``: Arrow rows as binary COPY, column-wise;
* ``load.py``: loading the lake into the store.

The two engines are imported on first use, so a process on the embedded default never loads
the PostgreSQL driver (and one on TimescaleDB never loads DuckDB).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pipelines.core.errors import StoreUnavailableError
from pipelines.core.settings import ServingSettings
from pipelines.serving.store import OhlcvBar, RetentionResult, ServingStore, StoreHealth

if TYPE_CHECKING:
    from pipelines.serving.duckdb_store import DuckDBStore
    from pipelines.serving.timescale_store import Edition, TimescaleStore

_LAZY = {
    "DuckDBStore": "pipelines.serving.duckdb_store",
    "TimescaleStore": "pipelines.serving.timescale_store",
    "Edition": "pipelines.serving.timescale_store",
}


def open_store(serving: ServingSettings, *, read_only: bool = False) -> ServingStore:
    """The serving store ``serving.backend`` names, connected but not migrated.

    ``read_only`` suits readers such as the API: DuckDB then reads the published snapshot
    and follows each newly published one, TimescaleDB makes every transaction read-only;
    either raises StoreUnavailableError on a write. A writable DuckDB store publishes what
    was written when it is closed, and waits up to ``serving.duckdb_writer_wait_s`` for
    another writer. Raises StoreUnavailableError when the store cannot be reached. Intraday
    bars are kept for ``serving.intraday_retention_days``.
    """
    retention_days = serving.intraday_retention_days
    if serving.backend == "timescaledb":
        from pipelines.serving.timescale_store import TimescaleStore

        return TimescaleStore(
            serving.timescale_dsn,
            pool_max=serving.timescale_pool_max,
            read_only=read_only,
            intraday_retention_days=retention_days,
        )
    from pipelines.serving.duckdb_store import DuckDBStore

    return DuckDBStore(
        serving.duckdb_path,
        read_only=read_only,
        intraday_retention_days=retention_days,
        writer_wait_s=serving.duckdb_writer_wait_s,
        memory_limit=serving.duckdb_memory_limit,
    )


def check_store_writable(serving: ServingSettings) -> None:
    """Raise StoreUnavailableError now if a load into the configured store could not succeed
    for a reason known in advance (folder not writable, server unreachable, unreadable
    snapshot): for commands that do long work before they load. Changes nothing."""
    if serving.backend == "duckdb":
        from pipelines.serving.duckdb_store import check_writable

        check_writable(serving.duckdb_path)
        return
    with open_store(serving) as store:
        health = store.health()
    if not health.ok:
        raise StoreUnavailableError(f"serving store unavailable: {health.detail}")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DuckDBStore",
    "Edition",
    "OhlcvBar",
    "RetentionResult",
    "ServingStore",
    "StoreHealth",
    "TimescaleStore",
    "check_store_writable",
    "open_store",
]
