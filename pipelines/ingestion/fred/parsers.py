"""FRED payloads -> ``silver/economic`` records.

``/fred/series/observations`` (``fred`` is the real API; the ``simulated`` source imitates it, so
the registry gives both this parser): the series is ``params.series_id``, the region ``USA``;
``value`` is text and ``"."`` means "no value" (holidays): null, not refused. ``realtime_start``
is the observation's own vintage (else the document's, else the fetch date).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.ingestion.fred.connector import OBSERVATIONS_ENDPOINT
from pipelines.ingestion.payloads import Envelope, PayloadParser, Record, map_lookup, text_struct
from pipelines.ingestion.sql_records import (
    Sql,
    SqlEnvelope,
    SqlRecord,
    field,
    literal,
    when,
)
from pipelines.ingestion.sql_records import map_lookup as sql_map_lookup

#: What FRED's documents do not say about the series fetched (FRED's own metadata).
FRED_SERIES_FACTS: Mapping[str, tuple[str, str]] = {
    "DTB3": ("daily", "percent"),
    "DFF": ("daily", "percent"),
    "DGS10": ("daily", "percent"),
    "CPIAUCSL": ("monthly", "index 1982-1984=100"),
}


class FredObservations(PayloadParser):
    endpoints: tuple[str, ...] = (OBSERVATIONS_ENDPOINT,)
    shape: str = "FRED observations"
    params: tuple[str, ...] = ("series_id",)

    def __init__(self, source: str) -> None:
        self.source = source

    @property
    def payload_type(self) -> DataType:
        return StructType(
            [
                StructField("realtime_start", StringType()),
                StructField("units", StringType()),
                StructField(
                    "observations",
                    ArrayType(text_struct("realtime_start", "date", "value")),
                ),
            ]
        )

    def prepare(self, payload: Column) -> Column:
        """Each observation with the document's vintage beside it."""
        return F.transform(
            payload["observations"],
            lambda obs: obs.withField("document_start", payload["realtime_start"]),
        )

    def line_problem(self, prepared: Column) -> Column | None:
        return F.when(prepared.isNull(), F.lit(reasons.NO_OBSERVATIONS.text()))

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        series = record.text("series_id", envelope.param("series_id"), "params.series_id")
        record.set("region", F.lit("USA"))
        observed = record.set("observation_date", _date(record, item["date"], "date"))
        record.set("year", F.year(observed))
        record.number("value", item["value"], "value", required=False, missing_marker=".")
        facts = {k: v[0] for k, v in FRED_SERIES_FACTS.items()}
        units = {k: v[1] for k, v in FRED_SERIES_FACTS.items()}
        record.set("frequency", map_lookup(facts, series))
        record.set("units", F.coalesce(map_lookup(units, series), F.lit("lin")))
        vintage = F.coalesce(item["realtime_start"], item["document_start"])
        known = _date(record, vintage, "realtime_start", required=False)
        record.set("realtime_start", F.coalesce(known, F.to_date(envelope.fetched_at)))
        return record

    # --- the DuckDB half -------------------------------------------------------------------

    def sql_prepare(self, payload: Sql) -> Sql:
        # Spark's withField leaves a null observation null (struct_insert would fill it).
        document_start = field(payload, "realtime_start")
        return (
            f"list_transform({field(payload, 'observations')}, lambda obs: CASE WHEN obs IS NULL"
            f" THEN NULL ELSE struct_insert(obs, document_start := {document_start}) END)"
        )

    def sql_line_problem(self, prepared: Sql) -> Sql | None:
        return when(f"{prepared} IS NULL", literal(reasons.NO_OBSERVATIONS.text()))

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        series = record.text("series_id", envelope.param("series_id"), "params.series_id")
        record.set("region", literal("USA"))
        observed = record.set("observation_date", _sql_date(record, field(item, "date"), "date"))
        record.set("year", f"year({observed})")
        value = field(item, "value")
        record.number("value", value, "value", required=False, missing_marker=".")
        facts = {k: v[0] for k, v in FRED_SERIES_FACTS.items()}
        units = {k: v[1] for k, v in FRED_SERIES_FACTS.items()}
        record.set("frequency", sql_map_lookup(facts, series))
        record.set("units", f"coalesce({sql_map_lookup(units, series)}, 'lin')")
        vintage = f"coalesce({field(item, 'realtime_start')}, {field(item, 'document_start')})"
        known = _sql_date(record, vintage, "realtime_start", required=False)
        fetch_day = f"CAST({envelope.fetched_at} AS DATE)"
        record.set("realtime_start", f"coalesce({known}, {fetch_day})")
        return record


