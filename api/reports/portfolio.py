"""The portfolio report: what a portfolio is worth, what it made, how it is spread and how
risky it is, with every holding, on a few printed pages.

Built on the portfolio services the API's routes use, so the report and the API agree: the
owner's portfolio (:func:`api.portfolios.service.owned`: another user's is not found) and its
ledger, the valuation at the latest served prices (:mod:`api.portfolios.valuation`), the daily
value and P&L series (:mod:`api.portfolios.history`) and the risk assessment
(:mod:`api.portfolios.risk`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from api.portfolios import history, service, valuation
from api.portfolios.ledger import CostMethod
from api.portfolios.risk import Holdings, assess
from api.portfolios.risk_schemas import PortfolioRiskOut
from api.portfolios.tables import Portfolio
from api.portfolios.valuation import Slice, Valuation
from api.reports import charts
from api.reports.render import html_to_pdf, render_html
from pipelines.serving.store import ServingStore

#: Bars drawn per allocation chart: the largest, the rest summed as "others".
TOP_SLICES = 12


@dataclass(frozen=True, slots=True)
class PortfolioData:
    """Everything one portfolio report shows."""

    portfolio: Portfolio
    valuation: Valuation
    #: history.COLUMNS by day, from the first transaction to the latest served day.
    series: pd.DataFrame
    risk: PortfolioRiskOut
    #: The newest transaction's time (None: none yet).
    last_trade: dt.datetime | None
    #: (held asset, risk score model version, 30-day forecast model version), None where the
    #: store has none.
    models: list[tuple[str, str | None, str | None]]

    @property
    def as_of(self) -> dt.datetime | None:
        """The newer of the valuation's newest price and the newest transaction."""
        times = [t for t in (self.valuation.as_of, self.last_trade) if t is not None]
        return max((_utc(t) for t in times), default=None)

    @property
    def model_versions(self) -> list[tuple[str, str]]:
        """The footer's line: each distinct model version, or their count where there are
        many (per-asset forecasting models: the last page lists them all)."""
        versions: list[tuple[str, str]] = []
        for what, index in (("risk score", 1), ("30-day forecasts", 2)):
            named = sorted({str(m[index]) for m in self.models if m[index] is not None})
            if len(named) > 2:
                versions.append((what, f"{len(named)} models, listed on the last page"))
            else:
                versions.extend((what, v) for v in named)
        return versions


def _utc(value: dt.datetime) -> dt.datetime:
    """Naive times from the operational database are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def read_portfolio(
    session: Session, store: ServingStore, user_id: int, portfolio_id: int
) -> PortfolioData:
    """The report's data; :class:`~api.portfolios.service.PortfolioNotFoundError` unless
    ``user_id`` owns the portfolio."""
    portfolio = service.owned(session, user_id, portfolio_id)
    ledger = service.ledger_of(session, portfolio)
    reference = {a.asset_id: a for a in store.list_assets()}
    valued = valuation.value(store, ledger, CostMethod(portfolio.cost_method), reference)
    priced = [p for p in valued.positions if p.market_value is not None and p.price is not None]
    held = Holdings(
        portfolio_id=portfolio.id,
        currency=portfolio.currency,
        as_of=valued.as_of,
        values={p.asset_id: float(p.market_value or 0) for p in priced},
        prices={p.asset_id: float(p.price.value) for p in priced if p.price is not None},
        unpriced=valued.unpriced,
    )
    return PortfolioData(
        portfolio=portfolio,
        valuation=valued,
        series=history.pnl_series(store, ledger),
        risk=assess(store, held, reference),
        last_trade=ledger.steps[-1].trade.at if ledger.steps else None,
        models=_models(store, [p.asset_id for p in valued.positions]),
    )


def _models(
    store: ServingStore, asset_ids: Sequence[str]
) -> list[tuple[str, str | None, str | None]]:
    scores = {
        r["asset_id"]: r["model_version"]
        for r in store.latest_risk_scores().select(["asset_id", "model_version"]).to_pylist()
    }
    forecasts = {
        r["asset_id"]: r["model_version"]
        for r in store.forecast_summaries(30).select(["asset_id", "model_version"]).to_pylist()
    }
    return [(a, scores.get(a), forecasts.get(a)) for a in asset_ids]


def portfolio_html(data: PortfolioData, with_charts: bool = True) -> str:
    """The report as HTML; without charts (the benchmark's baseline) the same pages, the
    figures left empty."""
    return render_html(
        "portfolio.html",
        data,
        _charts(data) if with_charts else {},
        portfolio=data.portfolio,
        valued=data.valuation,
        risk=data.risk,
        allocation={g: _top(data.valuation.allocation.get(g, ())) for g in valuation.GROUPINGS},
        pnl_pct=_pnl_share(data.valuation),
    )


def portfolio_pdf(session: Session, store: ServingStore, user_id: int, portfolio_id: int) -> bytes:
    """The report of ``user_id``'s portfolio ``portfolio_id`` as a PDF."""
    return html_to_pdf(portfolio_html(read_portfolio(session, store, user_id, portfolio_id)))


def _pnl_share(valued: Valuation) -> float | None:
    """Total P&L (realized + unrealized) as a share of what was invested."""
    if not valued.invested:
        return None
    return float((valued.realized_pnl + valued.unrealized_pnl) / valued.invested)


def _top(slices: Sequence[Slice]) -> list[tuple[str, float, float]]:
    """(key, market value, weight) of the :data:`TOP_SLICES` largest, then "others" summed."""
    ordered = sorted(slices, key=lambda s: s.market_value, reverse=True)
    top = [(s.key, float(s.market_value), s.weight) for s in ordered[:TOP_SLICES]]
    rest = ordered[TOP_SLICES:]
    if rest:
        top.append(
            (
                f"{len(rest)} others",
                float(sum(s.market_value for s in rest)),
                sum(s.weight for s in rest),
            )
        )
    return top


def _charts(data: PortfolioData) -> dict[str, str]:
    with charts.DRAWING:
        return _draw(data)


def _draw(data: PortfolioData) -> dict[str, str]:
    figures: dict[str, str] = {}
    series = data.series
    if not series.empty:
        days = [
            dt.datetime.combine(d, dt.time(), dt.UTC) for d in pd.to_datetime(series.index).date
        ]
        figures["value"] = charts.lines(
            days,
            ("market value", series["market_value"].tolist()),
            ("invested", series["invested"].tolist()),
            twin=False,
        )
        figures["pnl"] = charts.lines(days, ("total P&L", series["total_pnl"].tolist()))
    # By asset and by class as charts; by network and issuer the template's tables.
    for grouping in valuation.GROUPINGS[:2]:
        slices = _top(data.valuation.allocation.get(grouping, ()))
        if slices:
            figures[f"by_{grouping}"] = charts.horizontal_bars(
                [key.replace("_", " ")[:24] for key, _, _ in slices],
                [weight * 100 for _, _, weight in slices],
                unit="%",
            )
    scores = data.risk.scores
    if scores is not None:
        named = [
            (name, getattr(scores, name))
            for name in ("composite", "market", "credit", "regulatory", "technical")
        ]
        known = [(n, float(v)) for n, v in named if v is not None]
        if known:
            figures["scores"] = charts.horizontal_bars(
                [n for n, _ in known], [v for _, v in known], limit=100
            )
    return figures
