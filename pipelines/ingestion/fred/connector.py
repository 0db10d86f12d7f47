"""FRED (Federal Reserve Economic Data): the US rates that tokenized treasuries and MMFs track.

Endpoint (https://fred.stlouisfed.org/docs/api/fred/series_observations.html), landed in the
``economic`` dataset, one request per series of :data:`FRED_SERIES` over the window:

``GET {RWA_FRED_BASE_URL}/fred/series/observations?series_id=DTB3&file_type=json
&observation_start=YYYY-MM-DD&observation_end=YYYY-MM-DD&sort_order=asc&limit=N&offset=K``
    ``{"realtime_start", "realtime_end", "observation_start", "observation_end", "units",
    "output_type", "file_type", "order_by", "sort_order", "count", "offset", "limit",
    "observations": [{"realtime_start", "realtime_end", "date", "value"}, ...]}``: values are
    text, ``"."`` where FRED has none (the shape :mod:`pipelines.ingestion.simulated` imitates).
    Errors answer 400 ``{"error_code": 400, "error_message": "Bad Request. ..."}``.

FRED pages with ``limit`` (at most 100,000) and ``offset`` and reports the total in ``count``;
each page is its own envelope. The API key (``RWA_FRED_API_KEY``, required) is a query parameter
the client adds to every call: it is not part of the request params, so it never lands in bronze,
and the client redacts it from every URL it reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from pipelines.contracts.reference import Asset
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.http import HttpClient, Shape, SingleClientConnector, require_key

OBSERVATIONS_ENDPOINT = "/fred/series/observations"

#: The series fetched, and why each matters for tokenized treasuries and money market funds.
FRED_SERIES: dict[str, str] = {
    # What the T-bill portfolios behind OUSG, USTB, TBILL, USYC, bIB01 and BUIDL earn: a
    # token's NAV accrual should track it, and one yielding well below it is losing the
    # difference to fees or idle cash. Business days only ("." on bond-market holidays).
    "DTB3": "3-Month Treasury Bill Secondary Market Rate, Discount Basis (percent, daily)",
    # The overnight rate government MMFs (BENJI, BUIDL) and repo earn; its steps at FOMC
    # meetings move every stable-NAV token's yield at once. Every calendar day.
    "DFF": "Federal Funds Effective Rate (percent, daily)",
    # Duration risk and the curve: the 10y-3m spread says whether short bills still out-yield
    # term bonds, i.e. why holders park in T-bill tokens rather than longer funds.
    "DGS10": "Market Yield on U.S. Treasury Securities at 10-Year Constant Maturity (percent)",
    # Turns nominal token yields into real ones: what a holder keeps after inflation. Monthly,
    # seasonally adjusted; a month appears once released, mid next month.
    "CPIAUCSL": "Consumer Price Index for All Urban Consumers: All Items (index, monthly)",
}

#: FRED's largest ``limit``: one page holds decades of a daily series, so real runs rarely page.
MAX_LIMIT = 100_000

#: FRED's documented limit: 120 requests per minute per API key.
RATE_PER_S = 120 / 60


class _ObservationsShape(Shape):
    """FRED's observations document, with the two fields paging relies on type-checked (a
    malformed ``count`` must fail the fetch, not the page arithmetic after it)."""

    __slots__ = ()

    def problem(self, payload: Any) -> str | None:
        problem = super().problem(payload)
        if problem is not None:
            return problem
        if not isinstance(payload["count"], int) or isinstance(payload["count"], bool):
            return f"'count' is not an integer: {payload['count']!r}"
        if not isinstance(payload["observations"], list):
            return "'observations' is not an array"
        return None


_SHAPE = _ObservationsShape(dict, ("count", "observations"))


class FredSource(SingleClientConnector):
    """Observations of each FRED series, one envelope per series and page."""

    name: ClassVar[str] = "fred"

    def __init__(
        self,
        client: HttpClient,
        *,
        series: Sequence[str] = tuple(FRED_SERIES),
        limit: int = MAX_LIMIT,
    ) -> None:
        """``client`` must send the API key (see :meth:`from_settings`); ``limit`` is the page
        size."""
        super().__init__(client)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
        self.series = tuple(series)
        self.limit = limit

    @classmethod
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> FredSource:
        """The FRED source; its series are market-wide, so ``assets`` is not used."""
        api_key = require_key(settings.fred_api_key, "RWA_FRED_API_KEY")
        client = HttpClient.for_source(
            cls.name,
            settings,
            base_url=settings.fred_base_url,
            rate_per_s=RATE_PER_S,
            params={"api_key": api_key},
        )
        return cls(client)

    def shape_for(self, request: SourceRequest) -> Shape | None:
        return _SHAPE

    # -- the steps ------------------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        # FRED's observation dates are inclusive whole days; the window's end is exclusive.
        last_day = (window.end - dt.timedelta(microseconds=1)).date()
        return [
            SourceRequest(
                "economic",
                OBSERVATIONS_ENDPOINT,
                {
                    "series_id": series_id,
                    "observation_start": window.start.date().isoformat(),
                    "observation_end": last_day.isoformat(),
                    "file_type": "json",
                    # FRED's default, pinned: offsets only make sense over a fixed order.
                    "sort_order": "asc",
                    "limit": self.limit,
                    "offset": 0,
                },
            )
            for series_id in self.series
        ]

    def next_page(self, request: SourceRequest, response: RawResponse) -> SourceRequest | None:
        offset = int(request.params["offset"]) + int(request.params["limit"])
        # An empty page ends the series even when ``count`` promised more (observations can be
        # revised away between two pages); trusting the count alone could page forever.
        if not response.payload["observations"] or offset >= response.payload["count"]:
            return None
        return SourceRequest(
            request.dataset, request.endpoint, {**request.params, "offset": offset}
        )