def _date(record: Record, text: Column, label: str, *, required: bool = True) -> Column:
    """A calendar date from ``YYYY-MM-DD`` text (:data:`DATE_TEXT`), a proleptic Gregorian
    calendar day within years 1-9999: a day of any other year (``+12345-01-01``) is refused as
    out of range, however far, since no reader of silver in Python could load it. Read from the
    text's parts, as the SQL half reads them, not by Spark's cast: the cast also fails past the
    years its day count holds (about 5.9 million), and then said "not a date" where the SQL
    half said "out of range"."""
    year, month, day = (
        record.once(f"{label}_date_{part}", value)
        for part, value in zip(("year", "month", "day"), _date_parts(text), strict=True)
    )
    valid = year.isNotNull() & month.between(1, 12) & day.between(1, _month_days(year, month))
    in_range = year.between(1, 9999)
    if required:
        record.check(text.isNull(), reasons.FIELD_MISSING.text(label=label))
    record.check(
        text.isNotNull() & ~valid,
        reasons.FIELD_NOT_A.text(label=label, kind="a date"),
    )
    record.check(valid & ~in_range, reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=label))
    return F.when(valid & in_range, F.make_date(year, month, day))


def _date_parts(text: Column) -> tuple[Column, Column, Column]:
    """The signed year, the month and the day of a :data:`DATE_TEXT` (a missing month or day
    is 1; the year is null where the text is no date)."""
    sign, year, month, day = (F.regexp_extract(text, _JAVA_DATE_TEXT, n) for n in (1, 2, 3, 4))
    signed = F.when(
        text.rlike(_JAVA_DATE_TEXT),
        F.when(sign == "-", F.lit(-1)).otherwise(F.lit(1)) * year.try_cast("long"),
    )
    return (
        signed,
        F.coalesce(F.nullif(month, F.lit("")).try_cast("long"), F.lit(1)),
        F.coalesce(F.nullif(day, F.lit("")).try_cast("long"), F.lit(1)),
    )


def _month_days(year: Column, month: Column) -> Column:
    """The days of ``month`` of ``year`` (proleptic Gregorian)."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return (
        F.when(month == 2, F.when(leap, F.lit(29)).otherwise(F.lit(28)))
        .when(month.isin(4, 6, 9, 11), F.lit(30))
        .otherwise(F.lit(31))
    )


#: A date's text, as both halves read it (the texts Spark's cast of text to a date reads,
#: ``DateTimeUtils.stringToDate``): after white space and control characters,
#: ``[+-]yyyy[yyy][-[m]m[-[d]d[(' '|'T')anything]]]``, then white space and control characters;
#: a missing month or day is 1. (A year of 8 digits or more is no date: ``20260105`` is not read
#: as the year 20,260,105.) ``\z``, not ``$``: Java's ``$`` also matches before a final line
#: separator such as U+2028, which the cast does not trim.
DATE_TEXT = (
    r"(?s)^[\x00-\x20\x7F]*(?P<sign>[+-]?)(?P<year>[0-9]{4,7})"
    r"(?:-(?P<month>[0-9]{1,2})(?:-(?P<day>[0-9]{1,2})(?:[ T].*)?)?)?[\x00-\x20\x7F]*\z"
)
#: :data:`DATE_TEXT` for Java's regexes, which write named groups otherwise: numbered groups.
_JAVA_DATE_TEXT = re.sub(r"\(\?P<[a-z]+>", "(", DATE_TEXT)


def _sql_date(record: SqlRecord, text: Sql, label: str, *, required: bool = True) -> Sql:
    """:func:`_date` in SQL (DuckDB's cast reads other texts than :data:`DATE_TEXT`)."""
    parts = record.once(
        f"{label}_date_parts",
        f"regexp_extract({text}, {literal(DATE_TEXT)}, ['sign', 'year', 'month', 'day'])",
    )
    sign = f"(CASE WHEN {field(parts, 'sign')} = '-' THEN -1 ELSE 1 END)"
    year = f"({sign} * TRY_CAST(nullif({field(parts, 'year')}, '') AS BIGINT))"
    month, day = (
        f"coalesce(TRY_CAST(nullif({field(parts, part)}, '') AS BIGINT), 1)"
        for part in ("month", "day")
    )
    leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
    month_days = (
        f"(CASE WHEN {month} = 2 THEN (CASE WHEN {leap} THEN 29 ELSE 28 END)"
        f" WHEN {month} IN (4, 6, 9, 11) THEN 30 ELSE 31 END)"
    )
    valid = (
        f"({year} IS NOT NULL AND {month} BETWEEN 1 AND 12 AND {day} BETWEEN 1 AND {month_days})"
    )
    in_range = f"({year} BETWEEN 1 AND 9999)"
    if required:
        record.check(f"({text} IS NULL)", reasons.FIELD_MISSING.text(label=label))
    record.check(
        f"({text} IS NOT NULL AND NOT {valid})",
        reasons.FIELD_NOT_A.text(label=label, kind="a date"),
    )
    record.check(f"({valid} AND NOT {in_range})", reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=label))
    return when(f"{valid} AND {in_range}", f"make_date({year}, {month}, {day})")
