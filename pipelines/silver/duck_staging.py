"""The staging jobs of a silver micro-batch in DuckDB, in process (the layout and the driver's
readers: :mod:`pipelines.silver.staging`; the Spark twin: :mod:`pipelines.silver.spark_staging`).

Each job is one ``COPY ... TO`` Parquet of a DuckDB query (job 1: one per chunk of the batch's
lines, a bounded amount of bronze text, since the parse holds many times its input): DuckDB
streams it on every core of the connection and spills what it must hold (the sort and window
of job 2) to the connection's temporary folder above its ``memory_limit``, so memory does not
grow with the batch. The counts of job 1 and the expectation results of job 2 are aggregates
over the Parquet just written (a scan of a few columns, not a second pass over the lines).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from pipelines.ingestion.sql_records import identifier, literal
from pipelines.quality.results import ExpectationResult
from pipelines.silver.dedup import LATEST_FIRST, is_latest_of_key_sql
from pipelines.silver.duck_parsing import LineParse
from pipelines.silver.parsing import IS_RECORD, LINE_HEAD, RAW, REASON
from pipelines.silver.staging import CHECKED, LATEST, MERGE, RECORDS, StageCounts, StagedBatch

if TYPE_CHECKING:
    from pipelines.quality.duck_gate import DuckQualityGate

#: The one Parquet file of a staged folder (DuckDB writes it on all threads); ``records/``
#: has one per chunk of lines.
PART = "part-0.parquet"
#: Freed memory past which DuckDB's allocator flushes (see :func:`duck_connection`).
ALLOCATOR_FLUSH = "16MiB"
#: Bronze text parsed at once (whole objects: a chunk closes once it holds this much).
CHUNK_TEXT_BYTES = 16 * 1024 * 1024


def duck_connection(
    memory_limit: str, temp_dir: Path, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for silver batches: ``threads`` (default every core), at
    most ``memory_limit`` (spilling to ``temp_dir`` beyond it: DuckDB creates it, its parent
    must exist), timestamps in UTC (the parse's contract), its freed memory given back to the
    system rather than kept for later work."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
    con.execute(f"SET memory_limit = {literal(memory_limit)}")
    con.execute(f"SET temp_directory = {literal(str(temp_dir))}")
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB's allocator (jemalloc) keeps memory its threads freed for their next work: with
    # the datasets of a run side by side that held the driver tens of MB above what a batch
    # needs (bench/scale.py's silver at 16x, one dataset at a time: prices 710 -> 678 MB,
    # transfers 667 -> 615 MB peak with these three). Background threads purge it; a bulk free
    # beyond the threshold flushes at once. The background-thread switch is jemalloc's, for
    # the whole process (a database closing turns it off until the next connection's SET).
    con.execute(f"SET allocator_flush_threshold = {literal(ALLOCATOR_FLUSH)}")
    con.execute(f"SET allocator_bulk_deallocation_flush_threshold = {literal(ALLOCATOR_FLUSH)}")
    con.execute("SET allocator_background_threads = true")
    return con


class DuckStagedBatch(StagedBatch):
    """A staging folder written by DuckDB queries on ``con``."""

    def __init__(self, parse: LineParse, root: Path) -> None:
        super().__init__(parse.spec, root)
        self.parse = parse
        self.con = parse.con

    def stage_records(self, lines: pa.RecordBatchReader) -> StageCounts:
        """Job 1: parse ``lines`` (``value``, ``bronze_file``, ``path_source``; a batch per
        bronze object) and write the records, a chunk of about :data:`CHUNK_TEXT_BYTES` of
        lines at a time: the parse holds several times its text (EVM log pages: up to about
        35 times), so a chunk, not the batch, bounds its memory. The next chunk's objects are
        read while DuckDB parses the current one."""
        bronze_lines = 0
        for number, chunk in enumerate(_read_ahead(_chunks(lines, CHUNK_TEXT_BYTES))):
            bronze_lines += chunk.num_rows
            with self.parse.over(chunk) as parsed:
                records = (
                    f"SELECT * EXCLUDE ({LINE_HEAD}, {IS_RECORD}) FROM ({parsed}) WHERE {IS_RECORD}"
                )
                self._copy_query(records, RECORDS, f"part-{number}.parquet")
            del chunk  # not held while the next one is read
        day = identifier(self.spec.day_column)
        (counted,) = self.con.execute(
            f"SELECT count(*), min({day}) FILTER (WHERE {REASON} IS NULL), "
            f"max({day}) FILTER (WHERE {REASON} IS NULL) FROM {self._scan(RECORDS)}"
        ).fetchall()
        return StageCounts.counted(bronze_lines, *counted)

    def candidates(self) -> duckdb.DuckDBPyRelation:
        """The structurally valid records (what the quality gate checks)."""
        return self.con.sql(
            f"SELECT * EXCLUDE ({REASON}, {RAW}) FROM {self._scan(RECORDS)} WHERE {REASON} IS NULL"
        )

    def check(self, gate: DuckQualityGate, nav_history: pa.Table | None) -> DuckResults:
        """Job 2: gate the structurally valid records and rank each key's rows; the results
        are counted from the written rows when asked for."""
        annotated = gate.annotate(
            self.con, self.spec.name, self.candidates(), nav_history=nav_history
        )
        # In a total order (DuckDB keeps it, reading the file back): the gate's samples, the
        # first unexpected values in the rows' order, are the same in every run.
        order = ", ".join(identifier(c) for c in ("bronze_file", *self.spec.keys, *LATEST_FIRST))
        self._copy(self._ranked(annotated).order(order), CHECKED)
        return DuckResults(
            gate, self.con, self.spec.name, self.con.sql(f"FROM {self._scan(CHECKED)}")
        )

    def rerank_without(self, objects: Collection[str]) -> None:
        held = self.con.from_arrow(
            pa.table({"bronze_file": pa.array(sorted(objects), pa.string())})
        )
        valid = self.con.sql(
            f"SELECT * EXCLUDE ({LATEST}) FROM {self._scan(CHECKED)} WHERE {REASON} IS NULL"
        )
        kept = valid.join(held, "bronze_file", how="anti")
        self._copy(self._ranked(kept), MERGE)

    def _ranked(self, rows: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
        latest = is_latest_of_key_sql(self.spec.keys, f"{REASON} IS NULL")
        return rows.project(f"*, {latest} AS {LATEST}")

    def _copy(self, rows: duckdb.DuckDBPyRelation, folder: str, part: str = PART) -> None:
        self._copy_query(rows.sql_query(), folder, part)

    def _copy_query(self, query: str, folder: str, part: str = PART) -> None:
        (self.root / folder).mkdir(parents=True, exist_ok=True)
        path = literal(str(self.root / folder / part))
        # Uncompressed: read once or twice, then removed (snappy cost a fifth of the job).
        self.con.execute(f"COPY ({query}) TO {path} (FORMAT parquet, COMPRESSION uncompressed)")

    def _scan(self, folder: str) -> str:
        # The files by name, not a glob: a state folder may contain glob characters ([, ?).
        files = sorted(str(path) for path in (self.root / folder).glob("*.parquet"))
        return f"read_parquet([{', '.join(literal(file) for file in files)}])"


@dataclass(frozen=True, slots=True)
class DuckResults:
    """The gate's results over the checked rows (one aggregate query, when asked for)."""

    gate: DuckQualityGate
    con: duckdb.DuckDBPyConnection
    dataset: str
    checked: duckdb.DuckDBPyRelation

    def results(self, *, batch_id: int, run_id: str) -> list[ExpectationResult]:
        return self.gate.results(
            self.con, self.dataset, self.checked, batch_id=batch_id, run_id=run_id
        )


def _read_ahead(chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """``chunks``, the next one read by a thread of its own while the caller works on the
    current one (DuckDB runs a query without holding the GIL; reading and splitting the bronze
    objects is Python's work)."""
    with ThreadPoolExecutor(1, thread_name_prefix="rwa-bronze-read") as reader:
        pending = reader.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = reader.submit(next, chunks, None)
            yield chunk
            del chunk


def _chunks(lines: pa.RecordBatchReader, text_bytes: int) -> Iterator[pa.Table]:
    """``lines`` as tables of whole record batches, each closed once it holds ``text_bytes``;
    at least one (an empty batch still writes its empty ``records/``)."""
    held: list[pa.RecordBatch] = []
    size = 0
    for batch in lines:
        held.append(batch)
        size += batch.nbytes
        if size >= text_bytes:
            yield pa.Table.from_batches(held, lines.schema)
            held, size = [], 0
    if held or size == 0:
        yield pa.Table.from_batches(held, lines.schema)
