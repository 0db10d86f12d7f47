"""What a portfolio is exposed to, from its positions' values: concentration, pegged assets,
the value-weighted risk scores and the 30-day value forecast.

Pure functions on :class:`Position` rows (the API layer fills them from the valuation and the
reference data). Every result carries a ``method`` string saying how it was computed, so a
response can show it beside the number.

* **Concentration**: the Herfindahl-Hirschman index ``sum_i s_i^2`` of the value shares ``s``
  by asset, issuer and network (1 = everything in one; ``1/HHI`` is the effective number of
  equal holdings). An asset without a known issuer counts as an issuer of its own: nothing says
  it shares one with another.
* **Pegged assets** (:func:`models.risk.market.is_pegged`: stablecoins and $1-NAV fund tokens):
  their share of value and the loss of a stated de-peg scenario, each pegged asset at once at
  its class's worst historical break (``DEPEG_SCENARIO``).
* **Scores**: the value-weighted mean of the served per-asset composite and sub-scores, over
  the positions that have one (a sub-score missing for an asset is averaged over the others);
  the share of value scored is reported.
* **30-day value**: each position's forecast ratio (forecast / last close the model saw) times
  its value; the band from each asset's own 80% and 95% bands by **correlation aggregation**
  (the variance-covariance rule of the Basel / Solvency II standard formulas): with ``d`` the
  positions' downside half-widths in currency and ``R`` their daily return correlation, the
  portfolio's half-width is ``sqrt(d' R d)`` (upside likewise). ``R = 1`` everywhere gives the
  plain sum of quantiles (perfect co-movement); independent assets add in quadrature; one asset
  gets back its own band exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

HHI_METHOD = "Herfindahl-Hirschman index: sum of squared value shares (1 = all in one {})"
#: De-peg scenario by asset class: the price a pegged asset falls to, and the event it repeats.
DEPEG_SCENARIO: dict[str, tuple[float, str]] = {
    "stablecoin": (0.87, "USDC at $0.87, 11 March 2023 (Silicon Valley Bank)"),
    "money_market_fund": (0.97, "Reserve Primary Fund at $0.97, 16 September 2008"),
    "tokenized_treasury": (0.97, "Reserve Primary Fund at $0.97, 16 September 2008"),
}
SCORE_NAMES = ("composite", "market", "credit", "regulatory", "technical")
SCORE_METHOD = "value-weighted mean of the served per-asset risk scores ({}), over scored value"
FORECAST_METHOD = (
    "per-asset forecast ratio x value; bands by correlation aggregation sqrt(h' R h) of the "
    "positions' band half-widths h, R = correlation of daily log returns over the lookback"
)
COMONOTONE_METHOD = (
    "per-asset forecast ratio x value; bands as the plain sum of the positions' band "
    "half-widths (perfect co-movement: too little joint history for a correlation)"
)


@dataclass(frozen=True, slots=True)
class Position:
    """One holding as risk sees it: its value in the portfolio's currency and its reference."""

    asset_id: str
    value: float
    asset_class: str
    issuer: str | None
    network: str | None
    pegged: bool
    #: The latest price the value was taken at; None when unknown.
    price: float | None = None


def value_shares(positions: Sequence[Position]) -> dict[str, float]:
    """Each position's share of the total value (positions worth nothing left out)."""
    total = sum(p.value for p in positions if p.value > 0)
    if total <= 0:
        raise ValueError("the positions are worth nothing: no shares to take")
    return {p.asset_id: p.value / total for p in positions if p.value > 0}


def hhi(shares: Iterable[float]) -> float:
    return float(sum(s * s for s in shares))


@dataclass(frozen=True, slots=True)
class Concentration:
    by: str
    hhi: float
    #: ``1 / hhi``: how many equal holdings would be as concentrated.
    effective_count: float
    #: Value share of each group, largest first.
    shares: dict[str, float]
    method: str


def concentration(positions: Sequence[Position], by: str) -> Concentration:
    """HHI of the value shares grouped ``by`` "asset", "issuer" or "network"."""
    groups: dict[str, float] = {}
    for asset, share in value_shares(positions).items():
        position = next(p for p in positions if p.asset_id == asset)
        key = _group(position, by)
        groups[key] = groups.get(key, 0.0) + share
    index = hhi(groups.values())
    ordered = dict(sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])))
    return Concentration(by, index, 1.0 / index, ordered, HHI_METHOD.format(by))


def _group(position: Position, by: str) -> str:
    if by == "asset":
        return position.asset_id
    if by == "issuer":
        return position.issuer or f"{position.asset_id} (issuer unknown)"
    if by == "network":
        return position.network or f"{position.asset_id} (network unknown)"
    raise ValueError(f"no concentration by {by!r}")


@dataclass(frozen=True, slots=True)
class PegExposure:
    pegged_value: float
    pegged_share: float
    #: Loss of value if every pegged asset fell to its scenario price at once.
    scenario_loss: float
    #: ``scenario_loss`` as a share of the portfolio's value.
    scenario_share: float
    pegged_assets: tuple[str, ...]
    method: str
    scenario: dict[str, str] = field(default_factory=dict)


