"""The asset report: what the API serves about one asset, on a few printed pages.

Read through the store methods the routes use and validated with the routes' response schemas
(:mod:`api.schemas`), so the report says what ``/assets/{id}``, ``/assets/{id}/risk``,
``/predictions``, ``/sentiment`` and ``/onchain`` say: key facts and evidence flags, the price
with its 7- and 30-day forecast bands, the risk breakdown with its factors, daily sentiment and
on-chain metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from api.reports import charts
from api.reports.render import html_to_pdf, render_html
from api.schemas import (
    AssetDetail,
    OnchainDayOut,
    PredictionPointOut,
    RiskScoreOut,
    SentimentDayOut,
)
from pipelines.contracts.served import ONCHAIN, SENTIMENT
from pipelines.core.errors import NotFoundError
from pipelines.serving.store import OhlcvBar, ServingStore

#: Daily closes drawn before the forecasts, and days of sentiment and on-chain metrics.
PRICE_DAYS = 120
SERIES_DAYS = 90
#: Forecast horizons shown (days), each with the interval coverages the store keeps.
HORIZONS = (7, 30)
COVERAGES = (0.8, 0.95)
DAY = dt.timedelta(days=1)


class UnknownAssetError(NotFoundError):
    """The store does not know the asset (the API answers 404, ``rwa report`` exits 2)."""

    def __init__(self, asset_id: str) -> None:
        self.asset_id = asset_id
        super().__init__(f"asset {asset_id!r} not found")


@dataclass(frozen=True, slots=True)
class Forecast:
    horizon_days: int
    generated_at: dt.datetime
    model_version: str
    points: list[PredictionPointOut]


@dataclass(frozen=True, slots=True)
class AssetData:
    """Everything one asset report shows, as the API serves it."""

    asset: AssetDetail
    bars: list[OhlcvBar]
    forecasts: list[Forecast]
    risk: RiskScoreOut | None
    sentiment: list[SentimentDayOut]
    onchain: list[OnchainDayOut]

    @property
    def as_of(self) -> dt.datetime | None:
        """The end of the newest data in the report: a day's bar or metrics count to the end
        of their day; forecasts and scores carry the end of the data they saw."""
        ends = [
            *(rows[-1].ts + DAY for rows in (self.sentiment, self.onchain) if rows),
            *([self.bars[-1].ts + DAY] if self.bars else []),
            *(f.generated_at for f in self.forecasts),
            *([self.risk.calculated_at] if self.risk else []),
        ]
        return max(ends, default=None)

    @property
    def model_versions(self) -> list[tuple[str, str]]:
        """(what, version) of every model whose output the report shows."""
        versions = [(f"{f.horizon_days}-day forecast", f.model_version) for f in self.forecasts]
        if self.risk is not None:
            versions.append(("risk score", self.risk.model_version))
        # The newest scored day's model: the one the sentiment section quotes.
        scored = [d.model_version for d in self.sentiment if d.model_version]
        if scored:
            versions.append(("sentiment", scored[-1]))
        return versions


def read_asset(store: ServingStore, asset_id: str) -> AssetData:
    """The report's data, read from ``store``; :class:`UnknownAssetError` for an unknown id."""
    asset = store.get_asset(asset_id)
    if asset is None:
        raise UnknownAssetError(asset_id)
    risk_rows = [r for r in store.latest_risk_scores().to_pylist() if r["asset_id"] == asset_id]
    return AssetData(
        asset=AssetDetail.model_validate(asset),
        bars=store.ohlcv(asset_id, "1d", limit=PRICE_DAYS),
        forecasts=[f for h in HORIZONS if (f := _forecast(store, asset_id, h)) is not None],
        risk=RiskScoreOut.from_row(risk_rows[0]) if risk_rows else None,
        sentiment=SentimentDayOut.list_from_arrow(
            store.series(SENTIMENT, {"asset_id": asset_id}, limit=SERIES_DAYS)
        ),
        onchain=OnchainDayOut.list_from_arrow(
            store.series(ONCHAIN, {"asset_id": asset_id}, limit=SERIES_DAYS)
        ),
    )


