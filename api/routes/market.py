"""Market analytics: the measures rwa.xyz and DefiLlama publish, per asset and over assets.

Each dashboard panel is one request: ``/market/summary`` (the KPI strip), ``/market/assets``
(the assets table), ``/market/breakdown`` (composition as of a day), ``/market/history``
(composition over time) and ``/assets/{asset_id}/market`` (one asset's daily series). The
per-asset-day measures are computed in gold (``gold/market_daily``); the aggregates by the
store (:meth:`~pipelines.serving.store.ServingStore.market_aggregates`); the table and the KPIs
here, from the rows of two days (the day and 7 days before).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request, Response

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    KnownAssetId,
    StoreDep,
    WindowQueryDep,
    memoised_read,
)
from api.market_schemas import (
    MarketAggregateOut,
    MarketAssetsPage,
    MarketBreakdownResponse,
    MarketDayOut,
    MarketHistoryResponse,
    MarketSeriesResponse,
    MarketSort,
    MarketSummaryOut,
)
from api.rendering import envelope, json_response, rows_from_arrow
from api.routes.market_rows import asset_rows, summary
from api.schemas import QueryDay, QueryInstant
from api.security.tiers import MATRIX, Feature, principal_of
from pipelines.contracts.measures import STALE_AFTER_DAYS
from pipelines.contracts.reference import AssetClass
from pipelines.contracts.served import MARKET, MarketGroup, MarketInterval
from pipelines.serving.store import ServingStore

router = APIRouter(tags=["market"], responses=STORE_UNAVAILABLE)

DAY = dt.timedelta(days=1)
#: Bounds of ``limit`` on /market/history (buckets): the default covers a year of days.
HISTORY_LIMIT_DEFAULT = 366
HISTORY_LIMIT_MAX = 5000

DayParam = Annotated[
    QueryDay | None,
    Query(description="The day (UTC), e.g. 2024-01-31; default: the last day served."),
]
GroupParam = Annotated[
    MarketGroup,
    Query(description="Group assets by asset class, primary network or issuer ('all': one)."),
]


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _day_or_latest(store: ServingStore, day: dt.date | None) -> dt.date | None:
    return day if day is not None else store.market_latest_day()


@router.get(
    "/assets/{asset_id}/market",
    response_model=MarketSeriesResponse,
    responses=ASSET_NOT_FOUND,
    summary="Daily market analytics of one asset",
)
def get_asset_market(store: StoreDep, query: WindowQueryDep, asset_id: KnownAssetId) -> Response:
    """Price, NAV and premium, supply, market and asset value, holders, 7-day yield beside the
    T-bill, transfers, mints and burns per UTC day with ``start <= day < end``, oldest first
    (the newest ``limit`` days when more match). Days after the asset's last observation carry
    its last values with their as-of days, marked ``stale``."""
    rows = store.series(MARKET, {"asset_id": asset_id}, query.start, query.end, query.limit)
    head = MarketSeriesResponse(
        asset_id=asset_id,
        start=query.start,
        end=query.end,
        count=rows.num_rows,
        stale_after_days=STALE_AFTER_DAYS,
        days=[],
    )
    return json_response(envelope(head, "days", rows_from_arrow(MarketDayOut, rows)))


@router.get(
    "/market/assets",
    response_model=MarketAssetsPage,
    summary="The assets table as of one day",
)
async def list_market_assets(
    request: Request,
    store: StoreDep,
    date: DayParam = None,
    asset_class: Annotated[AssetClass | None, Query(description="Only this class.")] = None,
    network: Annotated[str | None, Query(description="Only this primary network.")] = None,
    issuer: Annotated[str | None, Query(description="Only this issuer (exact name).")] = None,
    stale: Annotated[bool | None, Query(description="Only stale (true) or current rows.")] = None,
    sort: Annotated[MarketSort, Query(description="Order; '-' for descending.")] = "-value_usd",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Every asset with analytics on the day: price, NAV, premium, yield, values, holders,
    flows, 7-day changes, latest risk score, 7-day news sentiment and evidence flags; filtered,
    sorted (unknown values last), paged. Risk scores need a tier with risk scores; for others
    they are null and ``withheld`` names them."""
    day, rows = await memoised_read(store, ("market assets", date), lambda: _table_of(store, date))
    wanted = {"asset_class": asset_class, "network": network, "issuer_name": issuer}
    chosen = [
        row
        for row in rows
        if all(value is None or row[name] == value for name, value in wanted.items())
        and (stale is None or row["stale"] == stale)
    ]
    key = sort.removeprefix("-")
    known = [row for row in chosen if row[key] is not None]
    known.sort(key=lambda row: (row[key], row["asset_id"]), reverse=sort.startswith("-"))
    ordered = known + [row for row in chosen if row[key] is None]
    page = ordered[offset : offset + limit]
    withheld = [] if _may_see_risk(request) else ["risk_score"]
    if withheld:
        page = [row | {"risk_score": None} for row in page]
    head = MarketAssetsPage(
        date=day,
        stale_after_days=STALE_AFTER_DAYS,
        withheld=withheld,
        total=len(ordered),
        limit=limit,
        offset=offset,
        assets=[],
    )
    return json_response(envelope(head, "assets", page))


