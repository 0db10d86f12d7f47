"""Response schemas of ``GET /portfolios/{id}/risk``: every figure beside the name of the
method that made it (docs/risk.md, "Portfolio risk")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Number, UtcDatetime


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class RiskHoldingOut(_Out):
    asset_id: str
    value: Number = Field(description="Market value in the portfolio's currency.")
    weight: Number = Field(description="Share of the priced value (the weights sum to 1).")
    pegged: bool = Field(description="A dollar-pegged asset (models.risk.market.is_pegged).")
    closes: int = Field(description="Daily closes served for it within the lookback.")
    composite_score: int | None = Field(description="Its served risk score; null if none.")


class ReturnWindowOut(_Out):
    """The joint daily returns the VaR and ES were measured on."""

    start: str = Field(description="Day the first return ends on (ISO date).")
    end: str = Field(description="Day the last return ends on.")
    returns: int
    gap_days: int = Field(description="Days inside the span without every holding's close.")
    lookback_days: int = Field(description="Calendar days of closes read.")
    method: str


class TailRiskOut(_Out):
    method: str
    level: Number = Field(description="Confidence level: 0.95 or 0.99.")
    horizon_days: int = Field(description="1 or 10.")
    horizon_method: str = Field(description="How the horizon's figure was made.")
    var_log: Number = Field(description="VaR as a log return (losses positive).")
    es_log: Number = Field(description="Expected shortfall as a log return.")
    var_share: Number = Field(description="VaR as a share of today's value.")
    es_share: Number = Field(description="Expected shortfall as a share of today's value.")
    var_amount: Number = Field(description="VaR in the portfolio's currency.")
    es_amount: Number = Field(description="Expected shortfall in the portfolio's currency.")
    volatility: Number = Field(description="The method's daily volatility forecast.")


class ConcentrationOut(_Out):
    by: str = Field(description="asset, issuer or network.")
    hhi: Number = Field(description="Sum of squared value shares: 1/n (even) to 1 (one).")
    effective_count: Number = Field(description="1 / HHI: as many equal holdings.")
    shares: dict[str, Number] = Field(description="Value share of each group, largest first.")
    method: str


class PeggedOut(_Out):
    pegged_value: Number
    pegged_share: Number = Field(description="Share of value in dollar-pegged assets.")
    scenario_loss: Number = Field(description="Loss if each pegged asset breaks as stated.")
    scenario_share: Number
    pegged_assets: list[str]
    scenario: dict[str, str] = Field(description="Per pegged asset: the price and the event.")
    method: str


class ScoresOut(_Out):
    composite: Number | None
    market: Number | None
    credit: Number | None
    regulatory: Number | None
    technical: Number | None
    scored_share: Number = Field(description="Share of value whose asset has a served score.")
    unscored: list[str]
    method: str


class ValueForecastOut(_Out):
    horizon_days: int
    value_now: Number
    value: Number = Field(description="Point forecast of the portfolio's value.")
    lower_80: Number
    upper_80: Number
    lower_95: Number
    upper_95: Number
    forecast_share: Number = Field(description="Share of value whose asset has a forecast.")
    not_forecast: list[str] = Field(description="Held at today's value: no served forecast.")
    method: str


class PortfolioRiskOut(_Out):
    portfolio_id: int
    currency: str
    as_of: UtcDatetime | None = Field(description="Newest price time of the valuation.")
    value: Number = Field(description="Priced market value.")
    holdings: list[RiskHoldingOut]
    unpriced: list[str] = Field(description="Held assets without a price: left out.")
    window: ReturnWindowOut | None
    var: list[TailRiskOut] = Field(
        description="VaR and ES per method, level and horizon; empty when not measurable "
        "(``missing`` says why)."
    )
    concentration: list[ConcentrationOut]
    pegged: PeggedOut | None
    scores: ScoresOut | None
    forecast: ValueForecastOut | None
    missing: list[str] = Field(description="What could not be measured, and why.")