def _forecast(store: ServingStore, asset_id: str, horizon_days: int) -> Forecast | None:
    rows = store.latest_predictions(asset_id, horizon_days).to_pylist()
    if not rows:
        return None
    return Forecast(
        horizon_days=horizon_days,
        generated_at=rows[0]["generated_at"],
        model_version=rows[0]["model_version"],
        points=[PredictionPointOut.model_validate(r) for r in rows],
    )


def asset_html(data: AssetData, with_charts: bool = True) -> str:
    """The report as HTML; without charts (the benchmark's baseline) the same pages, the
    figures left empty."""
    return render_html(
        "asset.html",
        data,
        _charts(data) if with_charts else {},
        asset=data.asset,
        onchain_latest=data.onchain[-1] if data.onchain else None,
    )


def asset_pdf(store: ServingStore, asset_id: str) -> bytes:
    """The asset report of ``asset_id`` as a PDF."""
    return html_to_pdf(asset_html(read_asset(store, asset_id)))


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _charts(data: AssetData) -> dict[str, str]:
    with charts.DRAWING:
        return _draw(data)


def _draw(data: AssetData) -> dict[str, str]:
    figures: dict[str, str] = {}
    if data.bars or data.forecasts:
        bands = [_band(f) for f in data.forecasts]
        figures["price"] = charts.price_with_forecasts(
            [b.ts for b in data.bars], [b.close for b in data.bars], bands
        )
    if data.risk is not None:
        labels, values = _sub_scores(data.risk)
        figures["risk"] = charts.horizontal_bars(labels, values, limit=100)
    scored = [d for d in data.sentiment if d.sentiment_score is not None]
    if scored:
        figures["sentiment"] = charts.signed_bars(
            [d.ts for d in scored], [float(d.sentiment_score or 0) for d in scored], "score"
        )
    figures.update(_onchain_charts(data.onchain))
    return figures


def _band(forecast: Forecast) -> charts.Band:
    points = forecast.points
    return charts.Band(
        label=f"{forecast.horizon_days}-day forecast",
        dates=[_midnight(p.target_date) for p in points],
        value=[float(p.value) for p in points],
        lower=_bound(points, "lower"),
        upper=_bound(points, "upper"),
    )


def _bound(points: Sequence[PredictionPointOut], side: str) -> dict[float, Sequence[float]]:
    """Per coverage, the interval's ``side`` where every point has it."""
    bounds: dict[float, Sequence[float]] = {}
    for coverage in COVERAGES:
        values = [getattr(p, f"{side}_{round(coverage * 100)}") for p in points]
        if all(v is not None for v in values):
            bounds[coverage] = [float(v) for v in values]
    return bounds


def _sub_scores(risk: RiskScoreOut) -> tuple[list[str], list[float]]:
    named = [
        ("composite", risk.composite_score),
        ("market", risk.market_risk),
        ("credit", risk.credit_risk),
        ("regulatory", risk.regulatory_risk),
        ("technical", risk.technical_risk),
    ]
    known = [(name, float(score)) for name, score in named if score is not None]
    return [n for n, _ in known], [s for _, s in known]


def _onchain_charts(days: list[OnchainDayOut]) -> dict[str, str]:
    """Supply and holders on one chart (each on its own axis), whichever are served."""
    served = [
        (name, values)
        for name, values in (
            ("total supply (tokens)", [_float(d.total_supply) for d in days]),
            ("holders", [_float(d.holders) for d in days]),
        )
        if any(v is not None for v in values)
    ]
    if not served:
        return {}
    right = served[1] if len(served) > 1 else None
    return {"onchain": charts.lines([d.ts for d in days], served[0], right)}


def _float(value: float | int | None) -> float | None:
    return None if value is None else float(value)
