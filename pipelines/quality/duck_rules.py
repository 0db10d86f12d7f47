"""The row-level checks of :mod:`pipelines.quality.suites` compiled to DuckDB SQL expressions.

The twin of :mod:`pipelines.quality.spark_rules`: each
:class:`~pipelines.quality.suites.Check` becomes a nullable boolean SQL expression with Great
Expectations' own semantics (its pandas engine, the reference:
``tests/pipelines/quality/test_duck_rules.py`` checks that both agree): True the row is
unexpected, False it passes, NULL GX does not count it (see
:class:`~pipelines.quality.compiled.CompiledCheck`).

Where DuckDB differs from pandas it is spelled out: "missing" is NULL, and NaN in a FLOAT or
DOUBLE column (DuckDB, like Spark, keeps NaN apart from NULL and orders it above every number);
a regex is translated for RE2 (:data:`~pipelines.quality.compiled.RE2`: Python's Unicode
``\\s``, ``$`` before a final newline; what is not translated is refused). Expressions are
vectorised SQL only (no Python function per row). An expectation type or argument not compiled
raises :class:`ConfigurationError`: a new check can never be skipped silently.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.core.errors import ConfigurationError
from pipelines.ingestion.sql_records import identifier
from pipelines.ingestion.sql_records import literal as sql_literal
from pipelines.quality.compiled import (
    BETWEEN,
    MATCH_REGEX,
    NOT_NULL,
    PAIR_GREATER,
    RE2,
    between_bounds,
    pair_or_equal,
    require_compilable,
    share_of_present,
    translate_regex,
)
from pipelines.quality.compiled import CompiledCheck as _Compiled
from pipelines.quality.suites import Check, RowFilter

#: Column name -> its DuckDB type, as ``str(DuckDBPyType)`` spells it ("DOUBLE", ...).
ColumnTypes = Mapping[str, str]
_FLOATS = frozenset({"FLOAT", "DOUBLE"})
_INSTANT = "TIMESTAMP WITH TIME ZONE"


@dataclass(frozen=True, slots=True)
class Sample:
    """How an unexpected row's value is sampled: ``values``, plain SQL values that the sample
    aggregates read on every row (so as cheap as can be: a formatted text would be formatted
    on every row), never NULL where the check is unexpected; and ``shown``, the value GX lists,
    made from one row's ``values`` in Python (at most a few rows per check)."""

    values: tuple[str, ...]
    shown: Callable[[Sequence[Any]], Any]


#: A compiled check's expressions are SQL text.
CompiledCheck = _Compiled[str, Sample]
_Builder = Callable[[Check, ColumnTypes], tuple[str, str, Sample]]


def bound(value: object) -> str:
    """A bound of a check as a typed DuckDB literal; ConfigurationError for other types."""
    if isinstance(value, bool | int | str):
        return sql_literal(value)
    if isinstance(value, float):
        # repr round-trips every double, infinities ('inf') and NaN included.
        return f"CAST({sql_literal(repr(value))} AS DOUBLE)"
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMP" if value.tzinfo is None else "TIMESTAMPTZ"
        return f"CAST({sql_literal(value.isoformat())} AS {kind})"
    if isinstance(value, dt.date):
        return f"CAST({sql_literal(value.isoformat())} AS DATE)"
    raise ConfigurationError(f"a check bound {value!r} ({type(value).__name__}) has no SQL form")


def re2_regex(pattern: str) -> str:
    """``pattern`` (Python ``re``) for RE2 (:func:`~pipelines.quality.compiled.translate_regex`)."""
    return translate_regex(pattern, RE2)


#: Python's whitespace set as the inside of an RE2 character class.
WHITESPACE_CLASS = RE2.whitespace()


def has_text(column: str) -> str:
    """TRUE where ``column`` holds a character Python's ``str.strip()`` keeps."""
    return f"regexp_matches({column}, {sql_literal(f'[^{WHITESPACE_CLASS}]')})"


