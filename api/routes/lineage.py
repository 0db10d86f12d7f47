"""``GET /lineage``: the chain behind one served number (:mod:`pipelines.lineage`): the served
row, the gold row and the run that wrote it, the silver records with their ``ingest_id``s, the
bronze object and line of each, the raw envelopes as fetched, the model version and training
window of a model output, and the quarantined records about the same asset and time.

Paid tiers only (``Feature.LINEAGE``): a daily bar's chain holds its hourly bars and the raw
source responses, which the explorer tier does not read.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, StoreDep
from api.rendering import json_response
from api.schemas import UtcDatetime, _Out
from api.security.tiers import LINEAGE_GATE, TIER_REQUIRED
from pipelines.contracts.gold import OHLCV_RESOLUTIONS
from pipelines.contracts.lineage import LINEAGE_MEASURES
from pipelines.core.settings import Settings, get_settings
from pipelines.serving.store import ServingStore

router = APIRouter(tags=["lineage"], responses=STORE_UNAVAILABLE)

Row = dict[str, Any]

# The document lists the measures and resolutions lineage answers for, so a value it calls
# valid is never refused (mypy cannot read a Literal built from a tuple).
if TYPE_CHECKING:
    Measure = str
    GoldResolution = str
else:
    Measure = Literal[LINEAGE_MEASURES]
    GoldResolution = Literal[OHLCV_RESOLUTIONS]


class BronzeRefOut(_Out):
    object_key: str = Field(description="The bronze object (lake-relative key).")
    line: int | None = Field(description="1-based line of the envelope in the object.")
    ingest_id: str
    element: str | None = Field(description="The record's place in the payload, e.g. payload[23].")
    item: Any = Field(default=None, description="That payload element, as fetched.")


class SilverRecordOut(_Out):
    table: str
    row: Row
    bronze: BronzeRefOut


class EnvelopeOut(_Out):
    object_key: str
    line: int
    envelope: Row = Field(description="The bronze line, parsed: the raw envelope as fetched.")


class QuarantinedOut(_Out):
    row: Row = Field(description="The silver/quarantine row: reason, raw record, lineage.")
    bronze: BronzeRefOut


class JobRunOut(_Out):
    table: str
    version: int = Field(description="Delta version of the commit that wrote the row's day.")
    committed_at: UtcDatetime
    operation: str
    run_id: str | None = Field(description="The gold run's id (null: an unstamped commit).")
    job: str | None
    days: str | None = Field(description="'all' or '<first>/<last>': the days the run wrote.")


class ModelOut(_Out):
    version: str = Field(description="The model version the row is stamped with.")
    created_at: UtcDatetime | None = None
    training_window: Row | None = Field(default=None, description="Table, first/last day.")
    metrics: dict[str, float] = Field(default_factory=dict)
    params: Row = Field(default_factory=dict)


class LineageQueryOut(_Out):
    asset_id: str
    ts: UtcDatetime
    measure: str
    resolution: str | None


class LineageOut(_Out):
    query: LineageQueryOut
    value: Any = Field(description="The served value of the measure (null: not served).")
    served: Row | None
    served_table: str | None
    gold_table: str | None
    gold: Row | None
    run: JobRunOut | None
    silver: list[SilverRecordOut]
    envelopes: list[EnvelopeOut]
    quarantine: list[QuarantinedOut]
    model: ModelOut | None
    inputs: list[Row] = Field(description="Inputs traced in their own right (same shape).")
    checks: dict[str, bool] = Field(description="Whether silver now rebuilds the gold row.")
    notes: list[str]


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def _plain(value: Any) -> Any:
    """JSON-ready: decimals (on-chain amounts) as text, exactly."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, decimal.Decimal) else value


def _answer(settings: Settings, store: ServingStore, query: tuple[Any, ...]) -> Row:
    # Imported here: the lake readers take seconds to import, paid by this route only.
    from pipelines.lineage import LineageQuery, layers_of, trace

    answer = trace(layers_of(settings, store), LineageQuery(*query))
    plain: Row = _plain(answer.to_dict())
    return plain


@router.get(
    "/lineage",
    response_model=LineageOut,
    responses={
        status.HTTP_404_NOT_FOUND: {
            **ASSET_NOT_FOUND[status.HTTP_404_NOT_FOUND],
            "description": "Unknown asset, or nothing about that measure at that time.",
        },
        **TIER_REQUIRED,
    },
    dependencies=[LINEAGE_GATE],
    summary="Provenance of one served number",
)
async def get_lineage(
    request: Request,
    store: StoreDep,
    asset: Annotated[str, Query(min_length=1, max_length=64, examples=["btc"])],
    ts: Annotated[UtcDatetime, Query(description="The served row's time (UTC).")],
    measure: Annotated[
        Measure,
        Query(
            description="A bar's open/high/low/close/volume (with resolution; without, the 1d "
            "bar's, but close: the daily feature), a feature, an on-chain metric, prediction "
            "(ts: the target date) or risk_score (ts: calculated_at).",
        ),
    ],
    resolution: Annotated[
        GoldResolution | None,
        Query(description="A bar's resolution (1w bars are sums of 1d bars: ask for those)."),
    ] = None,
) -> Response:
    """The chain behind the number: served row, gold row and its run, silver records, bronze
    lines, raw envelopes, model version and window, quarantined records (docs/api.md)."""
    from pipelines.lineage import LineageQueryError

    query = (asset, ts.astimezone(dt.UTC), measure, resolution)
    try:
        body = await run_in_threadpool(_answer, _settings(request), store, query)
    except LineageQueryError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            detail=[{"loc": ["query", error.field], "msg": str(error), "type": "value_error"}],
        ) from error
    return json_response(body)
