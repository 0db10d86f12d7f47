"""Response schemas of the market analytics (``/market/*`` and ``/assets/{asset_id}/market``):
the measures rwa.xyz and DefiLlama publish, per asset-day and aggregated over assets.

The rows of ``market_daily`` (:class:`MarketDayOut`) and of its aggregates
(:class:`MarketAggregateOut`) mirror their declarations in :mod:`pipelines.contracts.served`
column for column (``tests/api/test_schemas_mirror_served_tables.py``). What each measure
means, and how stale values are told apart from current ones: docs/api.md ("Market analytics").
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from api.schemas import EvidenceOut, Number, UtcDatetime, _DayOut, _Out, _WindowOut
from pipelines.contracts.measures import STALE_AFTER_DAYS
from pipelines.contracts.reference import AssetClass
from pipelines.contracts.served import MarketGroup, MarketInterval

_STALE = (
    f"True when `as_of` is more than {STALE_AFTER_DAYS} days before the day: the stocks are "
    "the last values known, not current ones."
)


class MarketDayOut(_DayOut):
    """The market analytics of one asset-day. Stocks (price, NAV, supply, values, holders,
    yields) hold their last observed value, dated by their ``*_as_of``; flows (transfers,
    mints, burns) are what happened that day, null on a day nothing was observed."""

    price_usd: Number | None = Field(
        default=None, description="Daily close (market price per token)."
    )
    nav_usd: Number | None = Field(
        default=None, description="Net asset value per token, as the issuer publishes it."
    )
    premium_to_nav: Number | None = Field(
        default=None, description="price / NAV - 1 (negative: a discount)."
    )
    total_supply: Number | None = Field(default=None, description="Tokens outstanding.")
    market_value_usd: Number | None = Field(default=None, description="total_supply x price.")
    asset_value_usd: Number | None = Field(
        default=None, description="total_supply x NAV (null without a published NAV)."
    )
    value_usd: Number | None = Field(
        default=None,
        description="The asset's value: asset_value_usd where a NAV is published, else "
        "market_value_usd.",
    )
    holders: int | None = Field(default=None, description="Addresses holding the token.")
    yield_7d: Number | None = Field(
        default=None,
        description="Annualised yield over the last 7 days, (v_t / v_t-7)^(365/days) - 1 of the "
        "NAV (or the price: see yield_method); null for assets whose yield a NAV or a price "
        "does not show.",
    )
    tbill_3m: Number | None = Field(
        default=None,
        description="3-month US T-bill rate (FRED DTB3, as a fraction) known that day.",
    )
    yield_spread: Number | None = Field(default=None, description="yield_7d - tbill_3m.")
    utilization: Number | None = Field(
        default=None,
        description="Borrowed / supplied of a lending pool; null (unknown) where no source "
        "reports what is borrowed.",
    )
    transfer_count: int | None = Field(default=None, description="Transfers that day.")
    transfer_volume_usd: Number | None = Field(default=None, description="Value transferred.")
    minted_usd: Number | None = Field(default=None, description="Value minted that day.")
    burned_usd: Number | None = Field(default=None, description="Value burned that day.")
    net_flow_usd: Number | None = Field(default=None, description="minted - burned.")
    yield_method: str | None = Field(
        default=None,
        description="What yield_7d was measured on: 'nav' or 'price'; null without a yield.",
        examples=["nav"],
    )
    price_as_of: dt.date | None = Field(default=None, description="Day of the price.")
    nav_as_of: dt.date | None = Field(default=None, description="Day of the NAV.")
    supply_as_of: dt.date | None = Field(default=None, description="Day of the supply.")
    holders_as_of: dt.date | None = Field(default=None, description="Day of the holder count.")
    as_of: dt.date | None = Field(
        default=None, description="The oldest day among the as-of days above."
    )
    stale: bool = Field(description=_STALE)


class MarketSeriesResponse(_WindowOut):
    """``GET /assets/{asset_id}/market``: the daily market analytics of one asset."""

    asset_id: str
    stale_after_days: int = Field(description="Days after which a value is stale.")
    days: list[MarketDayOut] = Field(description="Days in time order, oldest first.")


MarketSort = Literal[
    "value_usd",
    "-value_usd",
    "market_value_usd",
    "-market_value_usd",
    "holders",
    "-holders",
    "yield_7d",
    "-yield_7d",
    "premium_to_nav",
    "-premium_to_nav",
    "value_change_7d",
    "-value_change_7d",
    "risk_score",
    "-risk_score",
    "asset_id",
    "-asset_id",
]


class MarketAssetOut(MarketDayOut):
    """One row of the assets table: the asset, its analytics of the day, how they changed over
    7 days, its latest risk score and news sentiment, and its evidence flags."""

    asset_id: str
    symbol: str
    name: str
    asset_class: AssetClass
    network: str = Field(description="Primary chain of the token.")
    issuer_name: str | None = None
    price_change_7d: Number | None = Field(
        default=None, description="price / price 7 days before - 1."
    )
    value_change_7d: Number | None = Field(
        default=None, description="value_usd / value_usd 7 days before - 1."
    )
    holders_change_7d: int | None = Field(
        default=None, description="holders - holders 7 days before."
    )
    risk_score: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Latest composite risk score 1-100; null when not scored, or withheld "
        "from a tier without risk scores (see `withheld`).",
    )
    sentiment_7d: Number | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="Mean news sentiment of the 7 days up to the day; null without scored news.",
    )
    articles_7d: int = Field(default=0, description="Articles naming the asset in those days.")
    kyc_required: bool | None = Field(
        default=None, description="Holding or receiving it needs the issuer's KYC."
    )
    evidence: EvidenceOut = Field(description="Evidence flags; unknown ones are null.")


class MarketAssetsPage(_Out):
    """``GET /market/assets``: the assets table as of one day."""

    date: dt.date | None = Field(description="The day shown; null when nothing is served yet.")
    stale_after_days: int = Field(description="Days after which a value is stale.")
    withheld: list[str] = Field(
        description="Fields left null because the caller's tier lacks them (e.g. risk_score)."
    )
    total: int = Field(description="Assets matching the filters, before paging.")
    limit: int
    offset: int
    assets: list[MarketAssetOut]


class KpiOut(_Out):
    """One headline figure, the same figure 7 days before, and the change."""

    value: Number | None = Field(description="On the day; null when unknown.")
    value_7d_ago: Number | None = Field(description="On the day 7 days before.")
    change_7d: Number | None = Field(description="value - value_7d_ago.")
    change_7d_pct: Number | None = Field(
        description="value / value_7d_ago - 1; null when that is 0 or unknown."
    )


class MarketSummaryOut(_Out):
    """``GET /market/summary``: the KPI strip. Sums and averages are over the assets whose
    values are current on the day; stale assets are counted apart, never mixed in."""

    date: dt.date | None = Field(description="The day; null when nothing is served yet.")
    stale_after_days: int = Field(description="Days after which a value is stale.")
    total_value_usd: KpiOut = Field(
        description="Sum of value_usd of the real-world assets (every class but stablecoins "
        "and crypto)."
    )
    holders: KpiOut = Field(description="Sum of holders of the real-world assets.")
    assets: KpiOut = Field(description="Real-world assets with current values.")
    treasury_yield_7d: KpiOut = Field(
        description="Value-weighted mean 7-day yield of the tokenized treasuries."
    )
    tbill_3m: KpiOut = Field(description="3-month US T-bill rate (FRED DTB3, a fraction).")
    treasury_spread: KpiOut = Field(description="treasury_yield_7d - tbill_3m.")
    stablecoin_supply_usd: KpiOut = Field(description="Sum of the stablecoins' market value.")
    stale_assets: int = Field(description="Assets left out of the figures as stale.")


class MarketAggregateOut(_Out):
    """One group of assets in one bucket. Stocks are the sum, over the group's assets, of each
    asset's last value in the bucket: current ones in ``value_usd`` ..., stale ones apart in
    ``stale_value_usd`` ...; flows are summed over every day of the bucket."""

    ts: UtcDatetime = Field(description="Start of the bucket (UTC midnight).")
    group: str | None = Field(
        description="The asset class, network or issuer (null: issuer unknown); 'all' for all."
    )
    last_day: dt.date = Field(description="Latest day of the bucket with data.")
    assets: int = Field(description="Assets whose last value in the bucket is current.")
    stale_assets: int = Field(description="Assets whose last value in the bucket is stale.")
    value_usd: Number | None = Field(description="Sum of the current assets' value_usd.")
    market_value_usd: Number | None = Field(description="Sum of their market_value_usd.")
    asset_value_usd: Number | None = Field(description="Sum of their asset_value_usd.")
    holders: int | None = Field(description="Sum of their holders.")
    stale_value_usd: Number | None = Field(description="Sum of the stale assets' value_usd.")
    stale_market_value_usd: Number | None = Field(description="... their market_value_usd.")
    stale_asset_value_usd: Number | None = Field(description="... their asset_value_usd.")
    stale_holders: int | None = Field(description="... their holders.")
    transfer_count: int | None = Field(description="Transfers over the bucket.")
    transfer_volume_usd: Number | None = Field(description="Value transferred over the bucket.")
    minted_usd: Number | None = Field(description="Value minted over the bucket.")
    burned_usd: Number | None = Field(description="Value burned over the bucket.")
    net_flow_usd: Number | None = Field(description="Minted - burned over the bucket.")


class MarketBreakdownResponse(_Out):
    """``GET /market/breakdown``: the aggregates of one day, one row per group."""

    date: dt.date | None = Field(description="The day; null when nothing is served yet.")
    by: MarketGroup
    stale_after_days: int = Field(description="Days after which a value is stale.")
    groups: list[MarketAggregateOut] = Field(description="By value_usd, largest first.")


class MarketHistoryResponse(_WindowOut):
    """``GET /market/history``: aggregates per bucket and group, oldest bucket first."""

    by: MarketGroup
    interval: MarketInterval
    stale_after_days: int = Field(description="Days after which a value is stale.")
    buckets: list[MarketAggregateOut] = Field(description="By bucket, then group.")
