"""``GET /admin/pipeline``: the pipeline and model status, for admins (403 for anyone else):
the last run and rows of every silver, gold and model table, silver's micro-batch counts, the
quarantine with its reasons, the freshness of each dataset, and each forecasting model's last
retraining with its live accuracy against the naive forecast and its interval coverage."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from api.accounts.principal import Scope
from api.deps import FORBIDDEN, UNAUTHORIZED, admin_only, requires_scope
from api.schemas import UtcDatetime, _Out
from pipelines.core.settings import Settings, get_settings

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(admin_only), requires_scope(Scope.MANAGE_ACCOUNT)],
    responses=UNAUTHORIZED | FORBIDDEN,
)

#: Seconds an answer is kept: reading the Delta logs and the registry takes a while, and the
#: figures change only when a pipeline step runs.
CACHE_SECONDS = 60.0


class TableStatusOut(_Out):
    layer: str = Field(description="silver, gold or models (the tables the models write).")
    table: str
    exists: bool = Field(description="False until a run has written the table.")
    version: int | None = Field(default=None, description="Delta version (one per commit).")
    rows: int | None = None
    last_run: UtcDatetime | None = Field(default=None, description="Time of the last commit.")
    operation: str | None = Field(default=None, description="What the last commit did.")
    newest: Any = Field(default=None, description="Newest day or time the table holds.")
    stale: bool = Field(default=False, description="Newest day more than 3 days old.")


class SilverBatchesOut(_Out):
    dataset: str
    batches: int
    last_batch_at: UtcDatetime | None
    records_in: int
    inserted: int
    quarantined: int


class QuarantineReasonOut(_Out):
    dataset: str | None
    reason: str = Field(description="The reason's first 80 characters.")
    rows: int


class QuarantineOut(_Out):
    total: int
    reasons: list[QuarantineReasonOut]


class ModelStatusOut(_Out):
    model: str
    asset_id: str
    version: str
    retrained_at: UtcDatetime
    why: str
    versions: int = Field(description="Versions in the registry.")
    backtest: dict[str, float] = Field(description="Rolling-origin metrics of the last fit.")
    live_points: int = Field(description="Realised 7-day forecast points, last 28 days.")
    live_mae: float | None
    live_naive_mae: float | None
    live_coverage95: float | None
    degraded: bool


class WeeklyAccuracyOut(_Out):
    week: dt.date
    points: int
    mae_ratio: float | None = Field(description="Forecast MAE / naive MAE (< 1: better).")
    coverage80: float
    coverage95: float


class PipelineStatusOut(_Out):
    generated_at: UtcDatetime
    stale_after_days: int
    tables: list[TableStatusOut]
    silver_batches: list[SilverBatchesOut]
    quarantine: QuarantineOut
    models: list[ModelStatusOut]
    accuracy_by_week: list[WeeklyAccuracyOut]


_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


@router.get("/pipeline", response_model=PipelineStatusOut, summary="Pipeline and model status")
def pipeline_status(request: Request) -> dict[str, Any]:
    """Read from the lake's own records (Delta logs, reconciliation, quarantine, the model
    registry); kept for a minute."""
    settings = _settings(request)
    key = settings.lake.root
    with _lock:
        cached = _cache.get(str(key))
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        # Imported here: the lake readers import PySpark, seconds that only this page pays.
        from api.pipeline_status import read_status

        answer = read_status(settings, dt.datetime.now(dt.UTC))
        _cache[str(key)] = (time.monotonic(), answer)
        return answer
