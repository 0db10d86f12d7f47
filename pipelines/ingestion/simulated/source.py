"""A deterministic simulated source that answers in the shapes real APIs use.

Offline, and in tests and demos, :class:`SimulatedSource` stands in for the real connectors: it
answers each request with the payload the imitated API would send, one bronze envelope each.

Datasets, and the API each imitates:

- ``prices``: CoinAPI ``GET /v1/ohlcv/{symbol_id}/history``; one envelope per asset and UTC day
  (or the part of a day the window covers).
- ``onchain``: daily token metrics shaped like Amberdata's / Token Terminal's (a list of daily
  records: holders, transfers, supply, DEX liquidity, exchange flows, NAV for funds); one
  envelope per asset and UTC day, endpoint ``/v2/tokens/{asset}/metrics/daily``.
- ``economic``: FRED ``GET /fred/series/observations`` for DTB3, DFF, DGS10 and CPIAUCSL; one
  envelope per series over the window. Values are strings, ``"."`` where FRED has none (US
  federal holidays for DTB3/DGS10, which list business days only); DFF lists every calendar day,
  as FRED does; CPI is monthly, and a month appears only once released (mid next month).
- ``news``: NewsAPI ``GET /v2/everything``; one envelope per UTC day, a few templated articles
  (``NEWS_TEMPLATES``, ``EVENT_TEMPLATES``) about the assets, positive on up days, negative on
  down days and de-pegs/markdowns, neutral otherwise.

Determinism
    The same arguments give byte-identical envelopes, ``fetched_at`` included: it is the end of
    the period covered plus a lag of 1-10 minutes derived from a hash of the request, never the
    wall clock. Every random stream comes from its own generator keyed by a SHA-256 of
    ``(seed, asset_id, stream)``, so adding or removing an asset changes no other asset's
    numbers. All draws are made bar by bar in time order, so extending ``end`` never rewrites
    earlier bars, and a narrower :class:`FetchWindow` returns the same bars for the days it
    covers. Prices are simulated over the whole span ``[start, end)`` at once (vectorised numpy,
    cached per asset) and sliced per request.

Price models per asset class (``PriceParams``: class defaults in ``CLASS_PRICE_PARAMS``,
per-asset overrides in ``ASSET_PRICE_PARAMS``, looked up by ``asset_id``, then by lower-case
symbol). These are simulation parameters, not reference facts:

- ``tokenized_treasury`` (model ``accruing_nav``, start 1.00; OUSG 105, USDY 1.04, USTB 10.3,
  TBILL 1.02, USYC 1.05, bIB01 110): NAV = start x exp(yield x t) with yield 4.75 %/yr (OUSG
  4.7 %, USDY 4.65 %, USTB 4.85 %, bIB01 5 %) and t measured from 2024-01-01, so the NAV on a
  date is the same whatever the span; market price = NAV x (1 + noise), the noise an
  Ornstein-Uhlenbeck (OU) process with sd 2 bp and half-life 6 h.
- ``money_market_fund`` (``stable_nav``, 1.00; BUIDL, BENJI): $1.00 NAV with 1 bp OU noise;
  the yield (4.7 %/yr, BUIDL 4.85 %) is paid as new tokens, so on-chain ``total_supply`` grows
  at that rate instead of the price.
- ``private_credit`` (``private_credit``, 1.00): NAV accrual at 10 %/yr, 5 bp noise, rare
  permanent markdowns of 2-10 % (Poisson, 0.5 per year); syrupUSDC 11 %, FIDU 8 % with 1
  markdown per year, JAAA (a AAA CLO fund) 6.5 % with 0.2.
- ``stablecoin`` (``stablecoin``, 1.00): peg noise (OU, sd 3 bp, half-life 2 h) plus de-peg
  episodes (Poisson, 1 per year): the price falls to 0.93-0.99 over 0.5-3 h, then recovers
  exponentially with a time constant of 4-36 h; volume surges with the deviation. USDe, a
  synthetic dollar: 6 bp noise and 2 de-pegs per year.
- ``crypto`` (``crypto``, 100; BTC 60,000, ETH 3,000): GARCH(1,1) variance (alpha 0.10,
  persistence 0.98 per hour, rescaled to the bar so the kurtosis stays about 6 at every
  frequency) plus Poisson jumps (12 per year, log size N(-1 %, 4 %)); annual vol 65 % (BTC 55 %,
  ETH 70 %), jumps included; volume rises with the conditional volatility.
- ``tokenized_gold`` (``gold``, 2,300): geometric random walk, 15 % annual vol.
- ``real_estate`` (``real_estate``, 50): fair value is a random walk (8 %/yr) with re-pricing
  jumps of +-3-12 % (2 per year); trades arrive at 0.1 per hour, each within about 0.5 % of fair
  value. A bar without a trade is flat at the last price with zero volume, ``trades_count`` 0
  and null ``time_open``/``time_close``.

Volume: ``daily_volume_usd`` spread over the day's bars, lognormal (sd 0.5) and scaled by the
model's activity; ``trades_count`` is Poisson with mean volume / ``avg_trade_usd``. On-chain
levels (holders, supply, transfers, turnover, DEX liquidity) are in ``CLASS_ONCHAIN_PARAMS`` and
``ASSET_ONCHAIN_PARAMS``; transfers and exchange flows rise on days with big moves, exchange
inflows on down days, outflows on up days.

Bars are internally consistent: ``open`` equals the previous bar's ``close``, ``high >=
max(open, close)``, ``low <= min(open, close)``, ``volume_traded >= 0`` (in units of the asset,
as CoinAPI reports it). Every :class:`SimEvent` (jump, de-peg, markdown, re-pricing, injected
fault) is available from :meth:`SimulatedSource.events` as ground truth for tests and models.

Faults (real APIs send junk)
    Each bar is defective with probability ``fault_rate`` (default 0.0005); ``fault_rate=0``
    gives clean data. The defect is one of ``FAULT_KINDS``, chosen uniformly:

    - ``numeric_string``: the four prices arrive as JSON strings (``"1.0002"``). Valid: silver
      must cast them and **accept** the bar.
    - ``null_time``: ``time_period_start`` is null. Silver must **quarantine** the bar.
    - ``non_positive_price``: ``price_close`` is 0 or negative. Silver must **quarantine** it.
    - ``high_below_low``: ``price_high < price_low``. Silver must **quarantine** it.

    Fault positions come from a stream of their own, so faulty data differs from clean data only
    in the faulty bars, and a higher rate faults a superset of the bars a lower rate does.

Symbols
    Price requests name the asset by a CoinAPI-style symbol id, ``SIM_SPOT_{BASE}_USD``, the base
    being the asset's ticker upper-cased with non-alphanumerics dropped (``coinapi_base``);
    ``coinapi_bases(assets)`` is the base -> asset_id map silver needs to resolve them. On-chain
    requests carry the ``asset_id`` itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt

from pipelines.contracts.envelope import DATASETS, Dataset
from pipelines.contracts.reference import Asset, AssetClass
from pipelines.core.errors import ConfigurationError, DataContractError, NotFoundError
from pipelines.core.settings import SimulationSettings
from pipelines.ingestion.base import (
    Connector,
    FetchWindow,
    RawResponse,
    SourceRequest,
    require_utc,
)
from pipelines.ingestion.simulated.requests import (
    COINAPI_PERIODS,
    FRED_ENDPOINT,
    FREQUENCY_MINUTES,
    NEWS_ENDPOINT,
    ONCHAIN_ENDPOINT,
    PRICES_ENDPOINT,
    SIMULATED,
    Frequency,
    coinapi_symbol_id,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


FaultKind = Literal["numeric_string", "null_time", "non_positive_price", "high_below_low"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
#: Defects silver must send to quarantine.
QUARANTINE_FAULTS: frozenset[FaultKind] = frozenset(
    {"null_time", "non_positive_price", "high_below_low"}
)
#: Defects silver must repair and accept.
ACCEPTED_FAULTS: frozenset[FaultKind] = frozenset({"numeric_string"})

_P = TypeVar("_P", "PriceParams", "OnchainParams")

PriceModel = Literal[
    "accruing_nav", "stable_nav", "private_credit", "stablecoin", "crypto", "gold", "real_estate"
]
NAV_MODELS: frozenset[PriceModel] = frozenset({"accruing_nav", "stable_nav", "private_credit"})


_MINUTES_PER_YEAR = 365.0 * 24 * 60
_DAY = dt.timedelta(days=1)
#: Accrual of NAV tokens is measured from here, so a NAV on a date is the same in every span.
NAV_ANCHOR = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


# --------------------------------------------------------------------------------------------
# Parameters (simulation parameters, not reference facts)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceParams:
    """How one asset's price and volume are simulated. Rates are per year, vols annualised."""

    model: PriceModel
    start_price: float
    annual_yield: float = 0.0
    annual_vol: float = 0.0
    noise_bps: float = 0.0
    #: Jumps (crypto), de-pegs (stablecoin), markdowns (private credit), re-pricings (real estate).
    event_rate: float = 0.0
    daily_volume_usd: float = 1e6
    avg_trade_usd: float = 5_000.0
    #: Trade arrivals per hour for thinly traded assets; None means every bar trades.
    trades_per_hour: float | None = None


