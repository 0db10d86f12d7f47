"""The composite score: four sub-scores, weighted per asset class, explained by their factors.

Default weights are the product brief's 30/25/25/20 (market, credit, regulatory, technical).
Classes whose risk sits elsewhere move the weight there: crypto majors have no issuer (credit
5%), private credit is mostly credit risk, a stablecoin's peg and reserves carry most of its
risk. Each sub-score is the weighted mean of its factors' points; the composite is the weighted
mean of the sub-scores; scores are published as integers 1-100. ``top_factors`` ranks the
factors by how many composite points they contributed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from models.risk.factors import Factor, to_score, weighted_points
from models.risk.market import MarketHistory, is_pegged, market_factors
from models.risk.profile import credit_factors, regulatory_factors, technical_factors
from pipelines.contracts.reference import Asset

#: Methodology version recorded with every score (docs/risk.md); bump when a rule changes.
MODEL_VERSION = "risk-rules-2.0"
SUB_SCORES = ("market", "credit", "regulatory", "technical")
DEFAULT_WEIGHTS = {"market": 0.30, "credit": 0.25, "regulatory": 0.25, "technical": 0.20}
CLASS_WEIGHTS: dict[str, dict[str, float]] = {
    "crypto": {"market": 0.50, "credit": 0.05, "regulatory": 0.25, "technical": 0.20},
    "stablecoin": {"market": 0.30, "credit": 0.30, "regulatory": 0.20, "technical": 0.20},
    "private_credit": {"market": 0.20, "credit": 0.40, "regulatory": 0.20, "technical": 0.20},
    "tokenized_gold": {"market": 0.35, "credit": 0.20, "regulatory": 0.25, "technical": 0.20},
}
TOP_FACTORS = 5


@dataclass(frozen=True, slots=True)
class RiskScore:
    asset_id: str
    as_of: dt.date
    composite: int
    sub_scores: dict[str, int]
    weights: dict[str, float]
    pegged: bool
    factors: tuple[Factor, ...]

    def top_factors(self, n: int = TOP_FACTORS) -> list[dict[str, object]]:
        ranked = [f.as_dict(self._composite_share(f)) for f in self.factors]
        ranked.sort(key=lambda f: (-float(str(f["contribution"])), str(f["factor"])))
        return ranked[:n]

    def factors_json(self) -> str:
        """What ``risk_scores.factors`` stores: the top factors, every factor, the weights."""
        body = {
            "top": self.top_factors(),
            "all": [f.as_dict(self._composite_share(f)) for f in self.factors],
            "weights": self.weights,
            "pegged": self.pegged,
            "as_of": self.as_of.isoformat(),
        }
        return json.dumps(body, sort_keys=True)

    def _composite_share(self, factor: Factor) -> float:
        """The composite weight of one factor point: sub-score weight over the sub-score's
        total factor weight."""
        total = sum(f.weight for f in self.factors if f.sub_score == factor.sub_score)
        return self.weights[factor.sub_score] / total


def weights_for(asset_class: str) -> dict[str, float]:
    return CLASS_WEIGHTS.get(asset_class, DEFAULT_WEIGHTS)


def score_asset(
    asset: Asset,
    history: MarketHistory,
    as_of: dt.date,
    nav_premium: float | None = None,
) -> RiskScore:
    """The risk score of ``asset`` as of ``as_of`` from its trailing market ``history``."""
    pegged = is_pegged(asset.asset_class, history)
    by_sub_score = {
        "market": market_factors(history, pegged),
        "credit": credit_factors(asset, nav_premium),
        "regulatory": regulatory_factors(asset),
        "technical": technical_factors(asset, as_of),
    }
    points = {name: weighted_points(factors) for name, factors in by_sub_score.items()}
    weights = weights_for(asset.asset_class)
    composite = sum(points[name] * weights[name] for name in SUB_SCORES)
    return RiskScore(
        asset_id=asset.asset_id,
        as_of=as_of,
        composite=to_score(composite),
        sub_scores={name: to_score(value) for name, value in points.items()},
        weights=weights,
        pegged=pegged,
        factors=tuple(f for name in SUB_SCORES for f in by_sub_score[name]),
    )
