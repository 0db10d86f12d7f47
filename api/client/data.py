"""The data endpoints: assets and their series, economic series, forecasts, sentiment, news,
risk scores and market analytics."""

from __future__ import annotations

from typing import Literal

from api.client.operations import When, operation
from api.client.resource import Resource
from api.client.results import Page, Result

AssetClass = Literal[
    "tokenized_treasury",
    "money_market_fund",
    "private_credit",
    "real_estate",
    "tokenized_gold",
    "stablecoin",
    "crypto",
]
Resolution = Literal["1m", "5m", "1h", "1d", "1w"]
Horizon = Literal[7, 30]
GroupBy = Literal["asset_class", "network", "issuer", "all"]

_WINDOW = ("start", "end", "limit")
HEALTH = operation("GET", "/health")
ASSETS = operation("GET", "/assets", "asset_class")
ASSET = operation("GET", "/assets/{asset_id}")
OHLCV = operation(
    "GET", "/assets/{asset_id}/ohlcv", *_WINDOW, "resolution", "interval", rows="bars"
)
ONCHAIN = operation("GET", "/assets/{asset_id}/onchain", *_WINDOW, rows="metrics")
FEATURES = operation("GET", "/assets/{asset_id}/features", *_WINDOW, rows="features")
ASSET_PREDICTIONS = operation(
    "GET", "/assets/{asset_id}/predictions", "horizon", rows="predictions"
)
SENTIMENT = operation("GET", "/assets/{asset_id}/sentiment", *_WINDOW, rows="days")
ASSET_NEWS = operation("GET", "/assets/{asset_id}/news", *_WINDOW, rows="articles")
ASSET_RISK = operation("GET", "/assets/{asset_id}/risk", rows="factors")
ASSET_MARKET = operation("GET", "/assets/{asset_id}/market", *_WINDOW, rows="days")
ECONOMIC = operation("GET", "/economic/{series_id}", *_WINDOW, "region", rows="observations")
PREDICTIONS = operation(
    "GET", "/predictions", "horizon", "asset_class", "sort", "limit", "offset", rows="forecasts"
)
NEWS = operation("GET", "/news", "limit", rows="articles")
RISK = operation(
    "GET",
    "/risk",
    "asset_class",
    "min_score",
    "max_score",
    "sort",
    "limit",
    "offset",
    rows="scores",
)
MARKET_ASSETS = operation(
    "GET",
    "/market/assets",
    "date",
    "asset_class",
    "network",
    "issuer",
    "stale",
    "sort",
    "limit",
    "offset",
    rows="assets",
)
MARKET_SUMMARY = operation("GET", "/market/summary", "date")
MARKET_BREAKDOWN = operation("GET", "/market/breakdown", "by", "date", rows="groups")
MARKET_HISTORY = operation(
    "GET", "/market/history", "by", "interval", "start", "end", "limit", rows="buckets"
)
LINEAGE = operation("GET", "/lineage", "asset", "ts", "measure", "resolution", rows="silver")
ASSET_SIGNALS = operation("GET", "/assets/{asset_id}/signals", rows="signals")
SIGNALS = operation(
    "GET",
    "/signals",
    "asset",
    "asset_class",
    "signal",
    "direction",
    "sort",
    "limit",
    "offset",
    rows="signals",
)


