"""The measure lists every layer shares: which on-chain metrics silver parses, gold combines and
the store serves, and which daily features gold computes and the store serves.

Adding a measure is one edit here plus its computation: the silver, gold and served schemas
and the quality suite follow these tuples. The serving stores' migration adding the column and
the API's response field are written out (released migrations never change; the API documents
each field), and tests holding both to the served contract name what is missing.
"""

from __future__ import annotations

#: On-chain metrics that count things (integers).
COUNT_METRICS = ("holders", "transfer_count")
#: On-chain metrics that are amounts in USD (floats).
USD_METRICS = (
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
PER_UNIT_METRICS = ("nav_usd",)
#: Every metric column of ``silver/onchain``: the one list gold and the quality suite read.
ONCHAIN_METRICS = (*COUNT_METRICS, *USD_METRICS)
#: The metrics ``gold/onchain_daily`` derives from the ones above (net flow, premium to NAV).
DERIVED_ONCHAIN_METRICS = ("net_exchange_flow_usd", "premium_to_nav")

#: Token flows of one asset-day from its ERC-20 ``Transfer`` logs (``silver/transfers``), in
#: tokens (raw amounts / 10**decimals): every transfer's amount summed, minted (from the zero
#: address), burned (to it) and the net flow (minted - burned: the change of supply).
FLOW_TOKEN_METRICS = ("transfer_volume", "minted", "burned", "net_flow")
#: The same flows in USD, valued at the day's NAV (else its close).
FLOW_USD_METRICS = ("minted_usd", "burned_usd", "net_flow_usd")
#: The flow measures ``gold/onchain_daily`` adds from the logs (docs/data-model.md); the logs
#: also give ``holders``, ``transfer_count`` and ``transfer_volume_usd`` where no metrics feed
#: reports them.
FLOW_METRICS = (*FLOW_TOKEN_METRICS, *FLOW_USD_METRICS)

#: The measures of ``gold/features_daily`` (docs/data-model.md), in table order; gold computes
#: them, the store serves them.
FEATURE_MEASURES = (
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
