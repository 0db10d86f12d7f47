"""A portfolio's risk from the serving store: the data :mod:`models.risk.portfolio` and
:mod:`models.risk.exposure` need, read for the held assets, and their answer as
:class:`~api.portfolios.risk_schemas.PortfolioRiskOut`.

Reads, for the priced holdings of a valuation: each asset's daily bars over the risk engine's
lookback (``LOOKBACK_DAYS`` before the valuation's newest price), the asset reference (class,
issuer, network; pegged by :func:`models.risk.market.is_pegged` on those bars, as the engine
decides), the newest served risk scores and the newest 30-day forecasts. Nothing here raises
for thin data: what cannot be measured is left empty and said in ``missing``.

Entry points: :func:`assess` (a valuation's holdings -> the answer) and
:func:`portfolio_risk` (a user's portfolio by id, as the route and the PDF report call it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from api.portfolios import service
from api.portfolios.ledger import CostMethod
from api.portfolios.risk_schemas import (
    ConcentrationOut,
    PeggedOut,
    PortfolioRiskOut,
    ReturnWindowOut,
    RiskHoldingOut,
    ScoresOut,
    TailRiskOut,
    ValueForecastOut,
)
from api.portfolios.tables import Portfolio
from api.portfolios.valuation import Valuation, value
from models.risk import exposure
from models.risk.market import LOOKBACK_DAYS, MIN_RETURNS, MarketHistory, is_pegged
from models.risk.portfolio import (
    JointReturns,
    ShortHistoryError,
    correlation,
    joint_returns,
    tail_risks,
)
from pipelines.contracts.reference import Asset
from pipelines.contracts.served import OHLCV
from pipelines.serving.store import ServingStore

#: The forecast horizon the portfolio's value is forecast at.
FORECAST_HORIZON_DAYS = 30
ALIGNMENT = (
    "daily log returns between consecutive days on which every holding has a close; "
    "never forward-filled (models.risk.portfolio.joint_returns)"
)
CONCENTRATION_BY = ("asset", "issuer", "network")


@dataclass(frozen=True, slots=True)
class Holdings:
    """What risk needs of a valuation: the priced holdings' values and prices (floats are
    fine for risk statistics) and the held assets that have no price."""

    portfolio_id: int
    currency: str
    #: The valuation's newest price time; the lookback ends on its day.
    as_of: dt.datetime | None
    values: Mapping[str, float]
    prices: Mapping[str, float]
    unpriced: tuple[str, ...] = ()


def holdings_of(portfolio: Portfolio, valuation: Valuation) -> Holdings:
    """What risk reads of a valuation: the priced positions' values and prices as floats."""
    priced = [p for p in valuation.positions if p.market_value is not None and p.price]
    return Holdings(
        portfolio_id=portfolio.id,
        currency=portfolio.currency,
        as_of=valuation.as_of,
        values={p.asset_id: float(p.market_value or 0) for p in priced},
        prices={p.asset_id: float(p.price.value) for p in priced if p.price},
        unpriced=tuple(valuation.unpriced),
    )


def portfolio_risk(
    session: Session, store: ServingStore, user_id: int, portfolio_id: int
) -> PortfolioRiskOut:
    """The risk of ``user_id``'s portfolio ``portfolio_id``, valued as ``/valuation`` values
    it: the answer of ``GET /portfolios/{id}/risk``. Raises
    :class:`~api.portfolios.service.PortfolioNotFoundError` (a 404) for another user's
    portfolio as for none."""
    portfolio = service.owned(session, user_id, portfolio_id)
    ledger = service.ledger_of(session, portfolio)
    assets = {a.asset_id: a for a in store.list_assets()}
    valuation = value(store, ledger, CostMethod(portfolio.cost_method), assets)
    return assess(store, holdings_of(portfolio, valuation), assets)


@dataclass(frozen=True, slots=True)
class _Bars:
    days: np.ndarray
    history: MarketHistory