@dataclass(frozen=True, slots=True)
class OnchainParams:
    """Levels and growth of one asset's daily on-chain metrics."""

    holders: float
    total_supply: float
    holder_growth: float = 0.1  # per year
    supply_growth: float = 0.0  # per year, net issuance (yield paid in tokens comes on top)
    supply_noise: float = 0.0  # daily sd of net flows, as a fraction of supply
    transfers_per_day: float = 100.0
    turnover: float = 0.01  # transfer volume / market cap, per day
    dex_liquidity_usd: float = 1e6


CLASS_PRICE_PARAMS: dict[AssetClass, PriceParams] = {
    "tokenized_treasury": PriceParams(
        "accruing_nav", 1.0, annual_yield=0.0475, noise_bps=2.0,
        daily_volume_usd=2e6, avg_trade_usd=50_000.0,
    ),
    "money_market_fund": PriceParams(
        "stable_nav", 1.0, annual_yield=0.047, noise_bps=1.0,
        daily_volume_usd=2e6, avg_trade_usd=100_000.0,
    ),
    "private_credit": PriceParams(
        "private_credit", 1.0, annual_yield=0.10, noise_bps=5.0, event_rate=0.5,
        daily_volume_usd=5e5, avg_trade_usd=25_000.0,
    ),
    "stablecoin": PriceParams(
        "stablecoin", 1.0, noise_bps=3.0, event_rate=1.0,
        daily_volume_usd=1e9, avg_trade_usd=20_000.0,
    ),
    "crypto": PriceParams(
        "crypto", 100.0, annual_vol=0.65, event_rate=12.0,
        daily_volume_usd=1e8, avg_trade_usd=2_000.0,
    ),
    "tokenized_gold": PriceParams(
        "gold", 2300.0, annual_vol=0.15, daily_volume_usd=1e7, avg_trade_usd=10_000.0
    ),
    "real_estate": PriceParams(
        "real_estate", 50.0, annual_vol=0.08, event_rate=2.0,
        avg_trade_usd=500.0, trades_per_hour=0.1,
    ),
}  # fmt: skip

_C = CLASS_PRICE_PARAMS
#: Per-asset overrides, keyed by asset_id or lower-case symbol.
ASSET_PRICE_PARAMS: dict[str, PriceParams] = {
    "btc": dataclasses.replace(_C["crypto"], start_price=60_000.0, annual_vol=0.55,
                               daily_volume_usd=2.5e10),
    "eth": dataclasses.replace(_C["crypto"], start_price=3_000.0, annual_vol=0.70,
                               daily_volume_usd=1.2e10),
    "paxg": dataclasses.replace(_C["tokenized_gold"], daily_volume_usd=2.5e7),
    "xaut": dataclasses.replace(_C["tokenized_gold"], daily_volume_usd=1.5e7),
    "usdc": dataclasses.replace(_C["stablecoin"], daily_volume_usd=6e9),
    "usdt": dataclasses.replace(_C["stablecoin"], daily_volume_usd=3e10),
    "dai": dataclasses.replace(_C["stablecoin"], daily_volume_usd=2e8),
    "buidl": dataclasses.replace(_C["money_market_fund"], annual_yield=0.0485),
    "benji": dataclasses.replace(_C["money_market_fund"], annual_yield=0.047),
    "ousg": dataclasses.replace(_C["tokenized_treasury"], start_price=105.0, annual_yield=0.047),
    "usdy": dataclasses.replace(_C["tokenized_treasury"], start_price=1.04, annual_yield=0.0465),
    "ustb": dataclasses.replace(_C["tokenized_treasury"], start_price=10.3, annual_yield=0.0485),
    "tbill": dataclasses.replace(_C["tokenized_treasury"], start_price=1.02, annual_yield=0.047),
    "usyc": dataclasses.replace(_C["tokenized_treasury"], start_price=1.05, annual_yield=0.048),
    "bib01": dataclasses.replace(_C["tokenized_treasury"], start_price=110.0, annual_yield=0.05),
    "jtrsy": dataclasses.replace(_C["tokenized_treasury"], start_price=1.02, annual_yield=0.047),
    # A AAA CLO fund accrues less than direct lending pools.
    "jaaa": dataclasses.replace(_C["private_credit"], start_price=1.0, annual_yield=0.065,
                                event_rate=0.2),
    "syrupusdc": dataclasses.replace(_C["private_credit"], start_price=1.10, annual_yield=0.11),
    "syrupusdt": dataclasses.replace(_C["private_credit"], start_price=1.05, annual_yield=0.10),
    "fidu": dataclasses.replace(_C["private_credit"], start_price=1.05, annual_yield=0.08,
                                event_rate=1.0),
    # A synthetic dollar: noisier peg, de-pegs more often.
    "usde": dataclasses.replace(_C["stablecoin"], noise_bps=6.0, event_rate=2.0,
                                daily_volume_usd=3e8),
}  # fmt: skip

CLASS_ONCHAIN_PARAMS: dict[AssetClass, OnchainParams] = {
    "tokenized_treasury": OnchainParams(500, 5e7, 0.5, 0.8, 0.01, 40, 0.01, 2e6),
    "money_market_fund": OnchainParams(300, 3e8, 0.4, 0.6, 0.01, 20, 0.005, 5e5),
    "private_credit": OnchainParams(400, 2e7, 0.3, 0.3, 0.01, 15, 0.004, 1e6),
    "stablecoin": OnchainParams(2e6, 3e10, 0.1, 0.05, 0.003, 300_000, 0.2, 3e8),
    "crypto": OnchainParams(1e6, 1e9, 0.05, 0.0, 0.0, 100_000, 0.05, 1e8),
    "tokenized_gold": OnchainParams(60_000, 250_000, 0.1, 0.2, 0.003, 1_500, 0.03, 2e7),
    "real_estate": OnchainParams(200, 1_500, 0.05, 0.0, 0.0, 3, 0.002, 2e4),
}
_O = CLASS_ONCHAIN_PARAMS
ASSET_ONCHAIN_PARAMS: dict[str, OnchainParams] = {
    "btc": dataclasses.replace(_O["crypto"], holders=5.3e7, total_supply=1.96e7,
                               supply_growth=0.0085, transfers_per_day=500_000),
    "eth": dataclasses.replace(_O["crypto"], holders=1.2e8, total_supply=1.2e8,
                               transfers_per_day=1_200_000),
    "usdc": dataclasses.replace(_O["stablecoin"], holders=3e6, total_supply=2.5e10),
    "usdt": dataclasses.replace(_O["stablecoin"], holders=6e6, total_supply=9.5e10),
    "dai": dataclasses.replace(_O["stablecoin"], holders=5e5, total_supply=5e9),
    "buidl": dataclasses.replace(_O["money_market_fund"], holders=60, total_supply=5e8),
    "benji": dataclasses.replace(_O["money_market_fund"], holders=500, total_supply=3.6e8),
    "ousg": dataclasses.replace(_O["tokenized_treasury"], holders=150, total_supply=1.3e6),
    "usdy": dataclasses.replace(_O["tokenized_treasury"], holders=5_000, total_supply=1.5e8),
    "ustb": dataclasses.replace(_O["tokenized_treasury"], holders=100, total_supply=1.5e7),
    "tbill": dataclasses.replace(_O["tokenized_treasury"], holders=50, total_supply=2e7),
    "xaut": dataclasses.replace(_O["tokenized_gold"], holders=5_000, total_supply=246_000),
}  # fmt: skip


