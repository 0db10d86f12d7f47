"""Request and response schemas of the API, kept apart from the stored tables.

The API contract changes only when these change: a new column in the store does not leak into
responses by accident, and a new field of :class:`~pipelines.contracts.reference.Asset` fails a
test until :class:`AssetDetail` gains it on purpose. Likewise the schemas of rows of a served
table (``OnchainDayOut`` ...) mirror its declaration in :mod:`pipelines.contracts.served`
column for column (``tests/api/test_schemas_mirror_served_tables.py``): a measure added there
fails a test until it is served here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Literal, Self

import pyarrow as pa
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from pipelines.contracts.reference import AssetClass
from pipelines.contracts.served import Resolution

#: Bounds of ``limit`` on the OHLCV endpoint; the default keeps a response under ~1 MB.
OHLCV_LIMIT_DEFAULT = 5000
OHLCV_LIMIT_MAX = 10_000
#: Bounds of ``limit`` on the daily series (on-chain, features, macro): the default covers
#: over five years of days, the maximum over 27 years, in a few MB.
SERIES_LIMIT_DEFAULT = 2000
SERIES_LIMIT_MAX = 10_000

# --- instants in query strings ----------------------------------------------------------------

# What a query bound may be, and exactly what the OpenAPI document says (format date-time or
# date): an RFC 3339 date-time, offset required, or a full date (midnight UTC). Nothing else:
# no Unix times, no naive datetimes (whose zone would be a guess).
_RFC3339_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# "2024-01-01T05:00:00+02:00" typed unencoded into a URL arrives with a space for the "+"
# (form encoding). After the seconds of a date-time, " HH:MM" can only be an offset.
_LOST_PLUS = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?) (\d{2}:\d{2})", re.ASCII
)
_INSTANT_HELP = (
    "an RFC 3339 date-time with an offset (e.g. 2024-01-01T12:00:00Z) or a date (2024-01-01, "
    "midnight UTC)"
)
_INSTANT_ERROR = f"Input should be {_INSTANT_HELP}"
_UTC_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
_UTC_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)


def parse_instant(value: object) -> dt.datetime:
    """A query bound as a UTC datetime: an RFC 3339 date-time (any offset) or a full date
    (midnight UTC); anything else is a validation error. Instants beyond the range of
    ``datetime`` in UTC (0001-01-01T00:30:00+01:00 ...) are clamped to it: no data lies there,
    so the window means the same."""
    if not isinstance(value, str):
        raise PydanticCustomError("instant_type", _INSTANT_ERROR)
    text = _LOST_PLUS.sub(r"\1+\2", value)
    try:
        if _FULL_DATE.fullmatch(text):
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        if _RFC3339_DATE_TIME.fullmatch(text):
            parsed = dt.datetime.fromisoformat(text.upper())
            try:
                return parsed.astimezone(dt.UTC)
            except OverflowError:
                return _UTC_MIN if parsed.year == dt.MINYEAR else _UTC_MAX
    except ValueError:  # shaped right, but no such day or time (2024-02-30, 25:00)
        pass
    raise PydanticCustomError("instant_parsing", _INSTANT_ERROR)


#: A query bound: what :func:`parse_instant` accepts, documented as such (strings of format
#: date-time or date), normalised to UTC.
QueryInstant = Annotated[
    dt.datetime,
    PlainValidator(parse_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ]
        }
    ),
]


def parse_day(value: object) -> dt.date:
    """A query day: a full date (2024-01-01) and nothing else, as the document says."""
    if isinstance(value, str) and _FULL_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # shaped right, but no such day (2024-02-30)
            pass
    raise PydanticCustomError("day_parsing", "Input should be a date such as 2024-01-01")


#: A query day (``format: date``), strictly a full date.
QueryDay = Annotated[
    dt.date, PlainValidator(parse_day), WithJsonSchema({"type": "string", "format": "date"})
]


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


#: A datetime of a response, normalised to UTC; serialised as ISO-8601 with a ``Z`` suffix.
UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]

#: A number of a response: never NaN or infinite (JSON cannot say them; pydantic would answer
#: null, even where the schema promises a number). The loader refuses them already; this keeps
#: a value that got into the store anyway from being served as a lie.
Number = FiniteFloat


class _Out(BaseModel):
    """Base of response schemas: immutable, and built from attributes of store objects."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


