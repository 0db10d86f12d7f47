"""In-batch deduplication of silver rows: latest fetch wins (a Spark window, or the same window
in DuckDB SQL for the in-process engine)."""

from __future__ import annotations

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from pipelines.ingestion.sql_records import identifier

#: The order of a key's rows, latest first: the later fetch, ties broken by the larger ingest id.
LATEST_FIRST = ("fetched_at", "ingest_id")


def is_latest_of_key(keys: tuple[str, ...], among: Column) -> Column:
    """True for the one row of each key, among the rows where ``among`` holds, with the latest
    ``fetched_at``, ties broken by the larger ``ingest_id`` (the rule the MERGE applies against
    the table too, so the outcome never depends on the order records arrive in); false for the
    key's other rows, null outside ``among``. Keys are never null there (the parsers and the
    gate refuse such rows)."""
    window = Window.partitionBy(among, *keys).orderBy(*(F.desc(c) for c in LATEST_FIRST))
    return F.when(among, F.row_number().over(window) == 1)


def is_latest_of_key_sql(keys: tuple[str, ...], among: str) -> str:
    """:func:`is_latest_of_key` as a DuckDB SQL expression (``among``: a boolean SQL
    expression); Spark's descending order puts nulls last, said explicitly here."""
    partition = ", ".join([f"({among})", *(identifier(k) for k in keys)])
    order = ", ".join(f"{identifier(c)} DESC NULLS LAST" for c in LATEST_FIRST)
    window = f"row_number() OVER (PARTITION BY {partition} ORDER BY {order})"
    return f"CASE WHEN {among} THEN {window} = 1 END"