def price_params(asset: Asset) -> PriceParams:
    """The price model of ``asset``: its own override, else its class default."""
    return _lookup(ASSET_PRICE_PARAMS, asset) or CLASS_PRICE_PARAMS[asset.asset_class]


def onchain_params(asset: Asset) -> OnchainParams:
    """The on-chain levels of ``asset``: its own override, else its class default."""
    return _lookup(ASSET_ONCHAIN_PARAMS, asset) or CLASS_ONCHAIN_PARAMS[asset.asset_class]


def _lookup(table: dict[str, _P], asset: Asset) -> _P | None:
    return table.get(asset.asset_id) or table.get(asset.symbol.lower())


@dataclass(frozen=True, slots=True)
class SimEvent:
    """Something the simulation did on purpose: ground truth for tests and models."""

    asset_id: str
    kind: str  # "jump", "depeg", "markdown", "repricing" or "fault:<FaultKind>"
    start: dt.datetime
    end: dt.datetime  # when its effect has faded (below 1 bp for de-pegs); = start if instant
    magnitude: float  # log size (jump, repricing), depth below $1 (depeg), fraction (markdown)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _stable_int(*parts: object) -> int:
    """A 128-bit integer from the parts' text: stable across processes (unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:16], "big")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_stable_int(*parts))


def _affine_recurrence(a: FloatArray, b: FloatArray, x0: float) -> FloatArray:
    """``x[t] = a[t] * x[t-1] + b[t]`` with ``x[-1] = x0``, vectorised.

    Closed form per block: ``x = P * (x0 + cumsum(b / P))`` with ``P = cumprod(a)``. A cumulative
    product over a whole series under- or overflows, so blocks are sized to keep ``|log P|``
    below about 200 and chained through their last value.
    """
    out = np.empty_like(b)
    n = len(b)
    if n == 0:
        return out
    widest = float(np.max(np.abs(np.log(a))))
    block = int(np.clip(200.0 / max(widest, 1e-12), 1, 1024))
    prev = x0
    for s in range(0, n, block):
        p = np.cumprod(a[s : s + block])
        out[s : s + block] = p * (prev + np.cumsum(b[s : s + block] / p))
        prev = float(out[min(s + block, n) - 1])
    return out


def _ou(z: FloatArray, sd: float, half_life_bars: float) -> FloatArray:
    """Ornstein-Uhlenbeck deviations from 0 with stationary ``sd``, driven by normals ``z``."""
    phi = math.exp(-math.log(2.0) / max(half_life_bars, 1e-9))
    scale = sd * math.sqrt(1.0 - phi * phi)
    return _affine_recurrence(np.full(len(z), phi), scale * z, 0.0)


def _events_at(rng: np.random.Generator, rate_per_bar: float, n: int) -> BoolArray:
    """Bars where a Poisson event starts; drawn per bar so extending a span keeps earlier ones."""
    return rng.poisson(rate_per_bar, n) > 0


def _iso_z(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(params: dict[str, Any], key: str) -> dt.datetime:
    try:
        return require_utc(dt.datetime.fromisoformat(str(params[key])), key)
    except (KeyError, ValueError) as exc:
        raise DataContractError(f"request param {key!r} is not a UTC ISO-8601 time: {exc}") from exc


def _parse_date(params: dict[str, Any], key: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(params[key]))
    except (KeyError, ValueError) as exc:
        raise DataContractError(f"request param {key!r} is not an ISO date: {exc}") from exc


def _price_decimals(start_price: float) -> int:
    """Decimals to quote a price with: about 9 significant digits, like exchange feeds."""
    return int(np.clip(8 - math.floor(math.log10(start_price)), 2, 10))


@functools.cache
def _clock_strings() -> tuple[list[str], list[str]]:
    """Lookup tables ``"HH:MM:SS."`` per second of day and ``"mmm0000Z"`` per millisecond."""
    two = [f"{i:02d}" for i in range(60)]
    hms = [f"{h}:{m}:{sec}." for h in two[:24] for m in two for sec in two]
    return hms, [f"{ms:03d}0000Z" for ms in range(1000)]


def _coinapi_times(day0: dt.date, ms: IntArray) -> list[str]:
    """CoinAPI's format (7 fractional digits and ``Z``: ``2024-01-01T00:00:00.0000000Z``) of
    instants given as milliseconds since midnight of ``day0``.

    Built from lookup tables: ``np.datetime_as_string`` costs about 1 us per value, too slow
    for millions of 1-minute bars.
    """
    if len(ms) == 0:
        return []
    hms, frac = _clock_strings()
    days = ms // 86_400_000
    first = int(days[0])
    prefixes = [
        f"{(day0 + dt.timedelta(days=d)).isoformat()}T" for d in range(first, int(days[-1]) + 1)
    ]
    return [
        prefixes[d - first] + hms[sec] + frac[milli]
        for d, sec, milli in zip(
            days.tolist(), (ms % 86_400_000 // 1000).tolist(), (ms % 1000).tolist(), strict=True
        )
    ]


# --------------------------------------------------------------------------------------------
# The bar grid and the price paths
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Grid:
    """Bars ``i = 0..n-1`` starting at ``start + i * step``."""

    start: dt.datetime
    step: dt.timedelta
    n: int

    @property
    def step_minutes(self) -> float:
        return self.step.total_seconds() / 60.0

    @property
    def dt_years(self) -> float:
        return self.step_minutes / _MINUTES_PER_YEAR

    @property
    def dt_hours(self) -> float:
        return self.step_minutes / 60.0

    @property
    def bars_per_day(self) -> float:
        return 1440.0 / self.step_minutes

    @property
    def step_ms(self) -> int:
        return self.step // dt.timedelta(milliseconds=1)

    @property
    def day0(self) -> dt.date:
        return self.start.date()

    def instant(self, i: int) -> dt.datetime:
        return self.start + i * self.step

    def index(self, instant: dt.datetime) -> int:
        """Index of the first bar starting at or after ``instant``, clipped to ``[0, n]``."""
        i = -((self.start - instant) // self.step)  # ceil division
        return min(max(i, 0), self.n)

    def starts_ms(self, i0: int, i1: int) -> IntArray:
        """Starts of bars ``i0..i1-1`` in milliseconds since midnight of ``day0``."""
        origin = (self.start - dt.datetime.combine(self.day0, dt.time(), tzinfo=dt.UTC)) // (
            dt.timedelta(milliseconds=1)
        )
        return origin + np.arange(i0, i1, dtype=np.int64) * self.step_ms

    def years_since(self, anchor: dt.datetime) -> FloatArray:
        """Years from ``anchor`` to the end of each bar."""
        offset = (self.start - anchor) / dt.timedelta(days=365)
        return np.asarray(offset + (np.arange(self.n) + 1.0) * self.dt_years, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Path:
    """A model's output before it becomes OHLCV bars."""

    open0: float
    close: FloatArray
    sigma: FloatArray  # intrabar log-range scale per bar
    activity: FloatArray  # volume multiplier, 1 = ordinary
    traded: BoolArray | None = None  # None: every bar has trades
    nav: FloatArray | None = None  # fund NAV at each bar's end (NAV models)
    events: tuple[_PathEvent, ...] = ()


#: (kind, first bar, last bar, magnitude) of something a model did on purpose.
_PathEvent = tuple[str, int, int, float]


class _Streams:
    """Named random streams of one asset; each is independent of the others and of other assets.

    Take one array per stream: a second draw from the same generator would start where the first
    ended, so its values would shift whenever the span's length changes.
    """

    def __init__(self, seed: int, asset_id: str) -> None:
        self._seed, self._asset_id = seed, asset_id

    def __call__(self, name: str) -> np.random.Generator:
        return _rng(self._seed, self._asset_id, name)