# --- errors ---------------------------------------------------------------------------------


class ErrorOut(_Out):
    """Body of every non-validation error (404, 503)."""

    detail: str = Field(examples=["asset 'xyz' not found"])


# --- health ---------------------------------------------------------------------------------


class HealthOut(_Out):
    status: Literal["ok", "degraded"] = Field(
        description="'degraded' when the store does not answer."
    )
    store_backend: str = Field(description="Serving store in use: 'duckdb' or 'timescaledb'.")
    store_ok: bool = Field(description="Whether the store answered a trivial query.")
    detail: str = Field(description="What the store check reported.")
    version: str = Field(description="Version of the API.")


# --- assets ---------------------------------------------------------------------------------


class AuditOut(_Out):
    auditor: str
    year: int | None = None
    scope: str | None = Field(default=None, description="What was audited (contracts, reserves).")


class RedemptionOut(_Out):
    frequency: str | None = Field(default=None, description="e.g. 'daily', 'on demand'.")
    settlement: str | None = Field(default=None, description="e.g. 'T+0 in USDC'.")
    minimum_usd: Number | None = None
    notes: str | None = None


class EvidenceOut(_Out):
    """Evidence flags from the reference data; null where the fact is not known (never
    guessed). Holding needs KYC: see ``kyc_required``."""

    attestations: bool | None = Field(
        default=None, description="Independent reserve or holdings reports are published."
    )
    redeemable: bool | None = Field(
        default=None, description="Eligible holders can redeem with the issuer."
    )
    transferable: bool | None = Field(
        default=None, description="Any address can receive it (false: allowlisted only)."
    )
    kyc_to_mint_redeem: bool | None = Field(
        default=None, description="Primary minting or redemption needs the issuer's KYC."
    )
    self_custody: bool | None = Field(
        default=None, description="Holders keep it in wallets they control."
    )
    cex_listed: bool | None = Field(
        default=None, description="Traded on at least one centralised exchange."
    )
    sources: list[str] = Field(default_factory=list, description="Where the flags come from.")


class AssetSummary(_Out):
    """What the asset list shows: enough to pick an asset and ask for its detail."""

    asset_id: str = Field(description="Stable slug used in every other path, e.g. 'ousg'.")
    symbol: str
    name: str
    asset_class: AssetClass
    blockchain_network: str = Field(description="Primary chain of the token.")
    issuer_name: str | None = None


class AssetDetail(AssetSummary):
    """Every reference fact known about one asset; unknown facts are null, never guessed."""

    chains: list[str] = Field(default_factory=list, description="All chains it is issued on.")
    contract_address: str | None = Field(default=None, description="On the primary chain.")
    jurisdiction: str | None = None
    legal_structure: str | None = None
    regulator: str | None = None
    underlying_asset_details: str | None = Field(default=None, description="What backs the token.")
    kyc_required: bool | None = None
    transfer_restrictions: str | None = None
    redemption: RedemptionOut | None = None
    audits: list[AuditOut] = Field(default_factory=list)
    oracle: str | None = None
    upgradeable_contract: bool | None = None
    launch_date: dt.date | None = None
    coingecko_id: str | None = None
    defillama_slug: str | None = None
    sources: list[str] = Field(default_factory=list, description="Where the facts come from.")
    evidence: EvidenceOut = Field(
        default_factory=EvidenceOut, description="Evidence flags; unknown ones are null."
    )


# --- time windows ---------------------------------------------------------------------------


