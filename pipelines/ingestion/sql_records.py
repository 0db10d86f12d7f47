"""How a parser writes its records in DuckDB SQL: the vectorised half of a payload parser.

The DuckDB parsing engine (:mod:`pipelines.silver.duck_parsing`) reads each bronze line's
envelope once with ``json_transform`` (every payload field as text, like the Spark half),
explodes the payload's items and evaluates, per item, the SQL expressions a parser builds here:

* :class:`SqlRecord` is the twin of :class:`~pipelines.ingestion.payloads.Record`: typed setters
  that cast a text value safely and remember, in order, the structural problem each column can
  have; the first one is the record's reason. Reasons are the same texts
  (:mod:`pipelines.contracts.quarantine`), in the same order, as the Spark half gives.
* Expressions are DuckDB SQL text. Values a parser reads are built with :func:`field`,
  :func:`element` and the :class:`SqlEnvelope`; literals are always quoted by :func:`literal`
  (never formatted into SQL by hand), so a payload can never change the query.

Numbers are stricter than DuckDB's casts, which also read ``1_000``, ``0x10`` and round
``"1.5"`` into an integer: a number is decimal digits with an optional sign, fraction and
exponent (or a non-finite word, refused as such), an integer is digits with an optional sign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.measures import AMOUNT_LIMIT

#: A DuckDB SQL expression.
Sql = str

#: What both halves read as a number, an integer, a non-finite number and an instant: the same
#: texts whatever each engine's casts would also take (Java's reads "4.17F", DuckDB's "1_000";
#: Spark's timestamp cast reads a bare year). ``\z``, not ``$``: Java's ``$`` also matches
#: before a final line break.
NUMBER_TEXT = r"^ *[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)? *\z"
INTEGER_TEXT = r"^ *[+-]?[0-9]+ *\z"
#: Non-finite numbers as text, whether sent as strings ("Infinity") or as JSON literals.
NON_FINITE_TEXT = r'(?i)^ *"?[+-]?(inf|infinity|nan)"? *\z'
#: ISO-8601 instants, the forms both engines' casts read alike: a date, optionally a time
#: (hours 0-23, and minutes), then, only after seconds, ``Z`` or an offset of at most 18 hours,
#: with no space before it; spaces around the whole. (Left to the casts, Spark reads neither an
#: offset after ``hh:mm`` nor one beyond 18 hours nor hour 24, which DuckDB reads; DuckDB reads
#: no space before the offset, which Spark reads.)
INSTANT_TEXT = (
    r"^ *[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([T ]([01]?[0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-7])(:?[0-5][0-9])?|18(:?00)?))?)?)? *\z"
)
#: The instants silver keeps: UTC years 1-9999 (DuckDB's ``year`` of 1 BC is 1, so bounds).
_FIRST_INSTANT = "TIMESTAMPTZ '0001-01-01 00:00:00+00'"
_LAST_INSTANT = "TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'"
#: Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (the instants silver keeps).
EPOCH_SECONDS_RANGE = (-62_135_596_800, 253_402_300_799)
NULL: Sql = "NULL"


def literal(value: str | int | float | bool | None) -> Sql:
    """``value`` as a SQL literal (text quoted, quotes doubled)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"CAST('{value}' AS DOUBLE)"
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> Sql:
    return '"' + name.replace('"', '""') + '"'


def field(struct: Sql, name: str) -> Sql:
    """A field of a struct value (null when the struct is)."""
    return f"struct_extract({struct}, {literal(name)})"


def element(values: Sql, position: int) -> Sql:
    """Element ``position`` (0-based) of a list, null past its end (never an error)."""
    if position < 0:
        raise ValueError("positions count from the start")
    return f"({values})[{position + 1}]"


def when(condition: Sql, value: Sql, otherwise: Sql = NULL) -> Sql:
    return f"(CASE WHEN {condition} THEN {value} ELSE {otherwise} END)"


def matches(value: Sql, pattern: str) -> Sql:
    """Whether ``pattern`` (RE2) is found in ``value``, like Spark's ``rlike``."""
    return f"regexp_matches({value}, {literal(pattern)})"


def is_in(value: Sql, options: Sequence[str]) -> Sql:
    if not options:
        return "FALSE"
    return f"({value} IN ({', '.join(literal(option) for option in options)}))"


