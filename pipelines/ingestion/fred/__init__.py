"""FRED: its connector (:mod:`.connector`) and its payload parser (:mod:`.parsers`)."""

from pipelines.ingestion.fred.connector import FRED_SERIES, OBSERVATIONS_ENDPOINT, FredSource
from pipelines.ingestion.fred.parsers import FRED_SERIES_FACTS, FredObservations

__all__ = [
    "FRED_SERIES",
    "FRED_SERIES_FACTS",
    "OBSERVATIONS_ENDPOINT",
    "FredObservations",
    "FredSource",
]
