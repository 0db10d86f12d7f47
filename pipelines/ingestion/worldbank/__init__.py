"""World Bank: its connector (:mod:`.connector`) and its payload parser (:mod:`.parsers`)."""

from pipelines.ingestion.worldbank.connector import (
    INDICATOR_ENDPOINT,
    INDICATORS,
    JURISDICTION_ISO3,
    WorldBankSource,
    issuer_countries,
)
from pipelines.ingestion.worldbank.parsers import WorldBankIndicator

__all__ = [
    "INDICATORS",
    "INDICATOR_ENDPOINT",
    "JURISDICTION_ISO3",
    "WorldBankIndicator",
    "WorldBankSource",
    "issuer_countries",
]