def peg_exposure(positions: Sequence[Position]) -> PegExposure:
    """Share of value in pegged assets and the loss of the ``DEPEG_SCENARIO``: each pegged
    asset falls from its price (taken as $1 when unknown) to its class's scenario price."""
    total = sum(p.value for p in positions if p.value > 0)
    pegged = [p for p in positions if p.pegged and p.value > 0]
    loss, used = 0.0, {}
    for p in pegged:
        floor, event = DEPEG_SCENARIO.get(p.asset_class, DEPEG_SCENARIO["stablecoin"])
        price = p.price if p.price and p.price > 0 else 1.0
        loss += p.value * max(0.0, 1.0 - floor / price)
        used[p.asset_id] = f"to ${floor:.2f}: {event}"
    value = sum(p.value for p in pegged)
    return PegExposure(
        pegged_value=value,
        pegged_share=value / total if total > 0 else 0.0,
        scenario_loss=loss,
        scenario_share=loss / total if total > 0 else 0.0,
        pegged_assets=tuple(p.asset_id for p in pegged),
        method=(
            "share of value in pegged assets (models.risk.market.is_pegged); scenario: every "
            "pegged asset at once at its class's worst historical break"
        ),
        scenario=used,
    )


@dataclass(frozen=True, slots=True)
class ScoreMix:
    #: Value-weighted composite and sub-scores (1-100); None where no position has one.
    scores: dict[str, float | None]
    scored_share: float
    unscored: tuple[str, ...]
    method: str


def weighted_scores(
    positions: Sequence[Position],
    scores: Mapping[str, Mapping[str, float | None]],
    model_versions: Iterable[str] = (),
) -> ScoreMix:
    """Value-weighted means of ``scores[asset][name]`` for each of ``SCORE_NAMES``."""
    shares = value_shares(positions)
    out: dict[str, float | None] = {}
    for name in SCORE_NAMES:
        pairs = [
            (share, float(value))
            for asset, share in shares.items()
            if (value := scores.get(asset, {}).get(name)) is not None
        ]
        weight = sum(s for s, _ in pairs)
        out[name] = sum(s * v for s, v in pairs) / weight if weight > 0 else None
    scored = [a for a in shares if scores.get(a, {}).get("composite") is not None]
    versions = ", ".join(sorted(set(model_versions))) or "no score served"
    return ScoreMix(
        scores=out,
        scored_share=sum(shares[a] for a in scored),
        unscored=tuple(a for a in shares if a not in scored),
        method=SCORE_METHOD.format(versions),
    )


@dataclass(frozen=True, slots=True)
class AssetForecast:
    """An asset's forecast at the horizon as ratios to the last close the model saw."""

    asset_id: str
    ratio: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float


@dataclass(frozen=True, slots=True)
class ValueForecast:
    horizon_days: int
    value_now: float
    value: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    #: Share of today's value whose asset has a forecast; the rest is held at today's value.
    forecast_share: float
    not_forecast: tuple[str, ...]
    method: str


def value_forecast(
    positions: Sequence[Position],
    forecasts: Mapping[str, AssetForecast],
    horizon_days: int,
    corr: tuple[Sequence[str], np.ndarray] | None,
) -> ValueForecast:
    """The portfolio's value at the horizon with 80% and 95% bands (module docstring).
    ``corr`` is the correlation matrix of daily returns with its assets' order; None when
    there is too little joint history (then the bands add up as if perfectly correlated)."""
    held = [p for p in positions if p.value > 0]
    covered = [p for p in held if p.asset_id in forecasts]
    rest = sum(p.value for p in held if p.asset_id not in forecasts)
    matrix = _correlation_of([p.asset_id for p in covered], corr)
    ratios = [forecasts[p.asset_id] for p in covered]
    values = np.array([p.value for p in covered])
    point = float(values @ np.array([f.ratio for f in ratios])) + rest

    def band(side: str, coverage: str) -> float:
        bound = np.array([getattr(f, f"{side}_{coverage}") for f in ratios])
        centre = np.array([f.ratio for f in ratios])
        width = values * np.maximum(0.0, (bound - centre) if side == "upper" else centre - bound)
        return math.sqrt(max(0.0, float(width @ matrix @ width)))

    total = sum(p.value for p in held)
    return ValueForecast(
        horizon_days=horizon_days,
        value_now=total,
        value=point,
        lower_80=max(0.0, point - band("lower", "80")),
        upper_80=point + band("upper", "80"),
        lower_95=max(0.0, point - band("lower", "95")),
        upper_95=point + band("upper", "95"),
        forecast_share=(total - rest) / total if total > 0 else 0.0,
        not_forecast=tuple(p.asset_id for p in held if p.asset_id not in forecasts),
        method=FORECAST_METHOD if corr is not None else COMONOTONE_METHOD,
    )


def _correlation_of(
    assets: Sequence[str], corr: tuple[Sequence[str], np.ndarray] | None
) -> np.ndarray:
    """The correlation submatrix of ``assets`` (all ones without a correlation)."""
    if corr is None:
        return np.ones((len(assets), len(assets)))
    order, matrix = corr
    index = [list(order).index(a) for a in assets]
    return matrix[np.ix_(index, index)]
