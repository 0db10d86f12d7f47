"""The row-level checks of :mod:`pipelines.quality.suites` compiled to Spark Columns.

Each :class:`~pipelines.quality.suites.Check` becomes a nullable boolean Column with Great
Expectations' own semantics (its pandas engine, which the GX gate runs and which stays the
reference: ``tests/pipelines/quality/test_spark_rules.py`` checks that both agree):

* ``True``: the row is unexpected (it fails the check);
* ``False``: the row was checked and passes;
* null: GX does not count the row: outside the check's row filter, or a value the expectation
  ignores (a missing value for ``..._to_be_between`` and ``..._match_regex``, either value of a
  pair missing with ``ignore_row_if="either_value_is_missing"``).

"Missing" is what pandas calls missing after the Arrow batch becomes a frame: null, and NaN in a
float column (Spark keeps NaN apart from null and orders it above every number, so it is named
explicitly). What does not depend on Spark (the compiled types and their arguments, the regex
translation) is in :mod:`pipelines.quality.compiled`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DoubleType, FloatType, StructType, TimestampType

from pipelines.core.errors import ConfigurationError
from pipelines.quality.compiled import (
    BETWEEN,
    JAVA,
    MATCH_REGEX,
    NOT_NULL,
    PAIR_GREATER,
    between_bounds,
    pair_or_equal,
    require_compilable,
    share_of_present,
    translate_regex,
)
from pipelines.quality.compiled import CompiledCheck as _Compiled
from pipelines.quality.suites import Check, RowFilter

#: Python's whitespace set as the inside of a Java character class.
WHITESPACE_CLASS = JAVA.whitespace()

CompiledCheck = _Compiled[Column, Column]
_Builder = Callable[[Check, StructType], tuple[Column, Column, Column]]


def compile_check(check: Check, schema: StructType) -> CompiledCheck:
    """``check`` over rows of ``schema``; ConfigurationError for an unknown expectation type or
    argument."""
    require_compilable(check, "Spark")
    verdict, considered, sample = _BUILDERS[check.expectation](check, schema)
    scope = _scope(check.where)
    applies = considered if scope is None else scope & considered
    unexpected = F.when(applies, verdict)
    return _Compiled(check, unexpected, scope, sample, share_of_present(check))


def missing(name: str, schema: StructType) -> Column:
    """True where pandas sees a missing value: null, or NaN in a float column."""
    column = F.col(name)
    if isinstance(_type_of(name, schema), DoubleType | FloatType):
        return column.isNull() | F.isnan(column)
    return column.isNull()


def _not_null(check: Check, schema: StructType) -> tuple[Column, Column, Column]:
    (name,) = check.columns
    # Every row in scope counts; its verdict is whether the value is missing.
    return missing(name, schema), F.lit(True), _sample_value(name, schema)


def _between(check: Check, schema: StructType) -> tuple[Column, Column, Column]:
    (name,) = check.columns
    bounds = between_bounds(check)
    column = F.col(name)
    passes = F.lit(True)
    if bounds.low is not None:
        low = F.lit(bounds.low)
        passes &= column > low if bounds.strict_low else column >= low
    if bounds.high is not None:
        high = F.lit(bounds.high)
        passes &= column < high if bounds.strict_high else column <= high
    return ~passes, ~missing(name, schema), _sample_value(name, schema)


def _pair_greater(check: Check, schema: StructType) -> tuple[Column, Column, Column]:
    a, b = check.columns
    passes = F.col(a) >= F.col(b) if pair_or_equal(check) else F.col(a) > F.col(b)
    present = ~(missing(a, schema) | missing(b, schema))
    sample = F.struct(_sample_value(a, schema).alias("a"), _sample_value(b, schema).alias("b"))
    return ~passes, present, sample


def _match_regex(check: Check, schema: StructType) -> tuple[Column, Column, Column]:
    (name,) = check.columns
    pattern = java_regex(str(check.kwargs["regex"]))
    # GX searches (``str.contains``) the value's text, as ``rlike`` does.
    matches = F.col(name).cast("string").rlike(pattern)
    return ~matches, ~missing(name, schema), _sample_value(name, schema)


_BUILDERS: Mapping[str, _Builder] = {
    NOT_NULL: _not_null,
    BETWEEN: _between,
    PAIR_GREATER: _pair_greater,
    MATCH_REGEX: _match_regex,
}


def _scope(where: RowFilter | None) -> Column | None:
    """GX's row condition: rows whose column equals one of the values (null matches none)."""
    if where is None:
        return None
    return F.coalesce(F.col(where.column).isin(list(where.values)), F.lit(False))


def java_regex(pattern: str) -> str:
    """``pattern`` (Python ``re``) for Java's regex engine (:func:`translate_regex`)."""
    return translate_regex(pattern, JAVA)


def _sample_value(name: str, schema: StructType) -> Column:
    """The value as GX's result shows it; an instant as text (pandas prints it in UTC, and a
    collected Spark timestamp would be in the driver's local zone)."""
    column = F.col(name)
    if isinstance(_type_of(name, schema), TimestampType):
        return F.concat(F.date_format(column, "yyyy-MM-dd HH:mm:ss"), F.lit("+00:00"))
    return column


def _type_of(name: str, schema: StructType) -> DataType:
    try:
        return schema[name].dataType
    except KeyError:
        raise ConfigurationError(f"a check reads column {name!r}, absent from the rows") from None