def assess(
    store: ServingStore, held: Holdings, assets: Mapping[str, Asset] | None = None
) -> PortfolioRiskOut:
    """Every figure of the portfolio's risk that its data allows (module docstring)."""
    values = {a: v for a, v in sorted(held.values.items()) if v > 0}
    missing = [f"{a}: no served close or NAV, left out of every figure" for a in held.unpriced]
    if not values:
        return _nothing_priced(held, missing)
    reference = assets if assets is not None else {a.asset_id: a for a in store.list_assets()}
    bars = _bars(store, list(values), held.as_of)
    positions = [
        _position(a, v, held.prices.get(a), reference.get(a), bars[a]) for a, v in values.items()
    ]
    total = sum(values.values())
    weights = np.array([values[a] / total for a in values])
    joint = joint_returns({a: (bars[a].days, bars[a].history.close) for a in values})
    var = _tail(joint, weights, total, missing)
    corr = None
    if joint.returns.shape[1] >= MIN_RETURNS:
        corr = (list(joint.assets), correlation(joint.returns))
    scores, composite = _scores(store, positions, missing)
    forecast = _forecast(store, positions, corr, missing)
    return PortfolioRiskOut(
        portfolio_id=held.portfolio_id,
        currency=held.currency,
        as_of=held.as_of,
        value=total,
        holdings=[
            RiskHoldingOut(
                asset_id=p.asset_id,
                value=p.value,
                weight=p.value / total,
                pegged=p.pegged,
                closes=int(bars[p.asset_id].days.size),
                composite_score=composite.get(p.asset_id),
            )
            for p in positions
        ],
        unpriced=list(held.unpriced),
        window=_window(joint) if var else None,
        var=var,
        concentration=[_concentration(positions, by) for by in CONCENTRATION_BY],
        pegged=_pegged(positions),
        scores=scores,
        forecast=forecast,
        missing=missing,
    )


def _nothing_priced(held: Holdings, missing: list[str]) -> PortfolioRiskOut:
    if not held.unpriced:
        missing.insert(0, "the portfolio holds nothing: there is no risk to measure")
    return PortfolioRiskOut(
        portfolio_id=held.portfolio_id,
        currency=held.currency,
        as_of=held.as_of,
        value=0.0,
        holdings=[],
        unpriced=list(held.unpriced),
        window=None,
        var=[],
        concentration=[],
        pegged=None,
        scores=None,
        forecast=None,
        missing=missing,
    )


def _bars(
    store: ServingStore, asset_ids: Sequence[str], as_of: dt.datetime | None
) -> dict[str, _Bars]:
    """Each asset's daily bars over the lookback ending on ``as_of``'s day (today without),
    in one read."""
    last = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    end = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    start = end - dt.timedelta(days=LOOKBACK_DAYS)
    table = store.panel(OHLCV, asset_ids, start, end, where={"resolution": "1d"})
    columns = {
        name: np.asarray(table.column(name).to_numpy(zero_copy_only=False))
        for name in ("asset_id", "close", "high", "low")
    }
    # bars start at midnight UTC: the instant's UTC day is the bar's day
    days = table.column("ts").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    out = {}
    for asset_id in asset_ids:
        mine = columns["asset_id"] == asset_id
        close, high, low = (columns[name][mine].astype(float) for name in ("close", "high", "low"))
        history = MarketHistory(close, high, low, None, None, None)
        out[asset_id] = _Bars(days[mine], history)
    return out


def _position(
    asset_id: str, value: float, price: float | None, asset: Asset | None, bars: _Bars
) -> exposure.Position:
    asset_class = asset.asset_class if asset else "unknown"
    return exposure.Position(
        asset_id=asset_id,
        value=value,
        asset_class=asset_class,
        issuer=asset.issuer_name if asset else None,
        network=asset.blockchain_network if asset else None,
        pegged=is_pegged(asset_class, bars.history),
        price=price,
    )