def first_problem(checks: Sequence[tuple[Sql, Sql]]) -> Sql:
    """``CASE WHEN c1 THEN r1 WHEN c2 THEN r2 ... END``: the first reason whose condition holds
    (a reason is a SQL expression: :func:`literal` for a fixed text)."""
    if not checks:
        return f"CAST({NULL} AS VARCHAR)"
    branches = " ".join(f"WHEN {condition} THEN {reason}" for condition, reason in checks)
    return f"(CASE {branches} ELSE NULL END)"


def map_lookup(mapping: Mapping[str, str], key: Sql) -> Sql:
    """``mapping[key]`` (null when absent)."""
    if not mapping:
        return f"CAST({NULL} AS VARCHAR)"
    branches = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in sorted(mapping.items()))
    return f"(CASE {key} {branches} ELSE NULL END)"


def instant(text: Sql) -> Sql:
    """An ISO-8601 text read as an instant (TIMESTAMPTZ; null when it is not one)."""
    # DuckDB's cast refuses a date alone followed by spaces, which Spark's reads: such a text
    # is cast again trimmed (only where the first cast failed: a trim of every text costs).
    cast = f"coalesce(TRY_CAST({text} AS TIMESTAMPTZ), TRY_CAST(trim({text}) AS TIMESTAMPTZ))"
    return when(matches(text, INSTANT_TEXT), cast)


def within_silver_years(instant: Sql) -> Sql:
    """Whether an instant lies within UTC years 1-9999."""
    return f"({instant} BETWEEN {_FIRST_INSTANT} AND {_LAST_INSTANT})"


def param_column(name: str) -> str:
    """The column the engine reads request parameter ``name`` into (once per line)."""
    return f"_param_{name}"


@dataclass(frozen=True, slots=True)
class SqlEnvelope:
    """The envelope fields a parser may read, as SQL over the line being parsed."""

    source: Sql
    endpoint: Sql
    fetched_at: Sql  # TIMESTAMPTZ
    #: Request parameters the parser declared (``PayloadParser.params``).
    declared: tuple[str, ...] = ()

    def param(self, name: str) -> Sql:
        """One request parameter as text (null when absent); only declared ones exist."""
        if name not in self.declared:
            raise ValueError(f"parameter {name!r} is not in the parser's declared params")
        return identifier(param_column(name))


