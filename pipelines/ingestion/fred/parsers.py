"""FRED payloads -> ``silver/economic`` records.

``/fred/series/observations`` (``fred`` is the real API; the ``simulated`` source imitates it, so
the registry gives both this parser): the series is ``params.series_id``, the region ``USA``;
``value`` is text and ``"."`` means "no value" (holidays): null, not refused. ``realtime_start``
is the observation's own vintage (else the document's, else the fetch date).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.ingestion.fred.connector import OBSERVATIONS_ENDPOINT
from pipelines.ingestion.payloads import Envelope, PayloadParser, Record, map_lookup, text_struct

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


def _date(record: Record, text: Column, label: str, *, required: bool = True) -> Column:
    """A calendar date from ``YYYY-MM-DD`` text, within years 1-9999: Spark parses years
    beyond them (e.g. ``+12345-01-01``), which no reader of silver in Python could load."""
    typed = text.try_cast("date")
    if required:
        record.check(text.isNull(), reasons.FIELD_MISSING.text(label=label))
    record.check(
        text.isNotNull() & typed.isNull(), reasons.FIELD_NOT_A.text(label=label, kind="a date")
    )
    record.check(
        typed.isNotNull() & ~F.year(typed).between(1, 9999),
        reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=label),
    )
    return F.when(F.year(typed).between(1, 9999), typed)
