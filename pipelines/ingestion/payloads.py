"""How a source's payload becomes silver records: the parser base every source package builds on.

A source package (:mod:`pipelines.ingestion.coingecko`, ...) declares, next to the connector
that fetches its payloads, one :class:`PayloadParser` per payload shape it lands; the ingestion
registry (:mod:`pipelines.ingestion.registry`) lists them per silver dataset, and the silver
dataset specs (:mod:`pipelines.silver.registry`) take them from there. The Spark parsing engine
(:mod:`pipelines.silver.parsing`) runs them.

A parser turns the typed payload of one envelope into records, in Spark column expressions:

* :attr:`PayloadParser.payload_type` is the Spark type the payload is read into (fields as
  text, so ``"101.5"`` and ``101.5`` both arrive and a bad value refuses one record, never the
  batch; unknown extra fields are ignored: additive changes are accepted);
* :meth:`PayloadParser.items` picks the array of records out of the payload;
* :meth:`PayloadParser.record` fills a :class:`Record` with the silver columns of one item. The
  record's typed setters cast with ``try_cast`` and remember, in order, the structural problem
  each column can have ("field 'price_open' is not a number"); the first one is the reason the
  record is refused. Business rules (positive prices, bands) are not here: they are the quality
  gate's (:mod:`pipelines.quality`).

No input may crash a batch: parsers read arrays with ``get`` (null past the end, where
``item[i]`` raises under ANSI mode), cast with ``try_cast`` and keep instants inside Spark's
range before any arithmetic, so every shape of payload ends as records or refusals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.measures import AMOUNT_LIMIT
from pipelines.ingestion.sql_records import (
    INSTANT_TEXT,
    INTEGER_TEXT,
    NON_FINITE_TEXT,
    NUMBER_TEXT,
    Sql,
    SqlEnvelope,
    SqlRecord,
)

if TYPE_CHECKING:
    import duckdb

#: Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, Spark's range of instants: an
#: epoch outside it would overflow (an error under ANSI mode) instead of being refused.
_EPOCH_SECONDS_RANGE = (-62_135_596_800, 253_402_300_799)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The envelope fields a parser may read, as Spark columns of the record being built."""

    source: Column
    endpoint: Column
    fetched_at: Column  # typed: timestamp
    #: Request parameters the parser declared (:attr:`PayloadParser.params`).
    declared: tuple[str, ...] = ()

    def param(self, name: str) -> Column:
        """One request parameter as text (null when absent). Read once per bronze line, before
        its records are exploded, so only declared parameters are available."""
        if name not in self.declared:
            raise ValueError(f"parameter {name!r} is not in the parser's declared params")
        return F.col(param_column(name))


def param_column(name: str) -> str:
    return f"_param_{name}"


