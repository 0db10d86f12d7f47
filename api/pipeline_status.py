"""What the admin's pipeline and model status shows, read from what the lakehouse already
records: each Delta table's last commit (its log) and rows, the quarantine and its reasons, the
newest day each dataset holds, the model registry's latest version per forecasting model (when
and why it was fitted, its backtest metrics), and the live accuracy of the forecasts made.

It reads the lake, not the serving store, so it imports the lake's modules (which import
PySpark: seconds): the route imports this module on first use only, and keeps the answer for a
minute (the figures change when a pipeline step runs, not per request).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from models.forecast.monitor import live_accuracy, weekly_accuracy
from models.registry import ModelRegistry
from pipelines.contracts.gold import (
    ARTICLE_SENTIMENT,
    GOLD_TABLES,
    PREDICTIONS,
    RISK_SCORES,
    SIGNALS,
)
from pipelines.contracts.silver import DATASET_TABLES
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths

#: Tables the models write into gold, beside the gold build's own.
MODEL_TABLES = tuple(table.name for table in (PREDICTIONS, RISK_SCORES, ARTICLE_SENTIMENT, SIGNALS))
#: Their time column, for the freshness of each.
_TIME_COLUMNS = {
    "predictions": "generated_at",
    "risk_scores": "calculated_at",
    "signals": "generated_at",
}
#: A dataset whose newest day is older than this is flagged stale.
STALE_AFTER_DAYS = 3
#: Reasons are free text with the offending value: grouped by their first words.
_REASON_CHARS = 80


def _tables(paths: LakePaths) -> Iterator[tuple[str, str, str]]:
    """(layer, table, uri) of every Delta table a run writes."""
    for dataset in DATASET_TABLES:
        yield "silver", dataset, paths.silver(dataset)
    yield "silver", "quarantine", paths.quarantine
    yield "silver", "reconciliation", paths.reconciliation
    for table in GOLD_TABLES:
        yield "gold", table.name, paths.gold(table.name)
    for name in MODEL_TABLES:
        yield "models", name, paths.gold(name)


def _newest(lake: DeltaLake, uri: str, table: str) -> Any:
    schema = lake.table(uri).schema().to_arrow()
    column = _TIME_COLUMNS.get(table) or next(
        (c for c in ("date", "ts", "processed_at", "fetched_at") if c in schema.names), None
    )
    return None if column is None else lake.max_value(uri, column)


def _as_day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def layer_tables(lake: DeltaLake, paths: LakePaths, today: dt.date) -> list[dict[str, Any]]:
    out = []
    for layer, name, uri in _tables(paths):
        if not lake.exists(uri):
            out.append({"layer": layer, "table": name, "exists": False})
            continue
        commit = lake.table(uri).history(1)[0]
        newest = _newest(lake, uri, name)
        day = _as_day(newest)
        out.append(
            {
                "layer": layer,
                "table": name,
                "exists": True,
                "version": lake.table(uri).version(),
                "rows": lake.count_rows(uri),
                "last_run": dt.datetime.fromtimestamp(commit["timestamp"] / 1000, dt.UTC),
                "operation": commit.get("operation"),
                "newest": newest,
                "stale": day is not None and (today - day).days > STALE_AFTER_DAYS,
            }
        )
    return out


def quarantine(lake: DeltaLake, paths: LakePaths) -> dict[str, Any]:
    if not lake.exists(paths.quarantine):
        return {"total": 0, "reasons": []}
    rows = lake.to_arrow(paths.quarantine, columns=["dataset", "reason"])
    counts = Counter(
        (dataset, (reason or "")[:_REASON_CHARS])
        for dataset, reason in zip(
            rows["dataset"].to_pylist(), rows["reason"].to_pylist(), strict=True
        )
    )
    reasons = [
        {"dataset": dataset, "reason": reason, "rows": n}
        for (dataset, reason), n in counts.most_common()
    ]
    return {"total": rows.num_rows, "reasons": reasons}


def _model_names(registry: ModelRegistry) -> list[str]:
    names = {
        key.removeprefix(f"{registry.prefix}/").split("/", 1)[0]
        for key in registry.store.list(f"{registry.prefix}/")
    }
    return sorted(n for n in names if n)


def models(lake: DeltaLake, paths: LakePaths, registry: ModelRegistry) -> list[dict[str, Any]]:
    live = {a.asset_id: a for a in live_accuracy(lake, paths)}
    out = []
    for name in _model_names(registry):
        latest = registry.latest(name)
        if latest is None:
            continue
        asset_id = name.split("-", 1)[1] if "-" in name else name
        accuracy = live.get(asset_id)
        reselected = latest.params.get("reselected")
        out.append(
            {
                "model": name,
                "asset_id": asset_id,
                "version": latest.label,
                "retrained_at": latest.created_at,
                "why": (
                    "orders re-chosen (weekly retraining, or live accuracy degraded)"
                    if reselected
                    else "scheduled forecast with the registered orders"
                ),
                "versions": len(registry.versions(name)),
                "backtest": latest.metrics,
                "live_points": accuracy.points if accuracy else 0,
                "live_mae": accuracy.mae if accuracy else None,
                "live_naive_mae": accuracy.naive_mae if accuracy else None,
                "live_coverage95": accuracy.coverage95 if accuracy else None,
                "degraded": accuracy.degraded if accuracy else False,
            }
        )
    return out


def read_status(settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """Everything the status page shows, as the ``PipelineStatusOut`` schema serves it."""
    lake, paths = DeltaLake(settings.lake), LakePaths(settings.lake)
    registry = ModelRegistry(open_object_store(settings.lake), "models")
    reconciliation: list[dict[str, Any]] = []
    if lake.exists(paths.reconciliation):
        batches = lake.to_arrow(paths.reconciliation)
        for dataset in sorted({str(d) for d in batches["dataset"].to_pylist()}):
            mine = batches.filter(pc.equal(batches["dataset"], pa.scalar(dataset)))
            reconciliation.append(
                {
                    "dataset": dataset,
                    "batches": mine.num_rows,
                    "last_batch_at": pc.max(mine["processed_at"]).as_py(),
                    "records_in": pc.sum(mine["records_in"]).as_py() or 0,
                    "inserted": pc.sum(mine["inserted"]).as_py() or 0,
                    "quarantined": pc.sum(mine["quarantined"]).as_py() or 0,
                }
            )
    return {
        "generated_at": now,
        "stale_after_days": STALE_AFTER_DAYS,
        "tables": layer_tables(lake, paths, now.date()),
        "silver_batches": reconciliation,
        "quarantine": quarantine(lake, paths),
        "models": models(lake, paths, registry),
        "accuracy_by_week": [
            {
                "week": w.week,
                "points": w.points,
                "mae_ratio": w.mae_ratio,
                "coverage80": w.coverage80,
                "coverage95": w.coverage95,
            }
            for w in weekly_accuracy(lake, paths)
        ],
    }