class Assets(Resource):
    """``client.assets``: the asset universe and each asset's series."""

    def list(self, asset_class: AssetClass | None = None) -> Result:
        return self._result(ASSETS, query={"asset_class": asset_class})

    def get(self, asset_id: str) -> Result:
        """Reference data of one asset (404: :class:`~api.client.errors.NotFoundError`)."""
        return self._result(ASSET, {"asset_id": asset_id})

    def ohlcv(
        self,
        asset_id: str,
        *,
        resolution: Resolution | None = None,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        """Price bars in ``[start, end)``; rows: ``bars`` (explorers: 1d and 1w only)."""
        query = {"resolution": resolution, "start": start, "end": end, "limit": limit}
        return self._result(OHLCV, {"asset_id": asset_id}, query)

    def onchain(
        self,
        asset_id: str,
        *,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        window = {"start": start, "end": end, "limit": limit}
        return self._result(ONCHAIN, {"asset_id": asset_id}, window)

    def features(
        self,
        asset_id: str,
        *,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        window = {"start": start, "end": end, "limit": limit}
        return self._result(FEATURES, {"asset_id": asset_id}, window)

    def predictions(self, asset_id: str, horizon: Horizon | None = None) -> Result:
        return self._result(ASSET_PREDICTIONS, {"asset_id": asset_id}, {"horizon": horizon})

    def sentiment(
        self,
        asset_id: str,
        *,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        window = {"start": start, "end": end, "limit": limit}
        return self._result(SENTIMENT, {"asset_id": asset_id}, window)

    def news(
        self,
        asset_id: str,
        *,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        window = {"start": start, "end": end, "limit": limit}
        return self._result(ASSET_NEWS, {"asset_id": asset_id}, window)

    def risk(self, asset_id: str) -> Result:
        """The risk score; rows: its ``factors`` (a tier with risk detail sees them all)."""
        return self._result(ASSET_RISK, {"asset_id": asset_id})

    def signals(self, asset_id: str) -> Result:
        """The asset's forecast, sentiment and risk signals, each with its backtest."""
        return self._result(ASSET_SIGNALS, {"asset_id": asset_id})

    def market(
        self,
        asset_id: str,
        *,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        """NAV, premium, yield vs T-bill, supply and holders per day; rows: ``days``."""
        window = {"start": start, "end": end, "limit": limit}
        return self._result(ASSET_MARKET, {"asset_id": asset_id}, window)


class Economic(Resource):
    """``client.economic``: macro series (FRED and others)."""

    def series(
        self,
        series_id: str,
        *,
        region: str | None = None,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        query = {"region": region, "start": start, "end": end, "limit": limit}
        return self._result(ECONOMIC, {"series_id": series_id}, query)


class Predictions(Resource):
    """``client.predictions``: the latest forecast of every asset, paged."""

    def list(
        self,
        *,
        horizon: Horizon | None = None,
        asset_class: AssetClass | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        query = {"horizon": horizon, "asset_class": asset_class, "sort": sort, "limit": limit}
        return self._page(PREDICTIONS, None, {**query, "offset": offset})


class News(Resource):
    """``client.news``: the latest articles over all assets."""

    def latest(self, limit: int | None = None) -> Result:
        return self._result(NEWS, query={"limit": limit})


class Risk(Resource):
    """``client.risk``: risk scores of every asset, paged (per asset: ``client.assets.risk``)."""

    def list(
        self,
        *,
        asset_class: AssetClass | None = None,
        min_score: int | None = None,
        max_score: int | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        query = {"asset_class": asset_class, "min_score": min_score, "max_score": max_score}
        return self._page(RISK, None, {**query, "sort": sort, "limit": limit, "offset": offset})


class Market(Resource):
    """``client.market``: the market-wide analytics (docs/api.md, "Market analytics")."""

    def assets(
        self,
        *,
        date: When | None = None,
        asset_class: AssetClass | None = None,
        network: str | None = None,
        issuer: str | None = None,
        stale: bool | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        query = {"date": date, "asset_class": asset_class, "network": network, "issuer": issuer}
        paging = {"stale": stale, "sort": sort, "limit": limit, "offset": offset}
        return self._page(MARKET_ASSETS, None, {**query, **paging})

    def summary(self, date: When | None = None) -> Result:
        return self._result(MARKET_SUMMARY, query={"date": date})

    def breakdown(self, by: GroupBy | None = None, date: When | None = None) -> Result:
        return self._result(MARKET_BREAKDOWN, query={"by": by, "date": date})

    def history(
        self,
        *,
        by: GroupBy | None = None,
        interval: Literal["day", "week", "month"] | None = None,
        start: When | None = None,
        end: When | None = None,
        limit: int | None = None,
    ) -> Result:
        query = {"by": by, "interval": interval, "start": start, "end": end, "limit": limit}
        return self._result(MARKET_HISTORY, query=query)


class Lineage(Resource):
    """``client.lineage``: the chain behind one served number (docs/api.md, "Lineage")."""

    def get(
        self,
        asset: str,
        ts: When,
        measure: str,
        resolution: Literal["1m", "5m", "1h", "1d"] | None = None,
    ) -> Result:
        """Served row, gold row and its run, silver records with their bronze lines, raw
        envelopes (model version and window for model outputs); rows: the silver records
        (paid tiers)."""
        query = {"asset": asset, "ts": ts, "measure": measure, "resolution": resolution}
        return self._result(LINEAGE, query=query)


class Signals(Resource):
    """``client.signals``: every asset's read-only signals (nothing places orders), paged."""

    def list(
        self,
        *,
        asset: str | None = None,
        asset_class: AssetClass | None = None,
        signal: Literal["forecast", "sentiment", "risk"] | None = None,
        direction: Literal[-1, 0, 1] | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        query = {"asset": asset, "asset_class": asset_class, "signal": signal}
        paging = {"direction": direction, "sort": sort, "limit": limit, "offset": offset}
        return self._page(SIGNALS, None, {**query, **paging})