class Record:
    """The silver columns of one record, built by a parser, with their structural problems.

    Every typed setter casts a text value safely and records why the record would be refused:
    a required value that is missing, or a value that does not parse. ``label`` is the source
    field named in the reason, so quarantine says what the source sent wrong.
    """

    def __init__(self) -> None:
        self.columns: dict[str, Column] = {}
        self.problems: list[tuple[Column, str]] = []
        #: The casts the columns and checks read, by the name they are computed under: the
        #: engine computes them first, so each value is cast once (Spark does not share a cast
        #: between the branches of the CASE WHEN that picks the first problem).
        self.casts: dict[str, Column] = {}

    def set(self, column: str, value: Column) -> Column:
        """A column derived without a check (a constant, or from already-checked columns)."""
        self.columns[column] = value
        return value

    def text(self, column: str, value: Column, label: str, *, required: bool = True) -> Column:
        if required:
            self._missing(value, label)
        return self.set(column, value)

    def number(
        self,
        column: str,
        value: Column,
        label: str,
        *,
        required: bool = True,
        integer: bool = False,
        missing_marker: str | None = None,
        limit: float = AMOUNT_LIMIT,
    ) -> Column:
        """A finite double (or long) from text, at most ``limit`` in magnitude;
        ``missing_marker`` is the source's "no value" text (FRED's ``"."``), read as null rather
        than refused. NaN and infinities are refused however they are written."""
        if missing_marker is not None:
            value = F.when(value != F.lit(missing_marker), value)
        # try_cast reads "Infinity", "NaN" and overflowing "1e400" as non-finite doubles; only
        # the texts both engines read as numbers reach it (Java also reads "4.17F").
        number_text = value.rlike(NUMBER_TEXT) | value.rlike(NON_FINITE_TEXT)
        as_double = self._cast(column, F.when(number_text, value), "double")
        # The regex only where the cast found no number (text it reads as finite never
        # matches it): a regex per value is what a bar's parse cost most.
        read_non_finite = F.isnan(as_double) | (F.abs(as_double) == F.lit(float("inf")))
        non_finite = read_non_finite | (as_double.isNull() & value.rlike(NON_FINITE_TEXT))
        if required:
            self._missing(value, label)
        self.check(value.isNotNull() & non_finite, reasons.FIELD_NOT_FINITE.text(label=label))
        # A non-finite number refuses the record and leaves its column null: where it was sent
        # as a JSON literal Spark's text of it is quoted (``"Infinity"``), and only the SQL
        # half's cast read it.
        finite = F.when(read_non_finite, F.lit(None)).otherwise(as_double)
        typed = self._cast(column, integer_text(value), "long") if integer else finite
        kind = "an integer" if integer else "a number"
        self._typed(column, value, typed, label, kind, required=False)
        self.check(
            F.abs(as_double) > F.lit(limit),
            reasons.FIELD_BEYOND_LIMIT.text(label=label, limit=limit),
        )
        return typed

    def timestamp(self, column: str, value: Column, label: str, *, required: bool = True) -> Column:
        """An instant from ISO-8601 text (``Z`` or an offset; naive text is read as UTC), within
        UTC years 1-9999: Spark reads offsets past them (``0001-01-01T00:00:00+01:00``), which no
        Python reader of silver could load, so such an instant refuses the record."""
        parsed = self._cast(column, F.when(value.rlike(INSTANT_TEXT), value), "timestamp")
        self._typed(column, value, parsed, label, "a timestamp", required)
        in_range = F.year(parsed).between(1, 9999)
        self.check(
            parsed.isNotNull() & ~in_range, reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=label)
        )
        return self.set(column, F.when(in_range, parsed))

    def epoch(
        self, column: str, value: Column, label: str, *, millis: bool, required: bool = True
    ) -> Column:
        """An instant from Unix seconds or milliseconds given as a number or digits."""
        scale = 1000 if millis else 1
        low, high = (bound * scale for bound in _EPOCH_SECONDS_RANGE)
        number = self._cast(column, integer_text(value), "long")
        in_range = F.when(number.between(low, high), number)
        typed = F.timestamp_millis(in_range) if millis else F.timestamp_seconds(in_range)
        kind = "a Unix time in " + ("milliseconds" if millis else "seconds")
        return self._typed(column, value, typed, label, kind, required)

    def lookup(self, column: str, key: Column, mapping: Mapping[str, str], reason: str) -> Column:
        """A value looked up in reference data; a key that is present but unknown refuses the
        record with ``reason`` (a missing key is the caller's ``text`` check)."""
        found = map_lookup(mapping, key)
        self.problems.append((key.isNotNull() & found.isNull(), reason))
        return self.set(column, found)

    def daily(self, instant: Column) -> None:
        """``ts`` the start of the UTC day of ``instant``, ``date`` that day: for sources that
        report one value per day."""
        ts = self.set("ts", F.date_trunc("day", instant))
        self.set("date", F.to_date(ts))

    def check(self, condition: Column, reason: str) -> None:
        """Another structural problem, in the order the checks are declared."""
        self.problems.append((condition, reason))

    def problem(self) -> Column:
        """The first problem of the record, or null when it has none."""
        return first_problem(self.problems)

    def once(self, name: str, value: Column) -> Column:
        """``value`` computed once per record, as column ``_<name>`` of the projection the
        engine computes before the columns and checks (which read it several times: inlined
        into each, a long expression also grows Spark's generated code past what it compiles).
        The twin of :meth:`SqlRecord.once`."""
        column = f"_{name}"
        if column in self.casts:  # the same name twice: each value keeps its own column
            column = f"{column}_{len(self.casts)}"
        self.casts[column] = value
        return F.col(column)

    def _cast(self, column: str, value: Column, to: str) -> Column:
        return self.once(f"{column}_as_{to}", value.try_cast(to))

    def _typed(
        self, column: str, value: Column, typed: Column, label: str, kind: str, required: bool
    ) -> Column:
        if required:
            self._missing(value, label)
        self.problems.append(
            (value.isNotNull() & typed.isNull(), reasons.FIELD_NOT_A.text(label=label, kind=kind))
        )
        return self.set(column, typed)

    def _missing(self, value: Column, label: str) -> None:
        self.problems.append((value.isNull(), reasons.FIELD_MISSING.text(label=label)))


