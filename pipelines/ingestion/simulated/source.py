"""The simulated source's connector: answers each request the way the imitated API would.

Offline, and in tests and demos, :class:`SimulatedSource` stands in for the real connectors, one
bronze envelope per answer. What it simulates and how is described in docs/simulator.md; the
models live beside this module (:mod:`.prices`, :mod:`.bars`, :mod:`.onchain`, :mod:`.macro`,
:mod:`.news`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipelines.contracts.envelope import DATASETS, Dataset
from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError, NotFoundError
from pipelines.core.settings import SimulationSettings
from pipelines.ingestion.base import Connector, FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.simulated.bars import Bars, SimEvent, bar_records, sim_events, to_bars
from pipelines.ingestion.simulated.grid import DAY, BarGrid, coinapi_times, iso_z
from pipelines.ingestion.simulated.macro import MACRO_SERIES, fred_document, fred_observations
from pipelines.ingestion.simulated.news import AssetDay, asset_day, news_articles
from pipelines.ingestion.simulated.onchain import DailyView, daily_view, onchain_records
from pipelines.ingestion.simulated.params import onchain_params, price_params
from pipelines.ingestion.simulated.prices import PathEvent, simulate_path
from pipelines.ingestion.simulated.requests import (
    FREQUENCY_MINUTES,
    SIMULATED,
    Frequency,
    coinapi_symbol_id,
    date_param,
    fred_request,
    instant_param,
    news_request,
    onchain_request,
    price_request,
    transfers_request,
)
from pipelines.ingestion.simulated.streams import Streams, stable_int
from pipelines.ingestion.simulated.transfers import (
    PageCursor,
    TokenDays,
    block_time,
    first_block,
    transfer_pages,
)


@dataclass(frozen=True, slots=True)
class SimulatedAsset:
    """One asset simulated over the whole span: its bars and the events its model caused.

    Only these are kept (about 70 bytes per bar): the model's working arrays go."""

    events: tuple[PathEvent, ...]
    bars: Bars


