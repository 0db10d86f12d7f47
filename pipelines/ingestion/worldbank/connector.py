"""World Bank indicators: inflation and interest rates of the jurisdictions RWA issuers sit in.

Endpoint (Indicators API v2, https://datahelpdesk.worldbank.org/knowledgebase/articles/898581;
no key), landed in the ``economic`` dataset, one request per country and indicator:

``GET {RWA_WORLDBANK_BASE_URL}/country/{iso}/indicator/{code}?format=json&date=YYYY:YYYY
&per_page=N&page=K``
    ``[{"page", "pages", "per_page", "total", "sourceid", "lastupdated"},
    [{"indicator": {"id", "value"}, "country": {"id", "value"}, "countryiso3code", "date",
    "value", "unit", "obs_status", "decimal"}, ...]]``, newest year first; ``value`` is null for
    years without data. With nothing to list, the second element is null or ``[]``.
    Errors answer **200** with ``[{"message": [{"id": "120", "key": "Invalid value", "value":
    "The provided parameter value is not valid"}]}]``; they are refused as fatal FetchErrors.

The series are annual and published a year or two late: a window inside the current year
usually lists nothing yet, so backfill with a window that spans the years wanted (``date`` is
the window's first through last calendar year).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from pipelines.contracts.reference import Asset
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.http import HttpClient, Shape, SingleClientConnector

INDICATOR_ENDPOINT = "/country/{iso}/indicator/{code}"

#: Indicators fetched, and why they matter for real-world-asset tokens.
INDICATORS: dict[str, str] = {
    # Erodes the real return of every dollar- or franc-denominated yield token held by
    # residents, and drives the policy rates those tokens pass through.
    "FP.CPI.TOTL.ZG": "Inflation, consumer prices (annual %)",
    # Lending rate minus GDP-deflator inflation: whether credit in the jurisdiction pays a real
    # return, the benchmark private-credit tokens compete with.
    "FR.INR.RINR": "Real interest rate (%)",
    # What local banks charge prime borrowers: the alternative a borrower from a private-credit
    # pool has, and the yield a tokenized deposit or MMF is compared with.
    "FR.INR.LEND": "Lending interest rate (%)",
}

#: ISO 3166 alpha-3 code (what the API takes) of each issuer jurisdiction named in the
#: reference data, matched against the start of ``Asset.jurisdiction`` ("United States
#: (Delaware)" is the United States; "El Salvador (relocated from the British Virgin Islands in
#: 2025)" is El Salvador only).
JURISDICTION_ISO3: dict[str, str] = {
    "United States": "USA",
    "British Virgin Islands": "VGB",
    "Cayman Islands": "CYM",
    "Switzerland": "CHE",
    "El Salvador": "SLV",
}

#: Always fetched: almost every tokenized fund holds US Treasuries or dollar cash, whatever the
#: issuer's own jurisdiction.
ALWAYS = ("USA",)

#: Rows per page. A country's annual series has one row per year, so a page covers a century;
#: the API accepts far larger pages, tests use small ones.
PER_PAGE = 100

#: The World Bank documents no rate limit; one request per second is a polite pace.
RATE_PER_S = 1.0


def issuer_countries(assets: Sequence[Asset]) -> tuple[str, ...]:
    """ISO3 codes of :data:`ALWAYS` plus the issuer jurisdictions of ``assets`` that
    :data:`JURISDICTION_ISO3` knows, in that order, each once. Decentralised protocols and
    unknown jurisdictions have no country to look up."""
    found = [
        iso3
        for asset in assets
        for name, iso3 in JURISDICTION_ISO3.items()
        if asset.jurisdiction is not None and asset.jurisdiction.startswith(name)
    ]
    return tuple(dict.fromkeys([*ALWAYS, *found]))


class _IndicatorShape(Shape):
    """``[meta, rows]``. The API's error document, also a JSON array, is told apart here so the
    refusal carries the API's own message rather than a bare "wrong shape"."""

    __slots__ = ()

    def problem(self, payload: Any) -> str | None:
        problem = super().problem(payload)
        if problem is not None:
            return problem
        if payload and isinstance(payload[0], dict) and "message" in payload[0]:
            return f"World Bank API error: {_error_text(payload[0]['message'])}"
        if len(payload) != 2 or not isinstance(payload[0], dict):
            return "expected [metadata, rows]"
        meta, rows = payload
        if _as_int(meta.get("page")) is None or _as_int(meta.get("pages")) is None:
            return f"metadata has no integer 'page'/'pages': {meta!r}"
        if rows is not None and not isinstance(rows, list):
            return "the rows are not an array"
        return None


_SHAPE = _IndicatorShape(list)


class WorldBankSource(SingleClientConnector):
    """Annual indicators per issuer country, one envelope per country, indicator and page."""

    name: ClassVar[str] = "worldbank"

    def __init__(
        self,
        client: HttpClient,
        *,
        countries: Sequence[str] = ALWAYS,
        indicators: Sequence[str] = tuple(INDICATORS),
        per_page: int = PER_PAGE,
    ) -> None:
        super().__init__(client)
        if per_page < 1:
            raise ValueError(f"per_page must be >= 1, got {per_page}")
        self.countries = tuple(countries)
        self.indicators = tuple(indicators)
        self.per_page = per_page

    @classmethod
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> WorldBankSource:
        """The indicators of the US and of the issuer jurisdictions of ``assets``."""
        client = HttpClient.for_source(
            cls.name, settings, base_url=settings.worldbank_base_url, rate_per_s=RATE_PER_S
        )
        return cls(client, countries=issuer_countries(assets))

    def shape_for(self, request: SourceRequest) -> Shape | None:
        return _SHAPE

    # -- the steps ------------------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        # Annual data: every calendar year the half-open window touches.
        last_year = (window.end - dt.timedelta(microseconds=1)).year
        years = f"{window.start.year}:{last_year}"
        return [
            SourceRequest(
                "economic",
                INDICATOR_ENDPOINT,
                {
                    "iso": iso,
                    "code": code,
                    "format": "json",
                    "date": years,
                    "per_page": self.per_page,
                    "page": 1,
                },
            )
            for iso in self.countries
            for code in self.indicators
        ]

    def next_page(self, request: SourceRequest, response: RawResponse) -> SourceRequest | None:
        meta, rows = response.payload
        page, pages = _as_int(meta["page"]), _as_int(meta["pages"])
        # An empty page ends the listing even if ``pages`` says otherwise: a stale page count
        # must not make us walk pages that will never fill.
        if not rows or page is None or pages is None or page >= pages:
            return None
        return SourceRequest(
            request.dataset, request.endpoint, {**request.params, "page": page + 1}
        )


def _as_int(value: Any) -> int | None:
    """An integer the API sent as a number or as digits (older responses quote ``per_page``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _error_text(messages: Any) -> str:
    """``"120 Invalid value: The provided parameter value is not valid"`` from the message list."""
    if not isinstance(messages, list) or not messages:
        return repr(messages)
    parts = []
    for message in messages:
        if isinstance(message, dict):
            fields = (message.get("id"), message.get("key"))
            label = " ".join(str(part) for part in fields if part)
            parts.append(f"{label}: {message.get('value')}" if label else str(message.get("value")))
        else:
            parts.append(str(message))
    return "; ".join(parts)