def _table_of(
    store: ServingStore, date: dt.date | None
) -> tuple[dt.date | None, tuple[dict[str, Any], ...]]:
    """The day shown (``date``, else the last served) and its assets table."""
    day = _day_or_latest(store, date)
    return day, (() if day is None else asset_rows(store, day))


def _may_see_risk(request: Request) -> bool:
    return Feature.RISK_DETAIL in MATRIX[principal_of(request).role].features


@router.get("/market/summary", response_model=MarketSummaryOut, summary="The KPI strip")
async def get_market_summary(store: StoreDep, date: DayParam = None) -> Response:
    """Total value, holders and count of the real-world assets, the tokenized treasuries'
    value-weighted 7-day yield beside the T-bill, and the stablecoins' supply: each on the day,
    7 days before, and the change. Only current values count; stale assets are counted apart."""
    body = await memoised_read(
        store, ("market summary", date), lambda: summary(store, _day_or_latest(store, date))
    )
    return json_response(body)


@router.get(
    "/market/breakdown",
    response_model=MarketBreakdownResponse,
    summary="Aggregates by class, network or issuer as of one day",
)
async def get_market_breakdown(
    store: StoreDep, by: GroupParam = "asset_class", date: DayParam = None
) -> Response:
    """One row per group on the day: the current assets' summed stocks (value, market and
    asset value, holders), the stale assets' apart, and the day's flows; largest value first."""
    body = await memoised_read(
        store, ("market breakdown", by, date), lambda: _breakdown(store, by, date)
    )
    return json_response(body)


def _breakdown(store: ServingStore, by: MarketGroup, date: dt.date | None) -> dict[str, Any]:
    day = _day_or_latest(store, date)
    groups: list[dict[str, Any]] = []
    if day is not None:
        table = store.market_aggregates(by, "day", _midnight(day), _midnight(day) + DAY)
        groups = rows_from_arrow(MarketAggregateOut, table)
        groups.sort(key=lambda row: -(row["value_usd"] or 0.0))
    head = MarketBreakdownResponse(date=day, by=by, stale_after_days=STALE_AFTER_DAYS, groups=[])
    return envelope(head, "groups", groups)


@router.get(
    "/market/history",
    response_model=MarketHistoryResponse,
    summary="Aggregates by class, network or issuer over time",
)
async def get_market_history(
    store: StoreDep,
    by: GroupParam = "asset_class",
    interval: Annotated[
        MarketInterval, Query(description="Buckets: UTC days, ISO weeks or months.")
    ] = "day",
    start: Annotated[
        QueryInstant | None, Query(description="Inclusive start of the days aggregated.")
    ] = None,
    end: Annotated[QueryInstant | None, Query(description="Exclusive end.")] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=HISTORY_LIMIT_MAX,
            description="Most buckets returned; when more match, the newest are kept.",
        ),
    ] = HISTORY_LIMIT_DEFAULT,
) -> Response:
    """Per bucket and group: stocks are each asset's last value in the bucket (current and
    stale apart), flows the sum over the bucket's days. A bucket cut by ``start`` or ``end``
    covers only the days inside."""
    key = ("market history", by, interval, start, end, limit)
    body = await memoised_read(store, key, lambda: _history(store, by, interval, start, end, limit))
    return json_response(body)


def _history(
    store: ServingStore,
    by: MarketGroup,
    interval: MarketInterval,
    start: dt.datetime | None,
    end: dt.datetime | None,
    limit: int,
) -> dict[str, Any]:
    table = _newest_buckets(store.market_aggregates(by, interval, start, end), limit)
    head = MarketHistoryResponse(
        by=by,
        interval=interval,
        start=start,
        end=end,
        count=table.num_rows,
        stale_after_days=STALE_AFTER_DAYS,
        buckets=[],
    )
    return envelope(head, "buckets", rows_from_arrow(MarketAggregateOut, table))


def _newest_buckets(table: pa.Table, limit: int) -> pa.Table:
    """The rows of the newest ``limit`` buckets (``ts`` values) of ``table``."""
    buckets = sorted({ts for ts in table.column("ts").to_pylist() if ts is not None})
    if len(buckets) <= limit:
        return table
    first = pa.scalar(buckets[-limit], table.schema.field("ts").type)
    return table.filter(pc.greater_equal(table.column("ts"), first))
