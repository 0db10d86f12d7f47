"""CoinGecko: prices, market caps, volumes and OHLC candles of every reference asset it lists.

Endpoints (API v3, https://docs.coingecko.com), all landed in the ``prices`` dataset:

``GET /coins/{id}/market_chart/range?vs_currency=usd&from=<unix s>&to=<unix s>``
    ``{"prices": [[ms, price], ...], "market_caps": [[ms, usd], ...],
    "total_volumes": [[ms, usd 24h volume], ...]}``, oldest first; ``[from, to]`` inclusive.
    Granularity is automatic: 5-minutely for the last day, hourly for ranges of up to 90 days,
    daily (00:00 UTC) beyond. The window is therefore split into spans of at most 90 days, so
    every span comes back hourly. A coin with no data in the range answers three empty arrays.

``GET /coins/{id}/ohlc?vs_currency=usd&days=N``
    ``[[ms, open, high, low, close], ...]``; each timestamp is the candle's *close* time. ``days``
    counts back from now and must be one of 1, 7, 14, 30, 90, 180, 365; candles are 30 minutes
    (1-2 days), 4 hours (3-30 days) or 4 days (31+ days). The smallest ``days`` that reaches back
    to the window's start is asked for; windows older than a year get none (the free API only
    serves the past 365 days, and market_chart/range covers them).

``GET /coins/markets?vs_currency=usd&ids=a,b,...&per_page=250&page=N`` (paginated)
    ``[{"id", "symbol", "name", "current_price", "market_cap", "total_volume",
    "circulating_supply", "total_supply", "last_updated", ...}, ...]``: a snapshot of now, asked
    for only when the window reaches the present. A full page means there may be another.

Keys: the public API needs none. ``RWA_COINGECKO_API_KEY`` is sent as ``x-cg-demo-api-key``
(or ``x-cg-pro-api-key`` when the API root is ``pro-api.coingecko.com``); it is never part of
the request params, so it never lands in bronze. Errors look like ``{"error": "coin not found"}``
or ``{"status": {"error_code": 429, "error_message": "..."}}``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import httpx

from pipelines.contracts.reference import Asset
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.http import HttpClient, Shape, SingleClientConnector, require_key

MARKET_CHART_ENDPOINT = "/coins/{id}/market_chart/range"
OHLC_ENDPOINT = "/coins/{id}/ohlc"
MARKETS_ENDPOINT = "/coins/markets"

#: ``days`` values /coins/{id}/ohlc accepts on every plan.
OHLC_DAYS: tuple[int, ...] = (1, 7, 14, 30, 90, 180, 365)
#: Longest market_chart/range span that still comes back hourly.
MAX_CHART_SPAN = dt.timedelta(days=90)
#: /coins/markets' largest page.
MARKETS_MAX_PAGE_SIZE = 250

# Documented rate limits: Demo key about 30 calls/min; the key-less public API 10-30/min
# "depending on traffic" (so its floor); the smallest paid plan 250/min.
DEMO_RATE_PER_S = 30 / 60
PUBLIC_RATE_PER_S = 10 / 60
PRO_RATE_PER_S = 250 / 60

_HISTORY_LIMIT = dt.timedelta(days=365)
_PRESENT = dt.timedelta(days=1)

_SHAPES: dict[str, Shape] = {
    MARKET_CHART_ENDPOINT: Shape(dict, ("prices", "market_caps", "total_volumes")),
    OHLC_ENDPOINT: Shape(list),
    MARKETS_ENDPOINT: Shape(list),
}


def coingecko_client(settings: SourceSettings) -> HttpClient:
    """The client for the configured API root, with the key header its plan expects."""
    pro = (httpx.URL(settings.coingecko_base_url).host or "").startswith("pro-api.")
    if pro:
        key = require_key(settings.coingecko_api_key, "coingecko_api_key", source="CoinGecko Pro")
        headers, rate = {"x-cg-pro-api-key": key}, PRO_RATE_PER_S
    elif settings.coingecko_api_key and settings.coingecko_api_key.get_secret_value().strip():
        key = settings.coingecko_api_key.get_secret_value().strip()
        headers, rate = {"x-cg-demo-api-key": key}, DEMO_RATE_PER_S
    else:
        headers, rate = {}, PUBLIC_RATE_PER_S
    return HttpClient.for_source(
        CoinGeckoSource.name,
        settings,
        base_url=settings.coingecko_base_url,
        rate_per_s=rate,
        headers=headers,
    )


class CoinGeckoSource(SingleClientConnector):
    """Market charts and OHLC per asset with a ``coingecko_id``, plus a markets snapshot."""

    name: ClassVar[str] = "coingecko"

    def __init__(
        self,
        assets: Sequence[Asset],
        client: HttpClient,
        *,
        vs_currency: str = "usd",
        markets_page_size: int = MARKETS_MAX_PAGE_SIZE,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(client)
        if not 1 <= markets_page_size <= MARKETS_MAX_PAGE_SIZE:
            raise ValueError(f"markets_page_size must be 1..{MARKETS_MAX_PAGE_SIZE}")
        # Asset order, without duplicates: requests are made (and landed) deterministically.
        self.coin_ids: tuple[str, ...] = tuple(
            dict.fromkeys(a.coingecko_id for a in assets if a.coingecko_id)
        )
        self.vs_currency = vs_currency
        self.markets_page_size = markets_page_size
        self._now = now

    @classmethod
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> CoinGeckoSource:
        return cls(assets, coingecko_client(settings))

    def shape_for(self, request: SourceRequest) -> Shape | None:
        return _SHAPES.get(request.endpoint)

    # -- the steps ------------------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        now = self._now()
        requests: list[SourceRequest] = []
        if self.coin_ids and window.end >= now - _PRESENT:
            requests.append(self._markets_request(page=1))
        days = _ohlc_days(window, now)
        for coin in self.coin_ids:
            requests += [self._chart_request(coin, span) for span in _spans(window)]
            if days is not None:
                requests.append(
                    SourceRequest(
                        "prices",
                        OHLC_ENDPOINT,
                        {"id": coin, "vs_currency": self.vs_currency, "days": days},
                    )
                )
        return requests

    def next_page(self, request: SourceRequest, response: RawResponse) -> SourceRequest | None:
        if request.endpoint != MARKETS_ENDPOINT:
            return None
        page = int(request.params["page"])
        # A short page is the last; the ids filter also bounds how many pages there can be.
        last_page = math.ceil(len(self.coin_ids) / self.markets_page_size)
        if len(response.payload) < self.markets_page_size or page >= last_page:
            return None
        return self._markets_request(page=page + 1)

    # -- requests -------------------------------------------------------------------------------

    def _chart_request(self, coin: str, span: FetchWindow) -> SourceRequest:
        return SourceRequest(
            "prices",
            MARKET_CHART_ENDPOINT,
            {
                "id": coin,
                "vs_currency": self.vs_currency,
                "from": int(span.start.timestamp()),
                "to": int(span.end.timestamp()),
            },
        )

    def _markets_request(self, page: int) -> SourceRequest:
        params: dict[str, Any] = {
            "vs_currency": self.vs_currency,
            "ids": ",".join(self.coin_ids),
            "order": "market_cap_desc",
            "per_page": self.markets_page_size,
            "page": page,
            "sparkline": "false",
        }
        return SourceRequest("prices", MARKETS_ENDPOINT, params)


def _spans(window: FetchWindow) -> list[FetchWindow]:
    """``window`` cut into consecutive pieces of at most :data:`MAX_CHART_SPAN`."""
    spans, start = [], window.start
    while start < window.end:
        end = min(start + MAX_CHART_SPAN, window.end)
        spans.append(FetchWindow(start, end))
        start = end
    return spans


def _ohlc_days(window: FetchWindow, now: dt.datetime) -> int | None:
    """The smallest allowed ``days`` reaching back to the window's start; None when the window
    lies wholly in the future or more than a year back."""
    if window.start >= now or window.end <= now - _HISTORY_LIMIT:
        return None
    needed = math.ceil((now - window.start) / dt.timedelta(days=1))
    return next((days for days in OHLC_DAYS if days >= needed), OHLC_DAYS[-1])
