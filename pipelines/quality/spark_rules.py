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
explicitly). An expectation type or argument this module does not know raises
:class:`ConfigurationError`: a new check can never be skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DoubleType, FloatType, StructType, TimestampType

from pipelines.core.errors import ConfigurationError
from pipelines.quality.suites import Check, RowFilter

#: Every character Python's ``re`` (GX's pandas engine) calls whitespace (``\\s``, the
#: characters ``str.strip()`` removes). Java's ``\\s`` (Spark's ``rlike``) means ASCII only.
#: No code point above U+3000 is whitespace (the tests scan all of them), so the import does not.
PYTHON_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
#: The same set as the inside of a Java character class.
WHITESPACE_CLASS = "".join(f"\\u{ord(c):04x}" for c in PYTHON_WHITESPACE)
#: Regex escapes whose meaning differs between Python and Java and are not translated.
_UNTRANSLATED = frozenset("wWdDbB")


@dataclass(frozen=True, slots=True)
class CompiledCheck:
    """A check as Spark expressions over the batch (with its derived columns).

    ``unexpected`` is the three-valued verdict above; ``scope`` the check's row filter (None:
    every row); ``sample`` the value GX lists for an unexpected row (a pair for pair checks);
    ``share_of_present`` whether GX reports the unexpected share among the rows it counted
    (every type but not-null, whose share is of all rows in scope)."""

    check: Check
    unexpected: Column
    scope: Column | None
    sample: Column
    share_of_present: bool


_Builder = Callable[[Check, StructType], tuple[Column, Column, Column, bool]]


def compile_check(check: Check, schema: StructType) -> CompiledCheck:
    """``check`` over rows of ``schema``; ConfigurationError for an unknown expectation type or
    argument."""
    builder = _BUILDERS.get(check.expectation)
    if builder is None:
        known = ", ".join(sorted(_BUILDERS))
        raise ConfigurationError(
            f"expectation type {check.expectation!r} has no Spark compilation "
            f"(pipelines/quality/spark_rules.py); compiled types: {known}"
        )
    _require_known_kwargs(check)
    verdict, considered, sample, share_of_present = builder(check, schema)
    scope = _scope(check.where)
    applies = considered if scope is None else scope & considered
    unexpected = F.when(applies, verdict)
    return CompiledCheck(check, unexpected, scope, sample, share_of_present)


def missing(name: str, schema: StructType) -> Column:
    """True where pandas sees a missing value: null, or NaN in a float column."""
    column = F.col(name)
    if isinstance(_type_of(name, schema), DoubleType | FloatType):
        return column.isNull() | F.isnan(column)
    return column.isNull()


def _not_null(check: Check, schema: StructType) -> tuple[Column, Column, Column, bool]:
    (name,) = check.columns
    # Every row in scope counts; its verdict is whether the value is missing.
    return missing(name, schema), F.lit(True), _sample_value(name, schema), False


def _between(check: Check, schema: StructType) -> tuple[Column, Column, Column, bool]:
    (name,) = check.columns
    kw = check.kwargs
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is None and high is None:
        raise ConfigurationError(f"{check.says}: min_value and max_value are both None")
    column = F.col(name)
    passes = F.lit(True)
    if low is not None:
        passes &= column > F.lit(low) if kw.get("strict_min") else column >= F.lit(low)
    if high is not None:
        passes &= column < F.lit(high) if kw.get("strict_max") else column <= F.lit(high)
    return ~passes, ~missing(name, schema), _sample_value(name, schema), True


def _pair_greater(check: Check, schema: StructType) -> tuple[Column, Column, Column, bool]:
    a, b = check.columns
    ignore = check.kwargs.get("ignore_row_if", "both_values_are_missing")
    if ignore != "either_value_is_missing":
        raise ConfigurationError(f"{check.says}: ignore_row_if={ignore!r} is not compiled")
    passes = F.col(a) >= F.col(b) if check.kwargs.get("or_equal") else F.col(a) > F.col(b)
    present = ~(missing(a, schema) | missing(b, schema))
    sample = F.struct(_sample_value(a, schema).alias("a"), _sample_value(b, schema).alias("b"))
    return ~passes, present, sample, True


def _match_regex(check: Check, schema: StructType) -> tuple[Column, Column, Column, bool]:
    (name,) = check.columns
    pattern = java_regex(str(check.kwargs["regex"]))
    # GX searches (``str.contains``) the value's text, as ``rlike`` does.
    matches = F.col(name).cast("string").rlike(pattern)
    return ~matches, ~missing(name, schema), _sample_value(name, schema), True


_BUILDERS: Mapping[str, _Builder] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_between": _between,
    "expect_column_pair_values_a_to_be_greater_than_b": _pair_greater,
    "expect_column_values_to_match_regex": _match_regex,
}

#: The arguments each compiled type understands (anything else would change GX's verdict).
_KNOWN_KWARGS: Mapping[str, frozenset[str]] = {
    "expect_column_values_to_not_be_null": frozenset({"column"}),
    "expect_column_values_to_be_between": frozenset(
        {"column", "min_value", "max_value", "strict_min", "strict_max"}
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": frozenset(
        {"column_A", "column_B", "or_equal", "ignore_row_if"}
    ),
    "expect_column_values_to_match_regex": frozenset({"column", "regex"}),
}


def _require_known_kwargs(check: Check) -> None:
    unknown = sorted(set(check.kwargs) - _KNOWN_KWARGS[check.expectation])
    if unknown:
        raise ConfigurationError(
            f"{check.expectation} argument(s) {', '.join(unknown)} are not compiled to Spark"
        )


def _scope(where: RowFilter | None) -> Column | None:
    """GX's row condition: rows whose column equals one of the values (null matches none)."""
    if where is None:
        return None
    return F.coalesce(F.col(where.column).isin(list(where.values)), F.lit(False))


def java_regex(pattern: str) -> str:
    """``pattern`` (Python ``re``) for Java's regex engine, with ``\\s``/``\\S`` spelled as
    Python's whitespace set; ConfigurationError for escapes whose meaning differs otherwise."""
    out: list[str] = []
    in_class, i = False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            out.append(_translated_escape(escaped, in_class, pattern))
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _translated_escape(escaped: str, in_class: bool, pattern: str) -> str:
    if escaped in _UNTRANSLATED or (escaped == "S" and in_class):
        raise ConfigurationError(
            f"regex {pattern!r}: \\{escaped} differs between Python (GX) and Java (Spark)"
        )
    if escaped == "s":
        return WHITESPACE_CLASS if in_class else f"[{WHITESPACE_CLASS}]"
    if escaped == "S":
        return f"[^{WHITESPACE_CLASS}]"
    return "\\" + escaped


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
