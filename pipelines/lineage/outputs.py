"""Lineage of model outputs: a prediction (``gold/predictions``) and a risk score
(``gold/risk_scores``), with the model version each row is stamped with.

A prediction's ``model_version`` is ``name@version`` of the model registry
(:mod:`models.registry`): the answer gives the version's manifest (created, metrics,
parameters) and its training window, the ``observations`` daily closes of ``gold/ohlcv_1d``
through the day the artefact says it was ``fitted_through``; the last of those closes is traced
in ``inputs``. A risk score is rule-based (no registry artefact): its window is the daily bars
of the lookback ending on its as-of day, whose bar is traced in ``inputs``.

Asked by time: a prediction by its target date (the newest run's point for that date, the
shorter horizon first), a risk score by its ``calculated_at`` (the end of its as-of day).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from models.registry import ModelRegistry, ModelVersion
from models.risk.batch import RISK_TABLE
from models.risk.market import LOOKBACK_DAYS
from pipelines.contracts.served import RISK_SCORES
from pipelines.lineage.answer import Lineage, LineageQuery, ModelRef, Row
from pipelines.lineage.bars import daily_close
from pipelines.lineage.layers import Layers, is_, on_day

#: ``models.forecast.batch.PREDICTIONS_TABLE``, not imported: that module imports torch.
PREDICTIONS_TABLE = "predictions"
_DAY = pa.date32()
_ARTEFACT = "model.json"


def trace_model_output(layers: Layers, query: LineageQuery) -> Lineage:
    if query.measure == "prediction":
        return _prediction(layers, query)
    return _risk_score(layers, query)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _prediction(layers: Layers, query: LineageQuery) -> Lineage:
    answer = Lineage(query)
    answer.served_table = "predictions"
    answer.gold_table = f"gold/{PREDICTIONS_TABLE}"
    target = query.ts.date()
    where = is_("asset_id", query.asset_id) & on_day("target_date", target)
    points = layers.rows("gold", PREDICTIONS_TABLE, where)
    if not points:
        return answer
    # the newest run's point, the shorter horizon first (as the API serves them)
    answer.gold = max(points, key=lambda r: (r["generated_at"], -r["horizon_days"]))
    keys = ("generated_at", "model_version", "target_date")
    served = layers.store.latest_predictions(query.asset_id, answer.gold["horizon_days"])
    answer.served = next(
        (row for row in served.to_pylist() if all(row[k] == answer.gold[k] for k in keys)), None
    )
    answer.value = answer.gold["value"] if answer.served is None else answer.served["value"]
    if answer.served is None:
        answer.notes.append("gold holds this point; the store serves another run (not loaded)")
    answer.model = _registered(layers, query.asset_id, str(answer.gold["model_version"]))
    window = answer.model.training_window or {}
    if isinstance(window.get("last"), dt.date):
        answer.inputs.append(daily_close(layers, query.asset_id, window["last"]))
    return answer


def _registered(layers: Layers, asset_id: str, label: str) -> ModelRef:
    """The registry's version behind ``label`` (``name@version``), with its window."""
    name, _, version = label.partition("@")
    registry = ModelRegistry(layers.objects)
    found: ModelVersion | None = (
        next((v for v in registry.versions(name) if v.version == version), None)
        if name and version
        else None
    )
    if found is None:
        return ModelRef(label)
    artefact: dict[str, Any] = {}
    if _ARTEFACT in found.files:
        artefact = json.loads(registry.load(found, _ARTEFACT))
    return ModelRef(
        label, found.created_at, _window(layers, asset_id, artefact), found.metrics, found.params
    )


def _window(layers: Layers, asset_id: str, artefact: dict[str, Any]) -> dict[str, Any] | None:
    """The daily bars a forecaster was fitted on: its ``observations`` closes of
    ``gold/ohlcv_1d`` through ``fitted_through``."""
    through, count = artefact.get("fitted_through"), artefact.get("observations")
    if not isinstance(through, str) or not isinstance(count, int) or count < 1:
        return None
    return _daily_window(layers, asset_id, dt.date.fromisoformat(through), count=count)


def _daily_window(
    layers: Layers,
    asset_id: str,
    last: dt.date,
    *,
    count: int | None = None,
    after: dt.date | None = None,
) -> dict[str, Any]:
    """The asset's ``gold/ohlcv_1d`` days through ``last``: the last ``count`` of them, or
    those after ``after``."""
    rows = layers.rows("gold", "ohlcv_1d", is_("asset_id", asset_id))
    days = sorted(
        r["date"] for r in rows if r["date"] <= last and (after is None or r["date"] > after)
    )
    if count is not None:
        days = days[-count:]
    return {
        "table": "gold/ohlcv_1d",
        "first": days[0] if days else None,
        "last": last,
        "observations": len(days) if count is None else count,
    }


def _risk_score(layers: Layers, query: LineageQuery) -> Lineage:
    answer = Lineage(query)
    answer.served_table = RISK_SCORES.name
    latest = [
        row
        for row in layers.store.latest_risk_scores().to_pylist()
        if row["asset_id"] == query.asset_id
    ]
    served: list[Row] = []
    if latest:
        key = {"asset_id": query.asset_id, "model_version": latest[0]["model_version"]}
        start = _midnight(query.ts.date())
        served = layers.store.series(
            RISK_SCORES, key, start, start + dt.timedelta(days=1)
        ).to_pylist()
    if not served:
        return answer
    answer.served = served[-1]
    answer.value = answer.served["composite_score"]
    as_of = answer.served["calculated_at"].date() - dt.timedelta(days=1)
    answer.gold_table = f"gold/{RISK_TABLE}"
    gold = layers.rows("gold", RISK_TABLE, is_("asset_id", query.asset_id) & on_day("date", as_of))
    answer.gold = next(
        (row for row in gold if row["model_version"] == answer.served["model_version"]), None
    )
    # the bars the scores read: the lookback's daily bars through the as-of day
    window = _daily_window(
        layers, query.asset_id, as_of, after=as_of - dt.timedelta(days=LOOKBACK_DAYS)
    )
    answer.model = ModelRef(str(answer.served["model_version"]), training_window=window)
    answer.inputs.append(daily_close(layers, query.asset_id, as_of))
    return answer