class SqlRecord:
    """The silver columns of one record, in DuckDB SQL, with their structural problems (the
    twin of :class:`~pipelines.ingestion.payloads.Record`: same checks, same order, same
    reasons)."""

    def __init__(self) -> None:
        self.columns: dict[str, Sql] = {}
        self.problems: list[tuple[Sql, Sql]] = []
        #: The casts the columns and checks read, by the name they are computed under (the
        #: engine computes them in a projection of their own, so each is cast once).
        self.casts: dict[str, Sql] = {}

    def set(self, column: str, value: Sql) -> Sql:
        """A column derived without a check (a constant, or from already-checked columns)."""
        self.columns[column] = value
        return value

    def text(self, column: str, value: Sql, label: str, *, required: bool = True) -> Sql:
        if required:
            self._missing(value, label)
        return self.set(column, value)

    def number(
        self,
        column: str,
        value: Sql,
        label: str,
        *,
        required: bool = True,
        integer: bool = False,
        missing_marker: str | None = None,
        limit: float = AMOUNT_LIMIT,
    ) -> Sql:
        """A finite double (or bigint) from text, at most ``limit`` in magnitude; see
        :meth:`pipelines.ingestion.payloads.Record.number`."""
        if missing_marker is not None:
            value = when(f"{value} <> {literal(missing_marker)}", value)
        named = matches(value, NON_FINITE_TEXT)
        # Non-finite words are read (as the Spark half reads them) and then refused as such.
        readable = f"({matches(value, NUMBER_TEXT)} OR {named})"
        as_double = self._cast(column, when(readable, f"TRY_CAST({value} AS DOUBLE)"), "double")
        # A text that names a non-finite number reads as one or as nothing (a quoted "NaN"),
        # never as a finite number: the pattern is matched again only where nothing was read.
        read_non_finite = f"(isnan({as_double}) OR isinf({as_double}))"
        non_finite = f"({read_non_finite} OR ({as_double} IS NULL AND {named}))"
        if required:
            self._missing(value, label)
        self.check(
            f"({value} IS NOT NULL AND {non_finite})",
            reasons.FIELD_NOT_FINITE.text(label=label),
        )
        if integer:
            typed = self._cast(
                column, when(matches(value, INTEGER_TEXT), f"TRY_CAST({value} AS BIGINT)"), "long"
            )
        else:  # a non-finite number leaves its column null (see Record.number)
            typed = when(read_non_finite, NULL, as_double)
        kind = "an integer" if integer else "a number"
        self._typed(column, value, typed, label, kind, required=False)
        self.check(
            f"(abs({as_double}) > {literal(limit)})",
            reasons.FIELD_BEYOND_LIMIT.text(label=label, limit=limit),
        )
        return typed

    def timestamp(self, column: str, value: Sql, label: str, *, required: bool = True) -> Sql:
        """An instant from ISO-8601 text (``Z`` or an offset; naive text is read as UTC),
        within UTC years 1-9999."""
        parsed = self._cast(column, instant(value), "timestamp")
        self._typed(column, value, parsed, label, "a timestamp", required)
        in_range = within_silver_years(parsed)
        self.check(
            f"({parsed} IS NOT NULL AND NOT {in_range})",
            reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=label),
        )
        return self.set(column, when(in_range, parsed))

    def epoch(
        self, column: str, value: Sql, label: str, *, millis: bool, required: bool = True
    ) -> Sql:
        """An instant from Unix seconds or milliseconds given as a number or digits."""
        scale = 1000 if millis else 1
        low, high = (bound * scale for bound in EPOCH_SECONDS_RANGE)
        number = self._cast(
            column, when(matches(value, INTEGER_TEXT), f"TRY_CAST({value} AS BIGINT)"), "long"
        )
        micros = f"{number} * {1_000_000 // scale}"
        typed = when(
            f"{number} BETWEEN {low} AND {high}", f"CAST(make_timestamp({micros}) AS TIMESTAMPTZ)"
        )
        kind = "a Unix time in " + ("milliseconds" if millis else "seconds")
        return self._typed(column, value, typed, label, kind, required)

    def lookup(self, column: str, key: Sql, mapping: Mapping[str, str], reason: str) -> Sql:
        """A value looked up in reference data; a key that is present but unknown refuses the
        record with ``reason`` (a missing key is the caller's ``text`` check)."""
        found = map_lookup(mapping, key)
        self.check(f"({key} IS NOT NULL AND {found} IS NULL)", reason)
        return self.set(column, found)

    def daily(self, instant: Sql) -> None:
        """``ts`` the start of the UTC day of ``instant``, ``date`` that day."""
        ts = self.set("ts", f"date_trunc('day', {instant})")
        self.set("date", f"CAST({ts} AS DATE)")

    def check(self, condition: Sql, reason: str) -> None:
        """Another structural problem (a fixed reason text), in declaration order."""
        self.problems.append((condition, literal(reason)))

    def problem(self) -> Sql:
        """The first problem of the record, or null when it has none."""
        return first_problem(self.problems)

    def once(self, name: str, value: Sql) -> Sql:
        """``value`` computed once per record, as column ``_<name>`` of the projection the
        engine computes before the columns and checks (which read it several times: DuckDB
        plans a query that repeats a long expression slowly)."""
        column = f"_{name}"
        if column in self.casts:  # the same name twice: each value keeps its own column
            column = f"{column}_{len(self.casts)}"
        self.casts[column] = value
        return identifier(column)

    def _cast(self, column: str, value: Sql, to: str) -> Sql:
        return self.once(f"{column}_as_{to}", value)

    def _typed(
        self, column: str, value: Sql, typed: Sql, label: str, kind: str, required: bool
    ) -> Sql:
        if required:
            self._missing(value, label)
        self.check(
            f"({value} IS NOT NULL AND {typed} IS NULL)",
            reasons.FIELD_NOT_A.text(label=label, kind=kind),
        )
        return self.set(column, typed)

    def _missing(self, value: Sql, label: str) -> None:
        self.check(f"({value} IS NULL)", reasons.FIELD_MISSING.text(label=label))
