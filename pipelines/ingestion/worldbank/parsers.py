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
        record.check(
            ~year.rlike(r"^[0-9]{4}$"), reasons.FIELD_NOT_A.text(label="date", kind="a year")
        )
        observed = record.set("observation_date", F.concat(year, F.lit("-01-01")).try_cast("date"))
        record.set("year", F.year(observed))
        record.number("value", item["value"], "value", required=False)
        record.set("frequency", F.lit("annual"))
        # "Inflation, consumer prices (annual %)": the unit is the name's last parenthesis.
        named = F.nullif(
            F.regexp_extract(item["indicator"]["value"], r"\(([^()]*)\)\s*$", 1), F.lit("")
        )
        record.set("units", F.coalesce(F.nullif(item["unit"], F.lit("")), named))
        record.set("realtime_start", F.to_date(envelope.fetched_at))
        return record
