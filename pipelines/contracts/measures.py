"""The measure lists every layer shares: which on-chain metrics silver parses, gold combines and
the store serves, and which daily features gold computes and the store serves.

Adding a measure is one edit here plus its computation: the silver, gold and served schemas
and the quality suite follow these tuples. The serving stores' migration adding the column and
the API's response field are written out (released migrations never change; the API documents
each field), and tests holding both to the served contract name what is missing.
"""

from __future__ import annotations

#: The largest magnitude silver accepts for a measure (docs/silver.md): beyond it a value is an
#: overflow, a unit or a decimals error, never a real price or amount. A price is USD per unit
#: (the dearest real asset trades near 1e6 USD); an amount is a volume, supply, count, USD total
#: or macro value (world GDP is about 1e14 USD; meme-token supplies reach about 5e17 units).
PRICE_LIMIT = 1e12
AMOUNT_LIMIT = 1e18

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

# --- market analytics (``gold/market_daily``, docs/data-model.md) ----------------------------

#: Stock measures of one asset-day: a level that holds until it changes, so a day without a new
#: observation carries the last one (with its as-of date) and an interval takes its last value.
MARKET_STOCK_MEASURES = (
    "price_usd",
    "nav_usd",
    "premium_to_nav",
    "total_supply",
    "market_value_usd",
    "asset_value_usd",
    "value_usd",
    "holders",
    "yield_7d",
    "tbill_3m",
    "yield_spread",
    "utilization",
)
#: Flow measures of one asset-day: what happened that day, never carried forward (null on a day
#: with no observation) and summed over an interval.
MARKET_FLOW_MEASURES = (
    "transfer_count",
    "transfer_volume_usd",
    "minted_usd",
    "burned_usd",
    "net_flow_usd",
)
#: The integer measures among the two lists above.
MARKET_COUNT_MEASURES = ("holders", "transfer_count")
#: The day each carried stock was last observed, and ``as_of``: the oldest of them.
MARKET_AS_OF_COLUMNS = ("price_as_of", "nav_as_of", "supply_as_of", "holders_as_of", "as_of")
#: A row is stale when its ``as_of`` is more than this many days before its day: a weekend's
#: gap (Friday's value on Monday) is still current, a feed silent for four days is not.
STALE_AFTER_DAYS = 3
#: Asset classes whose token accumulates its yield in its NAV (or, without a published NAV, in
#: its price): the 7-day yield is measured there. Stable-$1 money-market funds pay their yield
#: as new tokens, which a NAV or a price does not show: their yield is unknown (null).
ACCUMULATING_CLASSES = ("tokenized_treasury", "private_credit")
#: What the KPIs count as real-world assets: every class but stablecoins and crypto, which the
#: KPI strip shows on their own (stablecoin supply) or not at all.
RWA_CLASSES = (
    "tokenized_treasury",
    "money_market_fund",
    "private_credit",
    "real_estate",
    "tokenized_gold",
)
#: The macro series the yields are compared with: FRED's 3-month T-bill (secondary market,
#: discount basis, percent), region USA.
TBILL_SERIES = ("DTB3", "USA")
