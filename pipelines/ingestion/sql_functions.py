"""Python functions the SQL half of a parser calls, registered on the DuckDB connection.

Most of a parser's SQL half is plain DuckDB SQL (:mod:`pipelines.ingestion.sql_records`); what
DuckDB cannot say the way Spark does -- an XML feed's parse, Java regular expressions with
lookbehinds, Spark's full Unicode ``lower`` -- runs in Python, vectorised over Arrow arrays. A
parser registers what it calls in
:meth:`~pipelines.ingestion.payloads.PayloadParser.register_sql_functions`; every parser of a
dataset registers on the same connection, so registering is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from duckdb import func

from pipelines.ingestion.sql_records import Sql

if TYPE_CHECKING:
    import duckdb


def register_function(
    con: duckdb.DuckDBPyConnection,
    name: str,
    function: Callable[[pa.Array[Any]], pa.Array[Any]],
    parameters: Sequence[str],
    return_type: str,
) -> None:
    """Register ``function`` (vectorised: Arrow arrays in, an Arrow array out, nulls included)
    as the SQL function ``name`` of ``con``, once: registering it again is a no-op."""
    known = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [name]
    ).fetchall()
    if known[0][0]:
        return
    con.create_function(
        name,
        # Unannotated: DuckDB evaluates a function's annotations, and pa.Array[Any] is for mypy.
        lambda *columns: function(*columns),
        list(parameters),
        return_type,
        type=func.ARROW,
        null_handling=func.SPECIAL,
        side_effects=False,
    )


#: The Python function :func:`spark_lower` calls for text that is not ASCII.
SPARK_LOWER = "rwa_spark_lower"


def spark_lower(value: Sql) -> Sql:
    """Spark's ``lower``: full Unicode case mapping (``İ`` -> ``i̇``, a word's final ``Σ`` ->
    ``ς``), where DuckDB's maps each character to one (:func:`register_spark_lower`)."""
    return f"{SPARK_LOWER}({value})"


def register_spark_lower(con: duckdb.DuckDBPyConnection) -> None:
    register_function(con, SPARK_LOWER, _lower_texts, ["VARCHAR"], "VARCHAR")


def _lower_texts(texts: pa.Array[Any]) -> pa.Array[Any]:
    """ASCII text lowered by Arrow, other text by Python's ``str.lower`` (Unicode's full case
    mapping, as Spark's ICU lower-casing)."""
    texts = texts.cast(pa.string())
    if not pc.any(pc.invert(pc.string_is_ascii(texts))).as_py():  # nulls are skipped
        return pc.ascii_lower(texts)
    return pa.array([None if t is None else t.lower() for t in texts.to_pylist()], pa.string())


def bound_once(value: Sql, body: Callable[[Sql], Sql], name: str = "_bound") -> Sql:
    """``body(value)`` with ``value`` computed once per row (SQL has no ``let`` inside an
    expression): ``value`` is the lambda variable ``name`` of a one-element list's transform."""
    return f"(list_transform([{value}], lambda {name}: {body(name)}))[1]"
