"""World Bank payloads -> ``silver/economic`` records.

``/country/{iso}/indicator/{code}``: ``[metadata, rows]``; a row is an annual observation of
``indicator.id`` for ``countryiso3code``, dated on the first day of its year (FRED's convention
for periods), ``value`` a number or null. The World Bank keeps no vintages, so
``realtime_start`` is the fetch date.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.ingestion.payloads import Envelope, PayloadParser, Record, text_struct
from pipelines.ingestion.sql_records import (
    Sql,
    SqlEnvelope,
    SqlRecord,
    element,
    field,
    literal,
    matches,
    when,
)
from pipelines.ingestion.worldbank.connector import INDICATOR_ENDPOINT, WorldBankSource

_WB_ROW = StructType(
    [
        StructField("indicator", text_struct("id", "value")),
        StructField("countryiso3code", StringType()),
        StructField("date", StringType()),
        StructField("value", StringType()),
        StructField("unit", StringType()),
    ]
)


#: A row of the rows array for ``json_transform``, without ``indicator`` (read on its own:
#: Spark reads an ``indicator`` that is no object as null, json_transform as a struct of nulls).
_WB_ROW_FIELDS = ("countryiso3code", "date", "value", "unit")
_WB_ROW_TEXT = "{" + ", ".join(f'"{name}": "VARCHAR"' for name in _WB_ROW_FIELDS) + "}"
_WB_INDICATOR = '{"id": "VARCHAR", "value": "VARCHAR"}'
#: A four-digit year and nothing else (``\z``, not ``$``: Java's ``$`` also matches before a
#: final line break, and "2024\n" then gave a record without a date instead of a refusal);
#: "0000" is refused as out of range (no Python reader of silver loads year 0).
_YEAR_TEXT = r"^[0-9]{4}\z"
#: The unit in the indicator's name: its last parenthesis.
_UNIT_IN_NAME = r"\(([^()]*)\)\s*$"
#: :data:`_UNIT_IN_NAME` for RE2: Java's ``\s`` (RE2's lacks the vertical tab) and Java's ``$``
#: (end of text, or before a line terminator that ends it).
_SQL_UNIT_IN_NAME = r"\(([^()]*)\)[ \t\n\x0B\f\r]*(?:\r\n|[\n\r\x{85}\x{2028}\x{2029}])?\z"


class WorldBankIndicator(PayloadParser):
    source: str = WorldBankSource.name
    endpoints: tuple[str, ...] = (INDICATOR_ENDPOINT,)
    shape: str = "World Bank [metadata, rows]"

    @property
    def payload_type(self) -> DataType:
        # A two-element array of different things: each element kept as its JSON text.
        return ArrayType(StringType())

    def prepare(self, payload: Column) -> Column:
        return F.from_json(F.try_element_at(payload, F.lit(2)), ArrayType(_WB_ROW))

    def line_problem(self, prepared: Column) -> Column | None:
        payload = F.col("payload")
        rows = F.try_element_at(payload, F.lit(2))
        return F.when(F.size(payload) != 2, F.lit(reasons.NOT_METADATA_AND_ROWS.text())).when(
            rows.isNotNull() & (rows != "null") & prepared.isNull(),
            F.lit(reasons.ROWS_NOT_OBSERVATIONS.text()),
        )

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        record.text("series_id", item["indicator"]["id"], "indicator.id")
        record.text("region", item["countryiso3code"], "countryiso3code")
        year = record.text("_year", item["date"], "date")
        record.check(~year.rlike(_YEAR_TEXT), reasons.FIELD_NOT_A.text(label="date", kind="a year"))
        record.check(year == F.lit("0000"), reasons.FIELD_YEAR_OUT_OF_RANGE.text(label="date"))
        in_range = year.rlike(_YEAR_TEXT) & (year != F.lit("0000"))
        observed = record.set(
            "observation_date", F.when(in_range, F.concat(year, F.lit("-01-01")).try_cast("date"))
        )
        record.set("year", F.year(observed))
        record.number("value", item["value"], "value", required=False)
        record.set("frequency", F.lit("annual"))
        # "Inflation, consumer prices (annual %)": the unit is the name's last parenthesis.
        named = F.nullif(F.regexp_extract(item["indicator"]["value"], _UNIT_IN_NAME, 1), F.lit(""))
        record.set("units", F.coalesce(F.nullif(item["unit"], F.lit("")), named))
        record.set("realtime_start", F.to_date(envelope.fetched_at))
        return record

    # --- the DuckDB half -------------------------------------------------------------------

    def sql_prepare(self, payload: Sql) -> Sql:
        """``from_json`` of the rows text as Spark reads it: an object is read as a one-row
        array; an array whose elements are not all objects (or null) is no array of rows."""
        rows = f"TRY_CAST({element(payload, 1)} AS JSON)"
        elements = (
            f"(CASE json_type({rows}) WHEN 'ARRAY' THEN json_extract({rows}, '$[*]')"
            f" WHEN 'OBJECT' THEN [{rows}] END)"
        )
        all_rows = (
            f"coalesce(list_bool_and(list_transform({elements},"
            " lambda r: json_type(r) IN ('OBJECT', 'NULL'))), TRUE)"
        )
        text_fields = ", ".join(
            f"{name} := json_transform(r, {literal(_WB_ROW_TEXT)}).{name}"
            for name in _WB_ROW_FIELDS
        )
        indicator = (
            "CASE WHEN json_type(json_extract(r, '$.indicator')) = 'OBJECT' THEN"
            f" json_transform(json_extract(r, '$.indicator'), {literal(_WB_INDICATOR)}) END"
        )
        row = f"struct_pack(indicator := {indicator}, {text_fields})"
        return when(
            all_rows,
            f"list_transform({elements}, lambda r: CASE WHEN json_type(r) = 'OBJECT'"
            f" THEN {row} END)",
        )

    def sql_line_problem(self, prepared: Sql) -> Sql | None:
        rows = element("payload", 1)
        return (
            f"(CASE WHEN len(payload) <> 2 THEN {literal(reasons.NOT_METADATA_AND_ROWS.text())}"
            f" WHEN {rows} IS NOT NULL AND {rows} <> 'null' AND {prepared} IS NULL"
            f" THEN {literal(reasons.ROWS_NOT_OBSERVATIONS.text())} END)"
        )

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        indicator = field(item, "indicator")
        record.text("series_id", field(indicator, "id"), "indicator.id")
        record.text("region", field(item, "countryiso3code"), "countryiso3code")
        year = record.text("_year", field(item, "date"), "date")
        record.check(
            f"NOT {matches(year, _YEAR_TEXT)}",
            reasons.FIELD_NOT_A.text(label="date", kind="a year"),
        )
        record.check(f"({year} = '0000')", reasons.FIELD_YEAR_OUT_OF_RANGE.text(label="date"))
        in_range = f"({matches(year, _YEAR_TEXT)} AND {year} <> '0000')"
        first_day = f"make_date(TRY_CAST({year} AS BIGINT), 1, 1)"
        observed = record.set("observation_date", when(in_range, first_day))
        record.set("year", f"year({observed})")
        record.number("value", field(item, "value"), "value", required=False)
        record.set("frequency", literal("annual"))
        name = field(indicator, "value")
        named = f"nullif(regexp_extract({name}, {literal(_SQL_UNIT_IN_NAME)}, 1), '')"
        record.set("units", f"coalesce(nullif({field(item, 'unit')}, ''), {named})")
        record.set("realtime_start", f"CAST({envelope.fetched_at} AS DATE)")
        return record
