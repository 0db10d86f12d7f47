"""Measure lists: the columns each layer carries for a family of measures, declared once.

Adding an on-chain metric is one edit here (in :data:`COUNT_METRICS` or :data:`USD_METRICS`)
plus its computation in a parser: the silver schema and parsers, the quality suite, gold's
``onchain_daily`` and the served schema, SQL and API read these lists.
"""

from __future__ import annotations

# --- on-chain -------------------------------------------------------------------------------

#: On-chain metrics that are counts (integers in every layer).
COUNT_METRICS: tuple[str, ...] = ("holders", "transfer_count")
#: On-chain metrics that are USD amounts, or token amounts, as doubles.
USD_METRICS: tuple[str, ...] = (
    "transfer_volume_usd",
    "total_supply",
    "dex_liquidity_usd",
    "exchange_inflow_usd",
    "exchange_outflow_usd",
    "nav_usd",
    "tvl_usd",
    "circulating_usd",
)
#: Metrics that are a price per token (compared with the market close), not an amount.
PER_UNIT_METRICS: tuple[str, ...] = ("nav_usd",)
#: Every metric column of ``silver/onchain`` (and of ``gold/onchain_daily``), in table order.
ONCHAIN_METRICS: tuple[str, ...] = (*COUNT_METRICS, *USD_METRICS)
#: Measures gold derives from the metrics: the net exchange flow (inflow - outflow) and the
#: premium of the market close over the published NAV.
ONCHAIN_DERIVED: tuple[str, ...] = ("net_exchange_flow_usd", "premium_to_nav")

# --- market features -------------------------------------------------------------------------

#: The measures of ``gold/features_daily`` (docs/data-model.md), in served order; gold computes
#: them, the serving store serves them.
FEATURE_MEASURES: tuple[str, ...] = (
    "close",
    "return_1d",
    "log_return_1d",
    "realized_vol_7d",
    "realized_vol_30d",
    "drawdown",
    "max_drawdown_30d",
    "dollar_volume",
    "amihud_30d",
    "zero_volume_share",
    "hl_range",
)