class WindowQuery(BaseModel):
    """Query parameters shared by every time-series endpoint: a half-open UTC window and a
    row limit (when more rows match, the newest are kept). A window with ``start >= end``
    holds no instant, so it matches no rows: it is answered, empty, not refused."""

    start: QueryInstant | None = Field(
        default=None,
        description=f"Inclusive start: {_INSTANT_HELP}. Rows with ts >= start; a window with "
        "start >= end is empty.",
        examples=["2024-01-01", "2024-01-01T12:00:00Z"],
    )
    end: QueryInstant | None = Field(
        default=None,
        description=f"Exclusive end: {_INSTANT_HELP}. Rows with ts < end.",
        examples=["2024-02-01"],
    )
    limit: int = Field(
        default=SERIES_LIMIT_DEFAULT,
        ge=1,
        le=SERIES_LIMIT_MAX,
        description="Most rows returned; when more match, the newest are kept.",
    )


class _WindowOut(_Out):
    start: UtcDatetime | None = Field(description="Requested inclusive start (UTC), if any.")
    end: UtcDatetime | None = Field(description="Requested exclusive end (UTC), if any.")
    count: int = Field(description="Number of rows returned.")


class _DayOut(_Out):
    """One row of a daily series; ``ts`` is midnight UTC of the day."""

    ts: UtcDatetime = Field(description="Midnight UTC of the day.")

    @classmethod
    def list_from_arrow(cls, table: pa.Table) -> list[Self]:
        """The rows of a store read, as response schemas (extra columns are ignored)."""
        return [cls.model_validate(row) for row in table.to_pylist()]


# --- OHLCV ----------------------------------------------------------------------------------


class OhlcvQuery(WindowQuery):
    """Query parameters of ``GET /assets/{asset_id}/ohlcv``."""

    resolution: Resolution | None = Field(
        default=None,
        description="Bar resolution (default 1h). 1m and 5m bars are kept for a retention "
        "period only; 1w bars are ISO weeks (Monday 00:00 UTC) built from the daily bars.",
    )
    interval: Resolution | None = Field(
        default=None, deprecated=True, description="Former name of `resolution`."
    )
    limit: int = Field(
        default=OHLCV_LIMIT_DEFAULT,
        ge=1,
        le=OHLCV_LIMIT_MAX,
        description="Most bars returned; when more match, the newest are kept.",
    )

    @property
    def effective_resolution(self) -> Resolution:
        return self.resolution or self.interval or "1h"


class OhlcvBarOut(_Out):
    ts: UtcDatetime = Field(description="UTC start of the bar.")
    open: Number
    high: Number
    low: Number
    close: Number
    volume: Number | None = Field(
        description="Traded volume in units of the asset; null where the source publishes "
        "none (e.g. CoinGecko's OHLC bars), or, for a coarser bar, where any bar it is built "
        "from has none."
    )


class OhlcvResponse(_WindowOut):
    asset_id: str
    resolution: Resolution
    interval: Resolution = Field(deprecated=True, description="Same as `resolution`.")
    bars: list[OhlcvBarOut] = Field(description="Bars in time order, oldest first.")


# --- on-chain -------------------------------------------------------------------------------


class OnchainDayOut(_DayOut):
    """On-chain metrics of one asset-day, sources combined; null where no source has it."""

    holders: int | None = None
    transfer_count: int | None = None
    transfer_volume_usd: Number | None = None
    total_supply: Number | None = None
    dex_liquidity_usd: Number | None = None
    exchange_inflow_usd: Number | None = None
    exchange_outflow_usd: Number | None = None
    net_exchange_flow_usd: Number | None = Field(default=None, description="Inflow - outflow.")
    nav_usd: Number | None = None
    tvl_usd: Number | None = None
    circulating_usd: Number | None = None
    premium_to_nav: Number | None = Field(default=None, description="close / NAV - 1.")
    transfer_volume: Number | None = Field(
        default=None, description="Tokens moved by the day's Transfer logs (mints and burns too)."
    )
    minted: Number | None = Field(default=None, description="Tokens minted (from address 0x0).")
    burned: Number | None = Field(default=None, description="Tokens burned (to address 0x0).")
    net_flow: Number | None = Field(
        default=None, description="minted - burned, in tokens: the day's change of supply."
    )
    minted_usd: Number | None = Field(default=None, description="minted at the day's NAV/close.")
    burned_usd: Number | None = Field(default=None, description="burned at the day's NAV/close.")
    net_flow_usd: Number | None = Field(
        default=None, description="net_flow at the day's NAV (else close), in USD."
    )