def compile_check(check: Check, types: ColumnTypes) -> CompiledCheck:
    """``check`` over rows whose columns have ``types``; ConfigurationError for an unknown
    expectation type or argument, or a column absent from ``types``."""
    require_compilable(check, "DuckDB")
    verdict, considered, sample = _BUILDERS[check.expectation](check, types)
    scope = _scope(check.where, types)
    applies = considered if scope is None else f"{scope} AND {considered}"
    unexpected = f"CASE WHEN {applies} THEN {verdict} END"
    return _Compiled(check, unexpected, scope, sample, share_of_present(check))


def missing(name: str, types: ColumnTypes) -> str:
    """TRUE where pandas sees a missing value: NULL, or NaN in a float column."""
    column = identifier(name)
    if _type_of(name, types) in _FLOATS:
        return f"({column} IS NULL OR isnan({column}))"
    return f"({column} IS NULL)"


def _not_null(check: Check, types: ColumnTypes) -> tuple[str, str, Sample]:
    (name,) = check.columns
    # Every row in scope counts; its verdict is whether the value is missing. An unexpected
    # value is NULL or (in a float column) NaN: which one is all the sample needs.
    sample = Sample((f"({identifier(name)} IS NULL)",), lambda v: None if v[0] else math.nan)
    return missing(name, types), "TRUE", sample


def _between(check: Check, types: ColumnTypes) -> tuple[str, str, Sample]:
    (name,) = check.columns
    bounds = between_bounds(check)
    column = identifier(name)
    passes = []
    if bounds.low is not None:
        passes.append(f"{column} {'>' if bounds.strict_low else '>='} {bound(bounds.low)}")
    if bounds.high is not None:
        passes.append(f"{column} {'<' if bounds.strict_high else '<='} {bound(bounds.high)}")
    verdict = f"NOT ({' AND '.join(passes)})"
    return verdict, f"NOT {missing(name, types)}", _sample_value(name, types)


def _pair_greater(check: Check, types: ColumnTypes) -> tuple[str, str, Sample]:
    a, b = check.columns
    verdict = f"NOT ({identifier(a)} {'>=' if pair_or_equal(check) else '>'} {identifier(b)})"
    present = f"NOT ({missing(a, types)} OR {missing(b, types)})"
    shown_a, shown_b = _shown(a, types), _shown(b, types)
    sample = Sample((identifier(a), identifier(b)), lambda v: [shown_a(v[0]), shown_b(v[1])])
    return verdict, present, sample


def _match_regex(check: Check, types: ColumnTypes) -> tuple[str, str, Sample]:
    (name,) = check.columns
    pattern = re2_regex(str(check.kwargs["regex"]))
    # GX searches (``str.contains``) the value's text, as ``regexp_matches`` does.
    matches = f"regexp_matches(CAST({identifier(name)} AS VARCHAR), {sql_literal(pattern)})"
    return f"NOT {matches}", f"NOT {missing(name, types)}", _sample_value(name, types)


_BUILDERS: Mapping[str, _Builder] = {
    NOT_NULL: _not_null,
    BETWEEN: _between,
    PAIR_GREATER: _pair_greater,
    MATCH_REGEX: _match_regex,
}


def _scope(where: RowFilter | None, types: ColumnTypes) -> str | None:
    """GX's row condition: rows whose column equals one of the values (NULL matches none)."""
    if where is None:
        return None
    _type_of(where.column, types)
    values = ", ".join(sql_literal(v) for v in where.values)
    return f"coalesce({identifier(where.column)} IN ({values}), FALSE)"


def _sample_value(name: str, types: ColumnTypes) -> Sample:
    shown = _shown(name, types)
    return Sample((identifier(name),), lambda v: shown(v[0]))


def _shown(name: str, types: ColumnTypes) -> Callable[[Any], Any]:
    """The value as the Spark gate's result shows it: an instant as UTC text."""
    return utc_text if _type_of(name, types) == _INSTANT else _same


def utc_text(instant: dt.datetime) -> str:
    """An instant as the Spark gate's samples show it ("2026-03-01 12:00:00+00:00")."""
    return instant.astimezone(dt.UTC).isoformat(sep=" ", timespec="seconds")


def _same(value: Any) -> Any:
    return value


def _type_of(name: str, types: ColumnTypes) -> str:
    try:
        return types[name]
    except KeyError:
        raise ConfigurationError(f"a check reads column {name!r}, absent from the rows") from None