class SimulatedSource(Connector):
    """Deterministic stand-in for the real sources (docs/simulator.md).

    ``[start, end)`` is the simulated span: prices, on-chain metrics and news exist only there,
    and a requested :class:`FetchWindow` is clipped to it. ``start`` and ``end`` must be UTC and
    on the bar grid (whole multiples of ``frequency`` from midnight).
    """

    name: ClassVar[str] = SIMULATED

    def __init__(
        self,
        assets: Sequence[Asset],
        *,
        seed: int,
        start: dt.datetime,
        end: dt.datetime,
        frequency: Frequency = "1h",
        fault_rate: float = 0.0005,
        datasets: Sequence[Dataset] = DATASETS,
    ) -> None:
        _check_arguments(frequency, fault_rate, datasets)
        try:
            self.window = FetchWindow(start, end)
        except ValueError as exc:
            raise ConfigurationError(f"simulated span: {exc}") from exc
        step = dt.timedelta(minutes=FREQUENCY_MINUTES[frequency])
        for label, instant in (("start", self.window.start), ("end", self.window.end)):
            if (instant - instant.replace(hour=0, minute=0, second=0, microsecond=0)) % step:
                raise ConfigurationError(
                    f"{label} {instant.isoformat()} is not on the {frequency} bar grid"
                )
        self.assets: tuple[Asset, ...] = tuple(assets)
        self.seed = seed
        self.frequency: Frequency = frequency
        self.fault_rate = fault_rate
        self.datasets: tuple[Dataset, ...] = tuple(d for d in DATASETS if d in datasets)
        bar_count = (self.window.end - self.window.start) // step
        self._grid = BarGrid(self.window.start, step, bar_count)
        self._by_id = _index_assets(self.assets)
        self._by_symbol = {coinapi_symbol_id(a): a for a in self.assets}
        # Per-asset caches: the whole span is simulated once and sliced per request.
        self._simulated_assets: dict[str, SimulatedAsset] = {}
        self._views: dict[str, DailyView] = {}
        self._boundary_strings: list[str] | None = None
        self._onchain_records: dict[str, list[dict[str, Any]]] = {}
        #: Per token, its transfer pages made day by day (one held at a time).
        self._transfer_pages: dict[str, PageCursor] = {}
        self._by_contract = {
            (a.contract_address or "").lower(): a for a in self.assets if a.contract_address
        }

    @classmethod
    def from_settings(
        cls, settings: SimulationSettings, assets: Sequence[Asset]
    ) -> SimulatedSource:
        """The source the ``RWA_SIM_*`` settings describe, over ``assets`` (filtered by them)."""
        end_day = settings.end or dt.datetime.now(dt.UTC).date()
        end = dt.datetime.combine(end_day, dt.time(), tzinfo=dt.UTC)
        chosen = list(assets)
        if settings.assets:
            known = {a.asset_id for a in assets}
            missing = sorted(set(settings.assets) - known)
            if missing:
                raise ConfigurationError(
                    f"RWA_SIM_ASSETS names unknown asset ids {missing}; known: {sorted(known)}"
                )
            chosen = [a for a in assets if a.asset_id in set(settings.assets)]
        return cls(
            chosen,
            seed=settings.seed,
            start=end - dt.timedelta(days=settings.days),
            end=end,
            frequency=settings.frequency,
            fault_rate=settings.fault_rate,
        )

    # -- the steps ------------------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        span = window.intersect(self.window)
        if span is None:
            return []
        requests: list[SourceRequest] = []
        for dataset in self.datasets:
            if dataset == "economic":
                requests += [fred_request(series_id, span) for series_id in MACRO_SERIES]
                continue
            for day in span.days():
                part = span.intersect(FetchWindow.for_days(day, 1))
                assert part is not None  # span.days() only lists days it touches
                if dataset == "news":
                    requests.append(news_request(self.assets, part))
                elif dataset == "prices":
                    requests += [price_request(a, self.frequency, part) for a in self.assets]
                elif dataset == "transfers":
                    requests += self._transfers_requests(day)
                else:
                    requests += [onchain_request(a, part) for a in self.assets]
        return requests

    def fetch(self, request: SourceRequest) -> RawResponse:
        handlers = {
            "prices": self._fetch_prices,
            "onchain": self._fetch_onchain,
            "economic": self._fetch_economic,
            "news": self._fetch_news,
            "transfers": self._fetch_transfers,
        }
        return handlers[request.dataset](request.params)

    def _transfers_requests(self, day: dt.date) -> list[SourceRequest]:
        """Each token's logs in the blocks of ``day``."""
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        first, last = first_block(start), first_block(start + DAY) - 1
        return [transfers_request(a, first, last) for a in self._by_contract.values()]

    # -- ground truth ---------------------------------------------------------------------------

    def events(self, asset_id: str) -> list[SimEvent]:
        """Jumps, de-pegs, markdowns, re-pricings and injected faults of one asset, by time."""
        asset = self._asset(asset_id)
        simulated = self._simulated(asset)
        return sim_events(asset.asset_id, self._grid, simulated.events, simulated.bars)

    # -- responses ------------------------------------------------------------------------------

    def _fetched_at(self, covered_until: dt.datetime, *parts: object) -> dt.datetime:
        """When the response 'arrived': after the period it covers, by a 1-10 minute lag."""
        lag = 60 + stable_int(self.seed, "fetched_at", *parts, covered_until.isoformat()) % 540
        return covered_until + dt.timedelta(seconds=lag)

    def _fetch_prices(self, params: dict[str, Any]) -> RawResponse:
        symbol = str(params.get("symbol_id"))
        asset = self._by_symbol.get(symbol)
        if asset is None:
            raise NotFoundError(f"unknown symbol_id {symbol!r}")
        start, end = instant_param(params, "time_start"), instant_param(params, "time_end")
        bars = self._simulated(asset).bars
        grid = self._grid
        records = bar_records(bars, grid, grid.index(start), grid.index(end), self._boundaries())
        return RawResponse(records, self._fetched_at(end, "prices", asset.asset_id))

    def _fetch_onchain(self, params: dict[str, Any]) -> RawResponse:
        asset = self._asset(str(params.get("asset")))
        first, last = date_param(params, "startDate"), date_param(params, "endDate")
        records = [
            record
            for record in self._onchain(asset)
            if first.isoformat() <= record["timestamp"][:10] < last.isoformat()
        ]
        until = dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC)
        return RawResponse(records, self._fetched_at(until, "onchain", asset.asset_id))

    def _fetch_transfers(self, params: dict[str, Any]) -> RawResponse:
        addresses = params.get("address")
        contract = str(addresses[0]) if isinstance(addresses, list) and addresses else ""
        asset = self._by_contract.get(contract)
        if asset is None:
            raise NotFoundError(f"no simulated token at address {contract!r}")
        first = int(str(params.get("fromBlock")), 16)
        day = dt.datetime.fromtimestamp(block_time(first), dt.UTC).date()
        cursor = self._transfer_pages.get(asset.asset_id)
        if cursor is None:
            records = self._onchain(asset)
            metrics = TokenDays(
                self.window.days(),
                [float(r["total_supply"]) for r in records],
                [int(r["holders"]) for r in records],
                [int(r["transfer_count"]) for r in records],
            )
            cursor = self._transfer_pages[asset.asset_id] = PageCursor(
                functools.partial(transfer_pages, asset, self.seed, metrics)
            )
        page = cursor.page(day)
        if page is None:
            raise NotFoundError(f"no simulated blocks from {first} (day {day})")
        until = dt.datetime.combine(day + DAY, dt.time(), tzinfo=dt.UTC)
        return RawResponse(page, self._fetched_at(until, "transfers", asset.asset_id))

    def _fetch_economic(self, params: dict[str, Any]) -> RawResponse:
        series_id = str(params.get("series_id"))
        series = MACRO_SERIES.get(series_id)
        if series is None:
            raise NotFoundError(
                f"unknown FRED series_id {series_id!r}; known: {list(MACRO_SERIES)}"
            )
        first = date_param(params, "observation_start")
        last = date_param(params, "observation_end")
        until = dt.datetime.combine(last + DAY, dt.time(), tzinfo=dt.UTC)
        fetched_at = self._fetched_at(until, "economic", series_id, first.isoformat())
        observations = fred_observations(self.seed, series, first, last, fetched_at.date())
        return RawResponse(fred_document(observations, first, last, fetched_at.date()), fetched_at)

    def _fetch_news(self, params: dict[str, Any]) -> RawResponse:
        start, end = instant_param(params, "from"), instant_param(params, "to")
        days = FetchWindow(start, end).days() if start < end else []
        articles = [
            article
            for day in reversed(days)  # newest first, as sortBy=publishedAt returns them
            for article in news_articles(self.seed, day, self._news_desk(day))
            if iso_z(start) <= article["publishedAt"] < iso_z(end)
        ]
        payload = {"status": "ok", "totalResults": len(articles), "articles": articles}
        return RawResponse(payload, self._fetched_at(end, "news"))

    # -- cached simulation ----------------------------------------------------------------------

    def _asset(self, asset_id: str) -> Asset:
        asset = self._by_id.get(asset_id)
        if asset is None:
            raise NotFoundError(
                f"asset {asset_id!r} is not simulated; known: {sorted(self._by_id)}"
            )
        return asset

    def _simulated(self, asset: Asset) -> SimulatedAsset:
        cached = self._simulated_assets.get(asset.asset_id)
        if cached is None:
            params = price_params(asset)
            streams = Streams(self.seed, asset.asset_id)
            path = simulate_path(params, self._grid, streams)
            bars = to_bars(params, self._grid, path, streams, self.fault_rate)
            cached = self._simulated_assets[asset.asset_id] = SimulatedAsset(path.events, bars)
        return cached

    def _boundaries(self) -> list[str]:
        if self._boundary_strings is None:
            self._boundary_strings = coinapi_times(
                self._grid.day0, self._grid.starts_ms(0, self._grid.count + 1)
            )
        return self._boundary_strings

    def _daily(self, asset: Asset) -> DailyView:
        view = self._views.get(asset.asset_id)
        if view is None:
            bars = self._simulated(asset).bars
            view = self._views[asset.asset_id] = daily_view(self._grid, bars)
        return view

    def _onchain(self, asset: Asset) -> list[dict[str, Any]]:
        records = self._onchain_records.get(asset.asset_id)
        if records is None:
            records = self._onchain_records[asset.asset_id] = onchain_records(
                price_params(asset),
                onchain_params(asset),
                self._daily(asset),
                Streams(self.seed, asset.asset_id),
            )
        return records

    def _news_desk(self, day: dt.date) -> list[AssetDay]:
        day_index = (day - self.window.start.date()).days
        if not 0 <= day_index < len(self.window.days()):
            return []  # outside the span: nothing happened, nothing to report
        return [
            asset_day(
                asset, self._simulated(asset).events, self._grid, self._daily(asset), day_index
            )
            for asset in self.assets
        ]


def _check_arguments(frequency: str, fault_rate: float, datasets: Sequence[str]) -> None:
    if frequency not in FREQUENCY_MINUTES:
        raise ConfigurationError(
            f"frequency must be one of {sorted(FREQUENCY_MINUTES)}, got {frequency!r}"
        )
    if not 0.0 <= fault_rate <= 1.0:
        raise ConfigurationError(f"fault_rate must be within [0, 1], got {fault_rate}")
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise ConfigurationError(f"unknown datasets {unknown}; known: {list(DATASETS)}")


def _index_assets(assets: Sequence[Asset]) -> dict[str, Asset]:
    """asset_id -> asset; ConfigurationError when an id or a symbol id is listed twice."""
    by_id: dict[str, Asset] = {}
    symbols: dict[str, str] = {}
    for asset in assets:
        if asset.asset_id in by_id:
            raise ConfigurationError(f"asset_id {asset.asset_id!r} is listed twice")
        symbol = coinapi_symbol_id(asset)
        if symbol in symbols:
            raise ConfigurationError(
                f"assets {symbols[symbol]!r} and {asset.asset_id!r} share symbol id {symbol}"
            )
        by_id[asset.asset_id], symbols[symbol] = asset, asset.asset_id
    return by_id
