"""``silver/economic``: one observation of a macro series, per region and vintage-aware.

Parsers:

* FRED ``/fred/series/observations`` (``simulated`` imitates it, ``fred`` is the real API): the
  series is ``params.series_id``, the region ``USA``; ``value`` is text and ``"."`` means "no
  value" (holidays): null, not refused. ``realtime_start`` is the observation's own vintage
  (else the document's, else the fetch date).
* World Bank ``/country/{iso}/indicator/{code}`` (``worldbank``): ``[metadata, rows]``; a row
  is an annual observation of ``indicator.id`` for ``countryiso3code``, dated on the first day
  of its year (FRED's convention for periods), ``value`` a number or null. The World Bank keeps
  no vintages, so ``realtime_start`` is the fetch date.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.ingestion.fred import OBSERVATIONS_ENDPOINT
from pipelines.ingestion.worldbank import INDICATOR_ENDPOINT
from pipelines.silver.spec import (
    DatasetSpec,
    Envelope,
    PayloadParser,
    Record,
    map_lookup,
    silver_schema,
)

SCHEMA = silver_schema(
    pa.field("year", pa.int32()),
    pa.field("series_id", pa.string()),
    pa.field("region", pa.string()),
    pa.field("observation_date", pa.date32()),
    pa.field("value", pa.float64()),
    pa.field("frequency", pa.string()),
    pa.field("units", pa.string()),
    pa.field("realtime_start", pa.date32()),
)
KEYS = ("year", "series_id", "region", "observation_date")

#: What FRED's documents do not say about the series fetched (FRED's own metadata).
FRED_SERIES_FACTS: Mapping[str, tuple[str, str]] = {
    "DTB3": ("daily", "percent"),
    "DFF": ("daily", "percent"),
    "DGS10": ("daily", "percent"),
    "CPIAUCSL": ("monthly", "index 1982-1984=100"),
}


def _text_struct(*names: str) -> StructType:
    return StructType([StructField(name, StringType()) for name in names])


def _observed(record: Record, observation_date: Column) -> None:
    record.set("year", F.year(observation_date))


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
                    ArrayType(_text_struct("realtime_start", "date", "value")),
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
        _observed(record, observed)
        record.number("value", item["value"], "value", required=False, missing_marker=".")
        facts = {k: v[0] for k, v in FRED_SERIES_FACTS.items()}
        units = {k: v[1] for k, v in FRED_SERIES_FACTS.items()}
        record.set("frequency", map_lookup(facts, series))
        record.set("units", F.coalesce(map_lookup(units, series), F.lit("lin")))
        vintage = F.coalesce(item["realtime_start"], item["document_start"])
        known = _date(record, vintage, "realtime_start", required=False)
        record.set("realtime_start", F.coalesce(known, F.to_date(envelope.fetched_at)))
        return record


def _date(record: Record, text: Column, label: str, *, required: bool = True) -> Column:
    """A calendar date from ``YYYY-MM-DD`` text, within years 1-9999: Spark parses years
    beyond them (e.g. ``+12345-01-01``), which no reader of silver in Python could load."""
    typed = text.try_cast("date")
    if required:
        record.check(text.isNull(), reasons.FIELD_MISSING.text(label=label))
    not_a_date = reasons.FIELD_NOT_A.text(label=label, kind="a date")
    record.check(text.isNotNull() & typed.isNull(), not_a_date)
    record.check(
        typed.isNotNull() & ~F.year(typed).between(1, 9999),
        reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=label),
    )
    return F.when(F.year(typed).between(1, 9999), typed)


_WB_ROW = StructType(
    [
        StructField("indicator", _text_struct("id", "value")),
        StructField("countryiso3code", StringType()),
        StructField("date", StringType()),
        StructField("value", StringType()),
        StructField("unit", StringType()),
    ]
)


class WorldBankIndicator(PayloadParser):
    source: str = "worldbank"
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
        not_a_year = reasons.FIELD_NOT_A.text(label="date", kind="a year")
        record.check(~year.rlike(r"^[0-9]{4}$"), not_a_year)
        observed = record.set("observation_date", F.concat(year, F.lit("-01-01")).try_cast("date"))
        _observed(record, observed)
        record.number("value", item["value"], "value", required=False)
        record.set("frequency", F.lit("annual"))
        # "Inflation, consumer prices (annual %)": the unit is the name's last parenthesis.
        named = F.nullif(
            F.regexp_extract(item["indicator"]["value"], r"\(([^()]*)\)\s*$", 1), F.lit("")
        )
        record.set("units", F.coalesce(F.nullif(item["unit"], F.lit("")), named))
        record.set("realtime_start", F.to_date(envelope.fetched_at))
        return record


def economic_spec() -> DatasetSpec:
    return DatasetSpec(
        name="economic",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("year",),
        parsers=(
            FredObservations("simulated"),
            FredObservations("fred"),
            WorldBankIndicator(),
        ),
        day_column="observation_date",
    )
