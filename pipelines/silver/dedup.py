"""In-batch deduplication of silver rows, as Spark work: latest fetch wins."""

from __future__ import annotations

from pyspark.sql import Column, Window
from pyspark.sql import functions as F


def is_latest_of_key(keys: tuple[str, ...], among: Column) -> Column:
    """True for the one row of each key, among the rows where ``among`` holds, with the latest
    ``fetched_at``, ties broken by the larger ``ingest_id`` (the rule the MERGE applies against
    the table too, so the outcome never depends on the order records arrive in); false for the
    key's other rows, null outside ``among``. Keys are never null there (the parsers and the
    gate refuse such rows)."""
    window = Window.partitionBy(among, *keys).orderBy(F.desc("fetched_at"), F.desc("ingest_id"))
    return F.when(among, F.row_number().over(window) == 1)
