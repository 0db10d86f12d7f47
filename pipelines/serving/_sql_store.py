"""The serving-store contract implemented once for SQL engines reached through a DB-API cursor.

:class:`SqlStore` holds every method whose logic both engines share: the reads, the upserts,
the migration flow, the read-only guard and health reporting. It builds them on two small
primitives a concrete store provides, :meth:`SqlStore._cursor` (for reads) and
:meth:`SqlStore._transaction` (for writes), plus a few hooks. A concrete store keeps only what
is its own: connection handling, staging a bulk load, locking migrations, describing itself.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import pyarrow as pa

from pipelines.core.errors import StoreUnavailableError
from pipelines.reference.model import Asset
from pipelines.serving import _sql
from pipelines.serving._rows import (
    as_utc,
    asset_from_doc,
    asset_row,
    bars_from_rows,
    counts,
    one_line,
    prepare_bars,
)
from pipelines.serving.base import OhlcvBar, Resolution, ServingStore, StoreHealth


class Rows(Protocol):
    """The result of a statement, as both drivers' cursors return it."""

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...


class Cursor(Protocol):
    """What :class:`SqlStore` needs of a cursor: DuckDB's connection and psycopg's cursor both
    qualify. Positional-only, since the drivers name the parameters differently."""

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Rows: ...

    def executemany(self, query: str, params_seq: Iterable[Sequence[Any]], /) -> object: ...


CursorT = TypeVar("CursorT", bound=Cursor)


class SqlStore(ServingStore, Generic[CursorT]):
    """A :class:`ServingStore` over an SQL engine; ``CursorT`` is its driver's cursor type."""

    #: Parameter marker of the driver: ``?`` (DuckDB) or ``%s`` (psycopg).
    _marker: ClassVar[str]
    #: Marker of the ``doc`` value in the asset upsert, for a dialect that must cast it.
    _doc_marker: ClassVar[str | None] = None
    #: The dialect's schema steps (the store module's ``MIGRATIONS``).
    _migrations: ClassVar[tuple[_sql.Migration, ...]]
    #: A query whose one value says whether ``schema_migrations`` exists (catalogs differ).
    _migrations_table_exists_sql: ClassVar[str]
    #: What a read-only store that lacks schema versions tells its user to do.
    _migrate_hint: ClassVar[str]
    #: The kind of store in messages, followed by its location: e.g. "DuckDB store".
    _kind: ClassVar[str]

    def __init__(self, location: str, *, read_only: bool) -> None:
        """``location`` names the store in messages: a file, or a DSN without password."""
        self._location = location
        self.read_only = read_only

    # --- primitives of a concrete store ----------------------------------------------------------

    @abstractmethod
    def _cursor(self) -> AbstractContextManager[CursorT]:
        """A cursor for reads; failures to reach the store raise StoreUnavailableError."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[CursorT]:
        """A cursor in one write transaction: committed when the block ends, rolled back when
        it raises."""

    @abstractmethod
    def _staged(self, cur: CursorT, bars: pa.Table) -> AbstractContextManager[str]:
        """``bars`` made visible to ``cur`` as a relation, whose name it yields, for the
        duration of the block."""

    @abstractmethod
    def _health_detail(self) -> str:
        """What a healthy store reports about itself; raises when the store does not answer."""

    def _lock_migrations(self, cur: CursorT) -> None:
        """Serialise concurrent :meth:`migrate` calls within the transaction of ``cur``; by
        default nothing, for an engine where one writer excludes the others anyway."""

    # --- shared --------------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        """The store as named in messages, e.g. "TimescaleDB at postgresql://u@host:5432/db"."""
        return f"{self._kind} {self._location}"

    def _check_writable(self, operation: str) -> None:
        if self.read_only:
            raise StoreUnavailableError(
                f"{self._label} is open read-only: {operation} needs a store opened with "
                "read_only=False"
            )

    # --- schema --------------------------------------------------------------------------------

    def migrate(self) -> None:
        if self.read_only:
            self._check_migrated()
            return
        with self._transaction() as cur:
            self._lock_migrations(cur)
            cur.execute(_sql.CREATE_MIGRATIONS_TABLE_SQL)
            for migration in _sql.pending_migrations(self._migrations, _applied(cur)):
                for statement in migration.statements:
                    cur.execute(statement)
                cur.execute(
                    _sql.record_migration_sql(self._marker), [migration.version, migration.name]
                )

    def _check_migrated(self) -> None:
        """A read-only store cannot migrate; say so clearly if the schema is behind."""
        with self._cursor() as cur:
            exists = cur.execute(self._migrations_table_exists_sql).fetchone()
            applied = _applied(cur) if exists and exists[0] else []
        missing = [m.version for m in _sql.pending_migrations(self._migrations, applied)]
        if missing:
            raise StoreUnavailableError(
                f"{self._label} lacks schema version(s) {missing}; {self._migrate_hint}"
            )

    # --- writes --------------------------------------------------------------------------------

    def upsert_assets(self, assets: list[Asset]) -> int:
        self._check_writable("upsert_assets")
        if not assets:
            return 0
        sql = _sql.upsert_assets_sql(self._marker, doc_marker=self._doc_marker)
        with self._transaction() as cur:
            cur.executemany(sql, [asset_row(asset) for asset in assets])
        return len(assets)

    def upsert_ohlcv(self, bars: pa.Table) -> int:
        self._check_writable("upsert_ohlcv")
        table = prepare_bars(bars)
        if table.num_rows == 0:
            return 0
        with self._transaction() as cur, self._staged(cur, table) as source:
            cur.execute(_sql.upsert_ohlcv_sql(source))
        return table.num_rows

    # --- reads ---------------------------------------------------------------------------------

    def list_assets(self, asset_class: str | None = None) -> list[Asset]:
        sql = _sql.select_assets_sql(self._marker, by_class=asset_class is not None)
        params = [] if asset_class is None else [asset_class]
        with self._cursor() as cur:
            rows = cur.execute(sql, params).fetchall()
        return [asset_from_doc(doc) for (doc,) in rows]

    def get_asset(self, asset_id: str) -> Asset | None:
        sql = _sql.select_assets_sql(self._marker, by_id=True)
        with self._cursor() as cur:
            row = cur.execute(sql, [asset_id]).fetchone()
        return None if row is None else asset_from_doc(row[0])

    def ohlcv(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[OhlcvBar]:
        sql, params = _sql.select_ohlcv_sql(
            self._marker, asset_id, resolution, as_utc(start), as_utc(end), limit
        )
        with self._cursor() as cur:
            return bars_from_rows(cur.execute(sql, params).fetchall())

    def table_counts(self) -> dict[str, int]:
        with self._cursor() as cur:
            assets = cur.execute(_sql.COUNT_ASSETS_SQL).fetchone()
            per_resolution = cur.execute(_sql.COUNT_OHLCV_SQL).fetchall()
        return counts(assets[0] if assets else 0, per_resolution)

    def health(self) -> StoreHealth:
        try:
            detail = self._health_detail()
        except Exception as exc:  # health reports failures, it never raises them
            return StoreHealth(self.backend, False, f"{self._location}: {one_line(exc)}")
        return StoreHealth(self.backend, True, detail)


def _applied(cur: Cursor) -> list[int]:
    """Versions recorded in ``schema_migrations``."""
    return [version for (version,) in cur.execute(_sql.APPLIED_MIGRATIONS_SQL).fetchall()]