class OnchainResponse(_WindowOut):
    asset_id: str
    metrics: list[OnchainDayOut] = Field(description="Days in time order, oldest first.")


# --- features -------------------------------------------------------------------------------


class FeaturesDayOut(_DayOut):
    """Returns, volatility, drawdown and liquidity of one asset-day."""

    close: Number | None = None
    return_1d: Number | None = None
    log_return_1d: Number | None = None
    realized_vol_7d: Number | None = Field(default=None, description="Annualised (sqrt 365).")
    realized_vol_30d: Number | None = Field(default=None, description="Annualised (sqrt 365).")
    drawdown: Number | None = Field(default=None, description="close / running max - 1.")
    max_drawdown_30d: Number | None = None
    dollar_volume: Number | None = None
    amihud_30d: Number | None = Field(default=None, description="Amihud illiquidity, 30 days.")
    zero_volume_share: Number | None = None
    hl_range: Number | None = Field(default=None, description="(high - low) / close.")


class FeaturesResponse(_WindowOut):
    asset_id: str
    features: list[FeaturesDayOut] = Field(description="Days in time order, oldest first.")


# --- predictions ----------------------------------------------------------------------------


class PredictionPointOut(_Out):
    target_date: dt.date
    value: Number = Field(description="Point forecast of the close.")
    lower_80: Number | None = None
    upper_80: Number | None = None
    lower_95: Number | None = None
    upper_95: Number | None = None


class PredictionsResponse(_Out):
    asset_id: str
    horizon_days: int = Field(description="Days ahead: 7 or 30.")
    generated_at: UtcDatetime | None = Field(
        description="End of the last daily bar the model saw; null when never forecast."
    )
    model_version: str | None = Field(description="Artefact label, name@version.")
    predictions: list[PredictionPointOut] = Field(description="One point per day ahead.")


ForecastSort = Literal["expected_return", "-expected_return", "asset_id", "-asset_id"]


class ForecastSummaryOut(_Out):
    """Where an asset's newest forecast ends: the horizon's last day."""

    asset_id: str
    horizon_days: int
    generated_at: UtcDatetime
    model_version: str
    target_date: dt.date
    value: Number
    lower_80: Number | None = None
    upper_80: Number | None = None
    lower_95: Number | None = None
    upper_95: Number | None = None
    last_close: Number | None = Field(description="Last daily close the model saw, if served.")
    expected_return: Number | None = Field(description="value / last_close - 1.")


class ForecastPage(_Out):
    total: int = Field(description="Forecasts matching the filters, before paging.")
    limit: int
    offset: int
    forecasts: list[ForecastSummaryOut]


# --- sentiment ------------------------------------------------------------------------------


class SentimentDayOut(_DayOut):
    """News sentiment of one asset-day; scores null until the sentiment step has run."""

    article_count: int = Field(description="Articles naming the asset that day.")
    sentiment_score: Number | None = Field(
        default=None, ge=-1, le=1, description="Mean of P(positive) - P(negative) over articles."
    )
    confidence: Number | None = Field(default=None, description="Mean top-class probability.")
    positive_share: Number | None = None
    negative_share: Number | None = None
    model_version: str | None = Field(
        default=None, description="finbert:<checkpoint> or lexicon:loughran-mcdonald@..."
    )


class SentimentResponse(_WindowOut):
    asset_id: str
    days: list[SentimentDayOut] = Field(description="Days in time order, oldest first.")