def _simulate_path(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    models = {
        "accruing_nav": _accruing_nav,
        "stable_nav": _stable_nav,
        "private_credit": _private_credit,
        "stablecoin": _stablecoin,
        "crypto": _crypto,
        "gold": _gold,
        "real_estate": _real_estate,
    }
    return models[p.model](p, g, streams)


def _market_noise(p: PriceParams, g: _Grid, streams: _Streams, half_life_h: float) -> FloatArray:
    z = streams("noise").standard_normal(g.n)
    return _ou(z, p.noise_bps * 1e-4, half_life_h / g.dt_hours)


def _accruing_nav(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    nav = p.start_price * np.exp(p.annual_yield * g.years_since(NAV_ANCHOR))
    close = nav * np.exp(_market_noise(p, g, streams, 6.0))
    open0 = float(nav[0] * math.exp(-p.annual_yield * g.dt_years))
    sigma = np.full(g.n, p.noise_bps * 1e-4)
    return _Path(open0, close, sigma, np.ones(g.n), nav=nav)


def _stable_nav(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    nav = np.full(g.n, p.start_price)
    close = nav * np.exp(_market_noise(p, g, streams, 6.0))
    return _Path(p.start_price, close, np.full(g.n, p.noise_bps * 1e-4), np.ones(g.n), nav=nav)


def _private_credit(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    hits = _events_at(streams("events"), p.event_rate * g.dt_years, g.n)
    cut = streams("markdown_size").uniform(0.02, 0.10, g.n)
    # A markdown is a permanent step: the loss stays in every later NAV.
    factor = np.cumprod(np.where(hits, 1.0 - cut, 1.0))
    base = p.start_price * np.exp(p.annual_yield * g.years_since(NAV_ANCHOR))
    nav = base * factor
    close = nav * np.exp(_market_noise(p, g, streams, 12.0))
    open0 = float(base[0] * math.exp(-p.annual_yield * g.dt_years))
    activity = 1.0 + 20.0 * np.where(hits, cut, 0.0) / 0.05
    events = tuple(("markdown", int(i), int(i), float(cut[i])) for i in np.flatnonzero(hits))
    sigma = np.full(g.n, p.noise_bps * 1e-4)
    return _Path(open0, close, sigma, activity, nav=nav, events=events)


def _stablecoin(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    onsets = _events_at(streams("events"), p.event_rate * g.dt_years, g.n)
    depth = streams("depeg_depth").uniform(0.01, 0.07, g.n)  # trough at 0.93-0.99
    ramp_h = streams("depeg_ramp").uniform(0.5, 3.0, g.n)
    tau_h = streams("depeg_recovery").uniform(4.0, 36.0, g.n)
    bar_end_h = (np.arange(g.n) + 1.0) * g.dt_hours
    dev = np.zeros(g.n)
    events = []
    for i in np.flatnonzero(onsets):
        # Effect lasts until the exponential recovery is below 1 bp.
        span_h = ramp_h[i] + tau_h[i] * math.log(depth[i] / 1e-4)
        j = min(g.n, i + math.ceil(span_h / g.dt_hours) + 1)
        rel = bar_end_h[i:j] - i * g.dt_hours
        dev[i:j] -= depth[i] * np.where(
            rel < ramp_h[i], rel / ramp_h[i], np.exp(-(rel - ramp_h[i]) / tau_h[i])
        )
        events.append(("depeg", int(i), int(j - 1), float(depth[i])))
    close = p.start_price * (1.0 + _market_noise(p, g, streams, 2.0) + dev)
    activity = 1.0 + 300.0 * np.abs(dev)
    sigma = p.noise_bps * 1e-4 + np.abs(np.diff(dev, prepend=0.0))
    return _Path(p.start_price, close, sigma, activity, events=tuple(events))


def _crypto(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    dt_h = g.dt_hours
    persistence = 0.98**dt_h
    # alpha ~ sqrt(bar length) keeps the GARCH kurtosis near 6 at every bar frequency.
    alpha = 0.10 * math.sqrt(dt_h)
    beta = persistence - alpha
    jump_mean, jump_sd = -0.01, 0.04
    jump_var = p.event_rate * (jump_mean**2 + jump_sd**2)
    diffusion_var = max(p.annual_vol**2 - jump_var, 0.25 * p.annual_vol**2)
    v = diffusion_var * g.dt_years  # unconditional per-bar variance
    omega = v * (1.0 - persistence)
    z = streams("returns").standard_normal(g.n)
    var = np.empty(g.n)
    var[0] = v
    var[1:] = _affine_recurrence(beta + alpha * z[:-1] ** 2, np.full(g.n - 1, omega), v)
    counts = streams("events").poisson(p.event_rate * g.dt_years, g.n)
    size = streams("jump_size").standard_normal(g.n)
    jumps = counts * jump_mean + np.sqrt(counts) * jump_sd * size
    log_ret = np.sqrt(var) * z - 0.5 * var + jumps
    close = p.start_price * np.exp(np.cumsum(log_ret))
    activity = np.sqrt(var / v) * (0.6 + 0.4 * np.abs(z)) + 20.0 * np.abs(jumps)
    sigma = np.sqrt(var) + np.abs(jumps)
    events = tuple(("jump", int(i), int(i), float(jumps[i])) for i in np.flatnonzero(counts))
    return _Path(p.start_price, close, sigma, activity, events=events)


def _gold(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    sd = p.annual_vol * math.sqrt(g.dt_years)
    z = streams("returns").standard_normal(g.n)
    close = p.start_price * np.exp(np.cumsum(sd * z - 0.5 * sd * sd))
    return _Path(p.start_price, close, np.full(g.n, sd), 0.6 + 0.4 * np.abs(z))


def _real_estate(p: PriceParams, g: _Grid, streams: _Streams) -> _Path:
    sd = p.annual_vol * math.sqrt(g.dt_years)
    z = streams("returns").standard_normal(g.n)
    hits = _events_at(streams("events"), p.event_rate * g.dt_years, g.n)
    sign = np.where(streams("repricing_sign").random(g.n) < 0.5, -1.0, 1.0)
    size = sign * streams("repricing_size").uniform(0.03, 0.12, g.n)
    fair = p.start_price * np.exp(np.cumsum(sd * z - 0.5 * sd * sd + np.where(hits, size, 0.0)))
    rate = p.trades_per_hour if p.trades_per_hour is not None else 1.0
    traded = streams("trades").random(g.n) < 1.0 - math.exp(-rate * g.dt_hours)
    trade_price = fair * np.exp(0.005 * streams("trade_noise").standard_normal(g.n))
    # Between trades the quoted price stays at the last trade (or the start level).
    last = np.maximum.accumulate(np.where(traded, np.arange(g.n), -1))
    close = np.where(last >= 0, trade_price[np.maximum(last, 0)], p.start_price)
    sigma = np.where(traded, 0.004, 0.0)
    events = tuple(("repricing", int(i), int(i), float(size[i])) for i in np.flatnonzero(hits))
    return _Path(p.start_price, close, sigma, np.ones(g.n), traded=traded, events=events)


@dataclass(frozen=True, slots=True)
class _Bars:
    """The OHLCV bars of one asset over the whole span, plus which bars carry a fault."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    trades: IntArray
    open_offset_ms: IntArray  # first trade, after the bar's start
    close_offset_ms: IntArray  # last trade, after the bar's start
    fault: npt.NDArray[np.int8]  # 0 = clean, k = FAULT_KINDS[k - 1]
    nav: FloatArray | None
    decimals: int


def _to_bars(p: PriceParams, g: _Grid, path: _Path, streams: _Streams, fault_rate: float) -> _Bars:
    decimals = _price_decimals(p.start_price)
    close = np.round(path.close, decimals)
    open_ = np.concatenate(([round(path.open0, decimals)], close[:-1]))
    wick_up = np.abs(streams("wick_up").standard_normal(g.n))
    wick_down = np.abs(streams("wick_down").standard_normal(g.n))
    # Rounding is monotone, so the wicks stay outside open/close after rounding.
    high = np.round(np.maximum(open_, close) * np.exp(0.5 * path.sigma * wick_up), decimals)
    low = np.round(np.minimum(open_, close) * np.exp(-0.5 * path.sigma * wick_down), decimals)
    volume, trades = _volume(p, g, path, streams, close)
    # First and last trade fall inside the bar: within its first and last quarter.
    early = streams("first_trade").uniform(0.0, 0.25, g.n)
    late = streams("last_trade").uniform(0.0, 0.25, g.n)
    open_offset = (early * g.step_ms).astype(np.int64)
    close_offset = g.step_ms - 1 - (late * g.step_ms).astype(np.int64)
    hit = streams("faults").random(g.n) < fault_rate
    kinds = streams("fault_kind").integers(1, len(FAULT_KINDS) + 1, g.n)
    fault = np.where(hit, kinds, 0).astype(np.int8)
    return _Bars(
        open_,
        high,
        low,
        close,
        volume,
        trades,
        open_offset,
        close_offset,
        fault,
        path.nav,
        decimals,
    )


def _volume(
    p: PriceParams, g: _Grid, path: _Path, streams: _Streams, close: FloatArray
) -> tuple[FloatArray, IntArray]:
    size_noise = streams("volume").lognormal(-0.125, 0.5, g.n)  # mean 1
    counts = streams("trade_count")
    if path.traded is not None:
        extra = counts.poisson(0.5, g.n)
        trades = np.where(path.traded, 1 + extra, 0).astype(np.int64)
        usd = trades * p.avg_trade_usd * size_noise
    else:
        usd = p.daily_volume_usd / g.bars_per_day * size_noise * path.activity
        trades = np.maximum(counts.poisson(usd / p.avg_trade_usd), 1).astype(np.int64)
    return np.round(usd / close, 6), trades


def _events(
    asset_id: str, g: _Grid, path_events: tuple[_PathEvent, ...], bars: _Bars
) -> list[SimEvent]:
    out = [
        SimEvent(asset_id, kind, g.instant(first), g.instant(last + 1), magnitude)
        for kind, first, last, magnitude in path_events
    ]
    for i in np.flatnonzero(bars.fault):
        at = g.instant(int(i))
        out.append(SimEvent(asset_id, f"fault:{FAULT_KINDS[bars.fault[i] - 1]}", at, at, 0.0))
    return sorted(out, key=lambda event: (event.start, event.kind))


def _bar_records(
    bars: _Bars, g: _Grid, i0: int, i1: int, boundaries: list[str]
) -> list[dict[str, Any]]:
    """The CoinAPI OHLCV records of bars ``i0..i1-1``, faults injected.

    ``boundaries`` holds the formatted bar boundaries of the whole grid (``n + 1`` of them):
    they are the same for every asset, so the caller formats them once.
    """
    sl = slice(i0, i1)
    starts = g.starts_ms(i0, i1)
    time_open = _coinapi_times(g.day0, starts + bars.open_offset_ms[sl])
    time_close = _coinapi_times(g.day0, starts + bars.close_offset_ms[sl])
    trades = bars.trades[sl].tolist()
    records = [
        {
            "time_period_start": start,
            "time_period_end": end,
            # No trade, no first/last trade time.
            "time_open": t_open if n else None,
            "time_close": t_close if n else None,
            "price_open": o,
            "price_high": h,
            "price_low": low,
            "price_close": c,
            "volume_traded": v,
            "trades_count": n,
        }
        for start, end, t_open, t_close, o, h, low, c, v, n in zip(
            boundaries[i0:i1],
            boundaries[i0 + 1 : i1 + 1],
            time_open,
            time_close,
            bars.open[sl].tolist(),
            bars.high[sl].tolist(),
            bars.low[sl].tolist(),
            bars.close[sl].tolist(),
            bars.volume[sl].tolist(),
            trades,
            strict=True,
        )
    ]
    for j in np.flatnonzero(bars.fault[sl]):
        _inject_fault(records[j], FAULT_KINDS[bars.fault[i0 + j] - 1], i0 + int(j), bars.decimals)
    return records


def _inject_fault(record: dict[str, Any], kind: FaultKind, index: int, decimals: int) -> None:
    if kind == "numeric_string":
        for key in ("price_open", "price_high", "price_low", "price_close"):
            record[key] = repr(record[key])
    elif kind == "null_time":
        record["time_period_start"] = None
    elif kind == "non_positive_price":
        record["price_close"] = 0.0 if index % 2 == 0 else -record["price_close"]
    else:  # high_below_low: the feed swapped (and slightly widened) the two
        high, low = record["price_high"], record["price_low"]
        record["price_high"] = round(low * 0.999, decimals)
        record["price_low"] = round(high * 1.001, decimals)


# --------------------------------------------------------------------------------------------
# On-chain, macro and news models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DailyView:
    """Per UTC day of the span: the day's last close, log return and events."""

    days: list[dt.date]
    close: FloatArray
    log_return: FloatArray
    nav: FloatArray | None


def _daily_view(g: _Grid, bars: _Bars) -> _DailyView:
    days = FetchWindow(g.start, g.instant(g.n)).days()
    day_ends = [dt.datetime.combine(d + _DAY, dt.time(), tzinfo=dt.UTC) for d in days]
    last = np.array([g.index(end) - 1 for end in day_ends], dtype=np.int64)
    close = bars.close[last]
    previous = np.concatenate(([bars.open[0]], close[:-1]))
    nav = bars.nav[last] if bars.nav is not None else None
    return _DailyView(days, close, np.log(close / previous), nav)


def _onchain_records(
    p: PriceParams, q: OnchainParams, view: _DailyView, streams: _Streams
) -> list[dict[str, Any]]:
    """Daily metrics of the whole span, one record per day."""
    nd = len(view.days)
    t_years = np.arange(nd) / 365.0
    holders = q.holders * np.exp(
        q.holder_growth * t_years + np.cumsum(0.003 * streams("holders").standard_normal(nd))
    )
    flows = np.cumsum(q.supply_noise * streams("flows").standard_normal(nd))
    # Stable-NAV funds pay their yield as new tokens: supply, not price, accrues.
    payout = p.annual_yield if p.model == "stable_nav" else 0.0
    supply = q.total_supply * np.exp((q.supply_growth + payout) * t_years + flows)
    activity = 1.0 + 25.0 * np.abs(view.log_return)
    turnover = q.turnover * streams("turnover").lognormal(-0.045, 0.3, nd) * activity
    volume = supply * view.close * turnover
    transfers = streams("transfers").poisson(q.transfers_per_day * activity)
    depth = _ou(streams("liquidity").standard_normal(nd), 0.1, 30.0)
    liquidity = q.dex_liquidity_usd * np.exp(depth)
    down, up = np.maximum(-view.log_return, 0.0), np.maximum(view.log_return, 0.0)
    # Sellers move tokens to exchanges on bad days, buyers withdraw on good ones.
    inflow = volume * streams("inflow").uniform(0.05, 0.15, nd) * (1.0 + 10.0 * down)
    outflow = volume * streams("outflow").uniform(0.05, 0.15, nd) * (1.0 + 10.0 * up)
    nav = view.nav if p.model in NAV_MODELS else None
    decimals = _price_decimals(p.start_price)
    return [
        {
            "timestamp": f"{day.isoformat()}T00:00:00Z",
            "holders": round(float(holders[k])),
            "transfer_count": int(transfers[k]),
            "transfer_volume_usd": round(float(volume[k]), 2),
            "total_supply": round(float(supply[k]), 6),
            "dex_liquidity_usd": round(float(liquidity[k]), 2),
            "exchange_inflow_usd": round(float(inflow[k]), 2),
            "exchange_outflow_usd": round(float(outflow[k]), 2),
            "nav_usd": round(float(nav[k]), decimals) if nav is not None else None,
        }
        for k, day in enumerate(view.days)
    ]


@dataclass(frozen=True, slots=True)
class MacroSeries:
    """One simulated FRED series."""

    series_id: str
    frequency: Literal["daily", "business", "monthly"]
    mean: float
    sd: float  # stationary sd of the deviation from the mean
    half_life_days: float
    decimals: int


MACRO_SERIES: dict[str, MacroSeries] = {
    # Effective fed funds: FRED publishes it every calendar day; it steps at policy meetings.
    "DFF": MacroSeries("DFF", "daily", 4.33, 0.75, 90.0, 2),
    "DTB3": MacroSeries("DTB3", "business", -0.08, 0.12, 30.0, 2),  # spread to DFF
    "DGS10": MacroSeries("DGS10", "business", 4.2, 0.6, 250.0, 2),
    "CPIAUCSL": MacroSeries("CPIAUCSL", "monthly", 308.417, 0.002, 90.0, 3),  # Jan 2024 level
}
#: Macro paths start here (or at the span, if earlier) so a date's value does not depend on it.
MACRO_ANCHOR = dt.date(1990, 1, 1)
_MEETING_DAYS = 42  # the FOMC meets about every six weeks
_CPI_INFLATION = 0.03


def us_bond_market_holidays(year: int) -> set[dt.date]:
    """Federal holidays on which FRED's Treasury series have no value (``"."``)."""

    def nth_weekday(month: int, weekday: int, nth: int) -> dt.date:
        first = dt.date(year, month, 1)
        if nth > 0:
            return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
        last = dt.date(year + month // 12, month % 12 + 1, 1) - _DAY
        return last - dt.timedelta(days=(last.weekday() - weekday) % 7)

    def observed(day: dt.date) -> dt.date:
        shift = {5: -1, 6: 1}.get(day.weekday(), 0)
        return day + dt.timedelta(days=shift)

    fixed = [dt.date(year, 1, 1), dt.date(year, 7, 4), dt.date(year, 11, 11), dt.date(year, 12, 25)]
    if year >= 2022:
        fixed.append(dt.date(year, 6, 19))
    floating = [
        nth_weekday(1, 0, 3),  # Martin Luther King Jr. Day
        nth_weekday(2, 0, 3),  # Presidents' Day
        nth_weekday(5, 0, -1),  # Memorial Day
        nth_weekday(9, 0, 1),  # Labor Day
        nth_weekday(10, 0, 2),  # Columbus Day
        nth_weekday(11, 3, 4),  # Thanksgiving
    ]
    return {observed(day) for day in fixed} | set(floating)


def _macro_daily(seed: int, series: MacroSeries, first: dt.date, last: dt.date) -> list[float]:
    """Daily values from the anchor (or ``first``, if earlier) through ``last``."""
    anchor = min(MACRO_ANCHOR, first)
    nd = (last - anchor).days + 1
    streams = _Streams(seed, f"fred:{series.series_id}:{anchor.isoformat()}")
    if series.series_id == "DTB3":
        dff = np.array(_macro_daily(seed, MACRO_SERIES["DFF"], first, last))
        spread = _ou(streams("spread").standard_normal(nd), series.sd, series.half_life_days)
        return list(dff + series.mean + spread)
    if series.series_id == "DFF":
        # The policy target moves in 25 bp steps at meetings; the effective rate wobbles around it.
        meetings = nd // _MEETING_DAYS + 1
        target = series.mean + _ou(streams("target").standard_normal(meetings), series.sd, 4.0)
        target = np.maximum(np.round(target * 4.0) / 4.0, 0.125)
        daily = np.repeat(target, _MEETING_DAYS)[:nd]
        return list(daily + 0.01 * streams("daily").standard_normal(nd))
    z = streams("daily").standard_normal(nd)
    return list(series.mean + _ou(z, series.sd, series.half_life_days))


#: CPI for a month is released mid-way through the next one.
CPI_RELEASE_LAG = dt.timedelta(days=14)


def _fred_observations(
    seed: int, series: MacroSeries, first: dt.date, last: dt.date, as_of: dt.date
) -> list[dict[str, str]]:
    """FRED observation records for ``first..last`` (inclusive), values as text, "." missing.

    Each observation's ``realtime_start`` is the day it was first published (ALFRED's first
    vintage: the next day for daily series, mid-way through the next month for CPI), as a source
    polled on schedule would have seen it, so point-in-time joins over simulated history have
    values to find."""

    def obs(day: dt.date, value: str, released: dt.date) -> dict[str, str]:
        return {
            "realtime_start": released.isoformat(),
            "realtime_end": as_of.isoformat(),
            "date": day.isoformat(),
            "value": value,
        }

    if series.frequency == "monthly":
        releases = {month: _month_after(month) + CPI_RELEASE_LAG for month in _months(first, last)}
        return [
            obs(month, _cpi_value(seed, series, month), released)
            for month, released in releases.items()
            if released <= as_of
        ]
    values = _macro_daily(seed, series, first, last)
    offset = (first - min(MACRO_ANCHOR, first)).days
    holidays: set[dt.date] = set()
    for year in range(first.year, last.year + 1):
        holidays |= us_bond_market_holidays(year)
    out = []
    for k in range((last - first).days + 1):
        day = first + dt.timedelta(days=k)
        if series.frequency == "business" and day.weekday() >= 5:
            continue
        missing = series.frequency == "business" and day in holidays
        value = "." if missing else f"{values[offset + k]:.{series.decimals}f}"
        out.append(obs(day, value, min(day + _DAY, as_of)))
    return out


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    month = first.replace(day=1) if first.day == 1 else _month_after(first.replace(day=1))
    out = []
    while month <= last:
        out.append(month)
        month = _month_after(month)
    return out


def _month_after(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _cpi_value(seed: int, series: MacroSeries, month: dt.date) -> str:
    months = (month.year - 2024) * 12 + month.month - 1
    noise = series.sd * float(
        _rng(seed, "fred", series.series_id, month.isoformat()).standard_normal()
    )
    value = series.mean * math.exp(_CPI_INFLATION * months / 12.0 + noise)
    return f"{value:.{series.decimals}f}"


Tone = Literal["positive", "negative", "neutral"]
#: Headline templates by tone; ``{name}``, ``{symbol}``, ``{issuer}``, ``{pct}``, ``{price}``.
NEWS_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "positive": (
        "{name} ({symbol}) rallies {pct} as inflows accelerate",
        "{symbol} climbs {pct}; analysts cite strong on-chain demand",
        "Institutional appetite lifts {name} to ${price}",
        "{issuer} reports record subscriptions to {name}",
        "{symbol} holder count surges as tokenized markets expand",
    ),
    "negative": (
        "{name} ({symbol}) slides {pct} amid broad risk-off selling",
        "{symbol} drops {pct} as redemptions mount",
        "Liquidity concerns weigh on {name}; price falls to ${price}",
        "{symbol} under pressure after {issuer} discloses outflows",
        "Regulators question disclosures behind {name} ({symbol})",
    ),
    "neutral": (
        "{name} ({symbol}) trades flat near ${price}",
        "{issuer} publishes monthly attestation for {name}",
        "What {symbol}'s latest on-chain data says about tokenized assets",
        "{name} steady as markets await the Fed's next decision",
        "{symbol} integrates with another lending protocol",
    ),
}
#: Headlines for the simulation's own events, with their tone.
EVENT_TEMPLATES: dict[str, tuple[Tone, str]] = {
    "depeg": ("negative", "{symbol} loses its dollar peg, touching ${price}"),
    "markdown": ("negative", "{issuer} marks down loans in the {name} pool"),
    "jump_down": ("negative", "{name} ({symbol}) plunges {pct} in sudden sell-off"),
    "jump_up": ("positive", "{name} ({symbol}) spikes {pct} as shorts are squeezed"),
    "repricing_down": ("negative", "{name} ({symbol}) re-priced {pct} lower after appraisal"),
    "repricing_up": ("positive", "{name} ({symbol}) re-priced {pct} higher after appraisal"),
}
_TONE_PHRASES: dict[Tone, str] = {
    "positive": "drew strong buying interest",
    "negative": "came under selling pressure",
    "neutral": "saw routine trading",
}
NEWS_OUTLETS = ("Ledger Street Journal", "Token Times", "RWA Monitor", "Chain Ledger Daily",
                "Simulated Wire")  # fmt: skip
NEWS_AUTHORS = ("A. Rivera", "J. Chen", "M. Okafor", "S. Lindqvist", None)


@dataclass(frozen=True, slots=True)
class _AssetDay:
    """What the news desk knows about an asset on a day."""

    asset: Asset
    log_return: float
    z: float  # return in units of the asset's typical daily move
    price: float  # the day's close, or the trough of a de-peg
    event: str | None  # an EVENT_TEMPLATES key


def _news_articles(seed: int, day: dt.date, desk: list[_AssetDay]) -> list[dict[str, Any]]:
    """A few articles about the day's assets, newest first, as NewsAPI lists them."""
    if not desk:
        return []
    rng = _rng(seed, "news", day.isoformat())
    count = 1 + int(rng.poisson(3.0))
    # Big moves and events make the news more often.
    weights = np.array(
        [1.0 + 4.0 * min(abs(a.z), 5.0) + 10.0 * (a.event is not None) for a in desk]
    )
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    articles = []
    for k in range(count):
        pick = desk[int(rng.choice(len(desk), p=weights / weights.sum()))]
        tone, template = _headline(rng, pick)
        published = midnight + dt.timedelta(seconds=int(rng.integers(0, 86_400)))
        articles.append(_article(rng, pick, tone, template, published, k))
    return sorted(articles, key=lambda a: (a["publishedAt"], a["url"]), reverse=True)


def _headline(rng: np.random.Generator, day: _AssetDay) -> tuple[Tone, str]:
    if day.event is not None and rng.random() < 0.8:
        return EVENT_TEMPLATES[day.event]
    tones: tuple[Tone, Tone, Tone] = ("positive", "negative", "neutral")
    if day.z > 1.5:
        probs = (0.7, 0.1, 0.2)
    elif day.z < -1.5:
        probs = (0.1, 0.7, 0.2)
    else:
        probs = (0.3, 0.25, 0.45)
    tone = tones[int(rng.choice(3, p=probs))]
    options = NEWS_TEMPLATES[tone]
    return tone, options[int(rng.integers(0, len(options)))]


def _article(
    rng: np.random.Generator,
    day: _AssetDay,
    tone: Tone,
    template: str,
    published: dt.datetime,
    k: int,
) -> dict[str, Any]:
    asset = day.asset
    title = template.format(
        name=asset.name,
        symbol=asset.symbol,
        issuer=asset.issuer_name or "Its issuer",
        pct=f"{abs(math.expm1(day.log_return)) * 100:.1f}%",
        price=f"{day.price:,.4f}" if day.price < 10 else f"{day.price:,.2f}",
    )
    kind = asset.asset_class.replace("_", " ")
    description = (
        f"{asset.name} ({asset.symbol}), a {kind} token, {_TONE_PHRASES[tone]} on "
        f"{published:%B} {published.day}."
    )
    body = (
        f"{description} Traders pointed to fund flows, on-chain liquidity and the latest reserve "
        f"disclosures. {asset.issuer_name or 'The issuer'} did not comment on market moves. "
        "This article was generated by a simulator and describes no real event."
    )
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:60]
    return {
        "source": {"id": None, "name": NEWS_OUTLETS[int(rng.integers(0, len(NEWS_OUTLETS)))]},
        "author": NEWS_AUTHORS[int(rng.integers(0, len(NEWS_AUTHORS)))],
        "title": title,
        "description": description,
        "url": f"https://news.example.com/{published.date().isoformat()}/{slug}-{k}",
        "urlToImage": None,
        "publishedAt": _iso_z(published),
        # NewsAPI truncates content to 200 characters and says how much was cut.
        "content": f"{body[:200]}… [+{max(len(body) - 200, 0)} chars]",
    }


# --------------------------------------------------------------------------------------------
# The connector
# --------------------------------------------------------------------------------------------


class SimulatedSource(Connector):
    """Deterministic stand-in for the real sources; see the module docstring for the models.

    ``[start, end)`` is the simulated span: prices, on-chain metrics and news exist only there,
    and a requested :class:`FetchWindow` is clipped to it. ``start`` and ``end`` must be UTC and
    on the bar grid (whole multiples of ``frequency`` from midnight).
    """

    name: ClassVar[str] = SIMULATED

    def __init__(
        self,
        assets: Sequence[Asset],
        *,
        seed: int,
        start: dt.datetime,
        end: dt.datetime,
        frequency: Frequency = "1h",
        fault_rate: float = 0.0005,
        datasets: Sequence[Dataset] = DATASETS,
    ) -> None:
        if frequency not in FREQUENCY_MINUTES:
            raise ConfigurationError(
                f"frequency must be one of {sorted(FREQUENCY_MINUTES)}, got {frequency!r}"
            )
        if not 0.0 <= fault_rate <= 1.0:
            raise ConfigurationError(f"fault_rate must be within [0, 1], got {fault_rate}")
        unknown = sorted(set(datasets) - set(DATASETS))
        if unknown:
            raise ConfigurationError(f"unknown datasets {unknown}; known: {list(DATASETS)}")
        try:
            self.window = FetchWindow(start, end)
        except ValueError as exc:
            raise ConfigurationError(f"simulated span: {exc}") from exc
        step = dt.timedelta(minutes=FREQUENCY_MINUTES[frequency])
        for label, instant in (("start", self.window.start), ("end", self.window.end)):
            if (instant - instant.replace(hour=0, minute=0, second=0, microsecond=0)) % step:
                raise ConfigurationError(
                    f"{label} {instant.isoformat()} is not on the {frequency} bar grid"
                )
        self.assets: tuple[Asset, ...] = tuple(assets)
        self.seed = seed
        self.frequency: Frequency = frequency
        self.fault_rate = fault_rate
        self.datasets: tuple[Dataset, ...] = tuple(d for d in DATASETS if d in datasets)
        self._grid = _Grid(self.window.start, step, (self.window.end - self.window.start) // step)
        self._by_id = self._index_assets()
        self._by_symbol = {coinapi_symbol_id(a): a for a in self.assets}
        # Per-asset caches: the whole span is simulated once and sliced per request.
        # Only bars and events are kept (about 70 bytes per bar): the model's working arrays go.
        self._bars: dict[str, tuple[tuple[_PathEvent, ...], _Bars]] = {}
        self._views: dict[str, _DailyView] = {}
        self._boundary_strings: list[str] | None = None
        self._onchain_records: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def from_settings(
        cls, settings: SimulationSettings, assets: Sequence[Asset]
    ) -> SimulatedSource:
        """The source the ``RWA_SIM_*`` settings describe, over ``assets`` (filtered by them)."""
        end_day = settings.end or dt.datetime.now(dt.UTC).date()
        end = dt.datetime.combine(end_day, dt.time(), tzinfo=dt.UTC)
        chosen = list(assets)
        if settings.assets:
            known = {a.asset_id for a in assets}
            missing = sorted(set(settings.assets) - known)
            if missing:
                raise ConfigurationError(
                    f"RWA_SIM_ASSETS names unknown asset ids {missing}; known: {sorted(known)}"
                )
            chosen = [a for a in assets if a.asset_id in set(settings.assets)]
        return cls(
            chosen,
            seed=settings.seed,
            start=end - dt.timedelta(days=settings.days),
            end=end,
            frequency=settings.frequency,
            fault_rate=settings.fault_rate,
        )

    def _index_assets(self) -> dict[str, Asset]:
        by_id: dict[str, Asset] = {}
        symbols: dict[str, str] = {}
        for asset in self.assets:
            if asset.asset_id in by_id:
                raise ConfigurationError(f"asset_id {asset.asset_id!r} is listed twice")
            symbol = coinapi_symbol_id(asset)
            if symbol in symbols:
                raise ConfigurationError(
                    f"assets {symbols[symbol]!r} and {asset.asset_id!r} share symbol id {symbol}"
                )
            by_id[asset.asset_id], symbols[symbol] = asset, asset.asset_id
        return by_id

    # -- the three steps ----------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        span = window.intersect(self.window)
        if span is None:
            return []
        requests: list[SourceRequest] = []
        for dataset in self.datasets:
            if dataset == "economic":
                requests += [self._fred_request(s, span) for s in MACRO_SERIES]
                continue
            for day in span.days():
                part = span.intersect(FetchWindow.for_days(day, 1))
                assert part is not None  # span.days() only lists days it touches
                if dataset == "news":
                    requests.append(self._news_request(part))
                else:
                    requests += [self._asset_request(dataset, a, part) for a in self.assets]
        return requests

    def fetch(self, request: SourceRequest) -> RawResponse:
        handlers = {
            "prices": self._fetch_prices,
            "onchain": self._fetch_onchain,
            "economic": self._fetch_economic,
            "news": self._fetch_news,
        }
        return handlers[request.dataset](request.params)

    # -- ground truth ---------------------------------------------------------------------------

    def events(self, asset_id: str) -> list[SimEvent]:
        """Jumps, de-pegs, markdowns, re-pricings and injected faults of one asset, by time."""
        asset = self._asset(asset_id)
        path_events, bars = self._simulated(asset)
        return _events(asset.asset_id, self._grid, path_events, bars)

    # -- requests ---------------------------------------------------------------------------

    def _asset_request(self, dataset: Dataset, asset: Asset, part: FetchWindow) -> SourceRequest:
        if dataset == "prices":
            return SourceRequest(
                "prices",
                PRICES_ENDPOINT,
                {
                    "symbol_id": coinapi_symbol_id(asset),
                    "period_id": COINAPI_PERIODS[self.frequency],
                    "time_start": _iso_z(part.start),
                    "time_end": _iso_z(part.end),
                },
            )
        day = part.start.date()
        return SourceRequest(
            "onchain",
            ONCHAIN_ENDPOINT,
            {
                "asset": asset.asset_id,
                "blockchain": asset.blockchain_network,
                "startDate": day.isoformat(),
                "endDate": (day + _DAY).isoformat(),
                "timeInterval": "days",
            },
        )

    def _fred_request(self, series_id: str, span: FetchWindow) -> SourceRequest:
        return SourceRequest(
            "economic",
            FRED_ENDPOINT,
            {
                "series_id": series_id,
                "observation_start": span.start.date().isoformat(),
                "observation_end": (span.end - dt.timedelta(microseconds=1)).date().isoformat(),
                "file_type": "json",
            },
        )

    def _news_request(self, part: FetchWindow) -> SourceRequest:
        return SourceRequest(
            "news",
            NEWS_ENDPOINT,
            {
                "q": " OR ".join(sorted(a.symbol for a in self.assets)),
                "from": _iso_z(part.start),
                "to": _iso_z(part.end),
                "language": "en",
                "sortBy": "publishedAt",
                "pageSize": 100,
                "page": 1,
            },
        )

    # -- responses --------------------------------------------------------------------------

    def _fetched_at(self, covered_until: dt.datetime, *parts: object) -> dt.datetime:
        """When the response 'arrived': after the period it covers, by a 1-10 minute lag."""
        lag = 60 + _stable_int(self.seed, "fetched_at", *parts, covered_until.isoformat()) % 540
        return covered_until + dt.timedelta(seconds=lag)

    def _fetch_prices(self, params: dict[str, Any]) -> RawResponse:
        symbol = str(params.get("symbol_id"))
        asset = self._by_symbol.get(symbol)
        if asset is None:
            raise NotFoundError(f"unknown symbol_id {symbol!r}")
        start, end = _parse_instant(params, "time_start"), _parse_instant(params, "time_end")
        _, bars = self._simulated(asset)
        g = self._grid
        records = _bar_records(bars, g, g.index(start), g.index(end), self._boundaries())
        return RawResponse(records, self._fetched_at(end, "prices", asset.asset_id))

    def _fetch_onchain(self, params: dict[str, Any]) -> RawResponse:
        asset = self._asset(str(params.get("asset")))
        first, last = _parse_date(params, "startDate"), _parse_date(params, "endDate")
        records = [
            record
            for record in self._onchain(asset)
            if first.isoformat() <= record["timestamp"][:10] < last.isoformat()
        ]
        until = dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC)
        return RawResponse(records, self._fetched_at(until, "onchain", asset.asset_id))

    def _fetch_economic(self, params: dict[str, Any]) -> RawResponse:
        series_id = str(params.get("series_id"))
        series = MACRO_SERIES.get(series_id)
        if series is None:
            raise NotFoundError(
                f"unknown FRED series_id {series_id!r}; known: {list(MACRO_SERIES)}"
            )
        first = _parse_date(params, "observation_start")
        last = _parse_date(params, "observation_end")
        until = dt.datetime.combine(last + _DAY, dt.time(), tzinfo=dt.UTC)
        fetched_at = self._fetched_at(until, "economic", series_id, first.isoformat())
        observations = _fred_observations(self.seed, series, first, last, fetched_at.date())
        payload = {
            "realtime_start": fetched_at.date().isoformat(),
            "realtime_end": fetched_at.date().isoformat(),
            "observation_start": first.isoformat(),
            "observation_end": last.isoformat(),
            "units": "lin",
            "output_type": 1,
            "file_type": "json",
            "order_by": "observation_date",
            "sort_order": "asc",
            "count": len(observations),
            "offset": 0,
            "limit": 100000,
            "observations": observations,
        }
        return RawResponse(payload, fetched_at)

    def _fetch_news(self, params: dict[str, Any]) -> RawResponse:
        start, end = _parse_instant(params, "from"), _parse_instant(params, "to")
        days = FetchWindow(start, end).days() if start < end else []
        articles = [
            article
            for day in reversed(days)  # newest first, as sortBy=publishedAt returns them
            for article in _news_articles(self.seed, day, self._news_desk(day))
            if _iso_z(start) <= article["publishedAt"] < _iso_z(end)
        ]
        payload = {"status": "ok", "totalResults": len(articles), "articles": articles}
        return RawResponse(payload, self._fetched_at(end, "news"))

    # -- cached simulation ------------------------------------------------------------------

    def _asset(self, asset_id: str) -> Asset:
        asset = self._by_id.get(asset_id)
        if asset is None:
            raise NotFoundError(
                f"asset {asset_id!r} is not simulated; known: {sorted(self._by_id)}"
            )
        return asset

    def _simulated(self, asset: Asset) -> tuple[tuple[_PathEvent, ...], _Bars]:
        cached = self._bars.get(asset.asset_id)
        if cached is None:
            params = price_params(asset)
            streams = _Streams(self.seed, asset.asset_id)
            path = _simulate_path(params, self._grid, streams)
            cached = (path.events, _to_bars(params, self._grid, path, streams, self.fault_rate))
            self._bars[asset.asset_id] = cached
        return cached

    def _boundaries(self) -> list[str]:
        if self._boundary_strings is None:
            self._boundary_strings = _coinapi_times(
                self._grid.day0, self._grid.starts_ms(0, self._grid.n + 1)
            )
        return self._boundary_strings

    def _daily(self, asset: Asset) -> _DailyView:
        view = self._views.get(asset.asset_id)
        if view is None:
            view = self._views[asset.asset_id] = _daily_view(self._grid, self._simulated(asset)[1])
        return view

    def _onchain(self, asset: Asset) -> list[dict[str, Any]]:
        records = self._onchain_records.get(asset.asset_id)
        if records is None:
            records = self._onchain_records[asset.asset_id] = _onchain_records(
                price_params(asset),
                onchain_params(asset),
                self._daily(asset),
                _Streams(self.seed, asset.asset_id),
            )
        return records

    def _news_desk(self, day: dt.date) -> list[_AssetDay]:
        k = (day - self.window.start.date()).days
        if not 0 <= k < len(self.window.days()):
            return []  # outside the span: nothing happened, nothing to report
        return [
            _asset_day(asset, self._simulated(asset)[0], self._grid, self._daily(asset), k)
            for asset in self.assets
        ]


def _asset_day(
    asset: Asset, path_events: tuple[_PathEvent, ...], g: _Grid, view: _DailyView, k: int
) -> _AssetDay:
    p = price_params(asset)
    typical = p.annual_vol / math.sqrt(365.0) if p.annual_vol else 2e-4 * max(p.noise_bps, 1.0)
    r = float(view.log_return[k])
    day_start = dt.datetime.combine(view.days[k], dt.time(), tzinfo=dt.UTC)
    first, last = g.index(day_start), g.index(day_start + _DAY)
    event, price = None, float(view.close[k])
    for kind, i, _, magnitude in path_events:
        # Only moves big enough to be news; the last one of the day wins.
        if not first <= i < last or (kind == "jump" and abs(magnitude) < 0.03):
            continue
        if kind in ("depeg", "markdown"):
            event = kind
        else:
            event = f"{kind}_{'up' if magnitude > 0 else 'down'}"
        if kind == "depeg":
            price = p.start_price * (1.0 - magnitude)
    return _AssetDay(asset, r, r / typical, price, event)