def _tail(
    joint: JointReturns, weights: np.ndarray, total: float, missing: list[str]
) -> list[TailRiskOut]:
    try:
        risks = tail_risks(joint, weights)
    except ShortHistoryError as short:
        missing.append(f"VaR and ES: {short}")
        return []
    return [
        TailRiskOut(
            method=r.method,
            level=r.level,
            horizon_days=r.horizon_days,
            horizon_method=r.horizon_method,
            var_log=r.var,
            es_log=r.es,
            var_share=r.var_share,
            es_share=r.es_share,
            var_amount=r.var_share * total,
            es_amount=r.es_share * total,
            volatility=r.volatility,
        )
        for r in risks
    ]


def _window(joint: JointReturns) -> ReturnWindowOut:
    return ReturnWindowOut(
        start=str(joint.days[0]),
        end=str(joint.days[-1]),
        returns=int(joint.days.size),
        gap_days=joint.gap_days,
        lookback_days=LOOKBACK_DAYS,
        method=ALIGNMENT,
    )


def _concentration(positions: Sequence[exposure.Position], by: str) -> ConcentrationOut:
    c = exposure.concentration(positions, by)
    return ConcentrationOut(
        by=c.by, hhi=c.hhi, effective_count=c.effective_count, shares=c.shares, method=c.method
    )


def _pegged(positions: Sequence[exposure.Position]) -> PeggedOut:
    peg = exposure.peg_exposure(positions)
    return PeggedOut(
        pegged_value=peg.pegged_value,
        pegged_share=peg.pegged_share,
        scenario_loss=peg.scenario_loss,
        scenario_share=peg.scenario_share,
        pegged_assets=list(peg.pegged_assets),
        scenario=peg.scenario,
        method=peg.method,
    )


def _scores(
    store: ServingStore, positions: Sequence[exposure.Position], missing: list[str]
) -> tuple[ScoresOut, dict[str, int]]:
    held = {p.asset_id for p in positions}
    rows = [r for r in store.latest_risk_scores().to_pylist() if r["asset_id"] in held]
    scores = {
        r["asset_id"]: {
            "composite": r["composite_score"],
            **{name: r[f"{name}_risk"] for name in exposure.SCORE_NAMES[1:]},
        }
        for r in rows
    }
    mix = exposure.weighted_scores(positions, scores, [r["model_version"] for r in rows])
    if mix.unscored:
        missing.append(f"risk scores: none served for {', '.join(mix.unscored)}")
    out = ScoresOut(
        **mix.scores,
        scored_share=mix.scored_share,
        unscored=list(mix.unscored),
        method=mix.method,
    )
    return out, {r["asset_id"]: r["composite_score"] for r in rows}


def _forecast(
    store: ServingStore,
    positions: Sequence[exposure.Position],
    corr: tuple[Sequence[str], np.ndarray] | None,
    missing: list[str],
) -> ValueForecastOut:
    held = {p.asset_id for p in positions}
    forecasts = {}
    for row in store.forecast_summaries(FORECAST_HORIZON_DAYS).to_pylist():
        bounds = [row[k] for k in ("lower_80", "upper_80", "lower_95", "upper_95")]
        base = row["last_close"]
        if row["asset_id"] in held and base and all(b is not None for b in bounds):
            forecasts[row["asset_id"]] = exposure.AssetForecast(
                row["asset_id"], row["value"] / base, *(b / base for b in bounds)
            )
    out = exposure.value_forecast(positions, forecasts, FORECAST_HORIZON_DAYS, corr)
    if out.not_forecast:
        missing.append(
            f"{FORECAST_HORIZON_DAYS}-day forecast: none served for {', '.join(out.not_forecast)} "
            "(held at today's value)"
        )
    return ValueForecastOut(
        horizon_days=out.horizon_days,
        value_now=out.value_now,
        value=out.value,
        lower_80=out.lower_80,
        upper_80=out.upper_80,
        lower_95=out.lower_95,
        upper_95=out.upper_95,
        forecast_share=out.forecast_share,
        not_forecast=list(out.not_forecast),
        method=out.method,
    )