def integer_text(value: Column) -> Column:
    """``value`` where it is an integer's text (null elsewhere): Spark's cast also reads
    ``"7.0"``."""
    return F.when(value.rlike(INTEGER_TEXT), value)


def first_problem(checks: Sequence[tuple[Column, str | Column]]) -> Column:
    """``CASE WHEN c1 THEN r1 WHEN c2 THEN r2 ... END``: the first reason whose condition holds
    (a reason is a text, or a column computing it)."""
    expr: Column = F.lit(None).cast(StringType())
    for condition, reason in reversed(checks):
        expr = F.when(condition, reason if isinstance(reason, Column) else F.lit(reason)).otherwise(
            expr
        )
    return expr


def map_lookup(mapping: Mapping[str, str], key: Column) -> Column:
    """``mapping[key]`` as a Spark expression (null when absent)."""
    if not mapping:
        return F.lit(None).cast(StringType())
    literal = F.create_map(*(F.lit(part) for item in sorted(mapping.items()) for part in item))
    return F.try_element_at(literal, key)


class PayloadParser(ABC):
    """Turns the payload of one (source, endpoint) into silver records; see the module doc."""

    #: Envelope ``source`` (and bronze ``source=`` partition) this parser reads.
    source: str
    #: Envelope endpoints it reads; empty = every endpoint of the source.
    endpoints: tuple[str, ...] = ()
    #: The payload shape in words, for the reason of a payload that does not fit it.
    shape: str
    #: Request parameters (``params.<name>``) the records are built from.
    params: tuple[str, ...] = ()

    @property
    @abstractmethod
    def payload_type(self) -> DataType:
        """Spark type the payload is parsed into (fields as text where values need casting)."""

    def prepare(self, payload: Column) -> Column:
        """The payload made ready for :meth:`items` (default: as parsed)."""
        return payload

    def line_problem(self, prepared: Column) -> Column | None:
        """Why a payload that parsed is still unusable as a whole (null: usable)."""
        return None

    def line_record(self, envelope: Envelope) -> Record:
        """The columns (and their checks) that depend on the envelope alone, e.g. the asset of a
        request parameter: computed once per bronze line, before its records are exploded. Its
        problems come before :meth:`record`'s (default: none)."""
        return Record()

    @abstractmethod
    def items(self, prepared: Column) -> Column:
        """The array of records in the (prepared) payload."""

    @abstractmethod
    def record(self, item: Column, envelope: Envelope) -> Record:
        """The silver columns of one item."""

    # --- the DuckDB half (pipelines.ingestion.sql_records): the same steps, in SQL ---------

    def sql_prepare(self, payload: Sql) -> Sql:
        """:meth:`prepare` in SQL (default: as parsed)."""
        return payload

    def sql_line_problem(self, prepared: Sql) -> Sql | None:
        """:meth:`line_problem` in SQL (null: usable)."""
        return None

    def sql_line_record(self, envelope: SqlEnvelope) -> SqlRecord:
        """:meth:`line_record` in SQL (default: none)."""
        return SqlRecord()

    @abstractmethod
    def sql_items(self, prepared: Sql) -> Sql:
        """:meth:`items` in SQL: a list expression."""

    @abstractmethod
    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        """:meth:`record` in SQL."""

    def register_sql_functions(self, con: duckdb.DuckDBPyConnection) -> None:
        """Register the scalar functions the SQL half calls (a parser that needs Python, such
        as an XML feed's, registers it here; default: none)."""
        del con


@dataclass(frozen=True, slots=True)
class IgnoredEndpoint:
    """An endpoint that lands in a dataset's bronze but holds no records of its silver table;
    its lines are counted (``bronze_lines``) and otherwise left in bronze, for the reason
    given (documented in docs/silver.md)."""

    source: str
    endpoint: str
    why: str


def text_struct(*names: str) -> StructType:
    """A struct of text fields: how parsers read JSON objects whose values need casting."""
    return StructType([StructField(name, StringType()) for name in names])