class NewsArticleOut(_Out):
    """A news article naming the asset: the headline behind its daily sentiment."""

    ts: UtcDatetime = Field(description="When it was published (UTC).")
    article_id: str
    title: str
    url: str | None = None
    outlet: str | None = None
    sentiment_score: Number | None = Field(
        default=None, ge=-1, le=1, description="P(positive) - P(negative) of the headline."
    )
    sentiment_label: str | None = Field(default=None, description="positive/negative/neutral.")
    model_version: str | None = Field(default=None, description="The scorer; null: unscored.")

    @classmethod
    def list_from_arrow(cls, table: pa.Table) -> list[Self]:
        return [cls.model_validate(row) for row in table.to_pylist()]


class NewsResponse(_WindowOut):
    asset_id: str
    articles: list[NewsArticleOut] = Field(description="Oldest first.")


class LatestArticleOut(NewsArticleOut):
    asset_ids: list[str] = Field(description="Every covered asset the article names.")


class LatestNewsOut(_Out):
    articles: list[LatestArticleOut] = Field(description="Newest first.")


# --- economic -------------------------------------------------------------------------------


class EconomicQuery(WindowQuery):
    """Query parameters of ``GET /economic/{series_id}``."""

    region: str | None = Field(
        default=None,
        description="ISO 3166 alpha-3 region, e.g. USA. May be left out when the series "
        "exists for one region only.",
        examples=["USA"],
    )


class ObservationOut(_DayOut):
    ts: UtcDatetime = Field(description="Observation date, as midnight UTC.")
    value: Number | None = Field(description="Null where the source publishes no value.")
    realtime_start: dt.date | None = Field(
        default=None, description="First day the value was known (vintage)."
    )


class RegionChoicesOut(_Out):
    """Answer (300) to a series asked for without a region when it has several."""

    detail: str
    regions: list[str] = Field(description="Regions with observations; pass one as `region`.")


class EconomicResponse(_WindowOut):
    series_id: str
    region: str
    frequency: str | None = Field(description="daily, monthly, annual ...")
    units: str | None
    observations: list[ObservationOut] = Field(description="In time order, oldest first.")


# --- risk -----------------------------------------------------------------------------------

RiskSort = Literal["composite_score", "-composite_score", "asset_id", "-asset_id"]


class RiskFactorOut(_Out):
    """One factor behind a score: what was measured and how many composite points it added."""

    sub_score: Literal["market", "credit", "regulatory", "technical"]
    factor: str
    value: Number | str | bool | None = Field(description="What was measured or classified.")
    points: Number = Field(description="Risk points of this factor, 0 (none) to 100.")
    contribution: Number = Field(description="Points it added to the composite score.")
    note: str


class RiskScoreOut(_Out):
    asset_id: str
    calculated_at: UtcDatetime = Field(description="End of the day whose data was scored.")
    model_version: str
    composite_score: int = Field(ge=1, le=100, description="1 (least risk) to 100.")
    market_risk: int | None = Field(default=None, ge=1, le=100)
    credit_risk: int | None = Field(default=None, ge=1, le=100)
    regulatory_risk: int | None = Field(default=None, ge=1, le=100)
    technical_risk: int | None = Field(default=None, ge=1, le=100)
    weights: dict[str, Number] = Field(description="Weight of each sub-score in the composite.")
    pegged: bool = Field(description="Scored as a dollar-pegged asset (peg factors included).")
    top_factors: list[RiskFactorOut] = Field(description="The factors that added most points.")
    factors: list[RiskFactorOut] = Field(description="Every factor, by sub-score.")

    @classmethod
    def from_row(cls, row: dict[str, object]) -> Self:
        """A store row, its ``factors`` JSON unpacked."""
        detail = json.loads(str(row["factors"]))
        return cls.model_validate(
            row
            | {
                "weights": detail["weights"],
                "pegged": detail["pegged"],
                "top_factors": detail["top"],
                "factors": detail["all"],
            }
        )


class RiskPage(_Out):
    total: int = Field(description="Scores matching the filters, before paging.")
    limit: int
    offset: int
    scores: list[RiskScoreOut]
