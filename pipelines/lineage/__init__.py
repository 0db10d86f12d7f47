"""Provenance of every served number: for an asset, a time and a measure, the served row, the
gold row and the run that wrote it, the silver records with their ``ingest_id``s, the bronze
object and line of each, the raw envelopes as fetched, and for model outputs the model version
and its training window; quarantined records about the same asset and time, with their reasons.

Nothing is copied for lineage's sake: each layer already keeps the key of the one below
(served rows are gold rows by key, silver rows keep ``bronze_file`` and ``ingest_id``), gold
commits are stamped with their run (:mod:`pipelines.contracts.lineage`), and how gold built a
row is gold's deterministic rule, applied again here (:mod:`pipelines.lineage.bars`).

:func:`trace` answers from an open store and the lake; :func:`lineage` opens both from the
settings (for notebooks). ``GET /lineage`` serves the same answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pipelines.contracts.lineage import BAR_MEASURES, LINEAGE_MEASURES, MODEL_MEASURES
from pipelines.contracts.measures import FEATURE_MEASURES, ONCHAIN_METRICS
from pipelines.core.errors import NotFoundError
from pipelines.core.settings import Settings, get_settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.lineage.answer import Lineage, LineageQuery, LineageQueryError
from pipelines.lineage.bars import trace_bar
from pipelines.lineage.daily import DERIVED_ONCHAIN, trace_feature, trace_onchain
from pipelines.lineage.layers import Layers
from pipelines.lineage.outputs import trace_model_output
from pipelines.lineage.quarantined import quarantined
from pipelines.reference import load_assets
from pipelines.serving import open_store
from pipelines.serving.store import ServingStore

__all__ = ["MEASURES", "Lineage", "LineageQuery", "LineageQueryError", "lineage", "trace"]

Tracer = Callable[[Layers, LineageQuery], Lineage]

#: Every measure but a bar's, with its tracer and the dataset whose quarantine it searches.
_TRACERS: dict[str, tuple[Tracer, str]] = {
    **{measure: (trace_feature, "prices") for measure in FEATURE_MEASURES},
    **{metric: (trace_onchain, "onchain") for metric in (*ONCHAIN_METRICS, *DERIVED_ONCHAIN)},
    **{measure: (trace_model_output, "prices") for measure in MODEL_MEASURES},
}
MEASURES = LINEAGE_MEASURES


def layers_of(settings: Settings, store: ServingStore) -> Layers:
    """The lake of ``settings`` (read through delta-rs: no Spark) and ``store``."""
    lake = settings.lake
    return Layers(DeltaLake(lake), LakePaths(lake), open_object_store(lake), store, load_assets())


def trace(layers: Layers, query: LineageQuery) -> Lineage:
    """The chain behind one served number. Raises :class:`LineageQueryError` for a question
    that cannot be asked, :class:`NotFoundError` when no layer holds anything about it."""
    if query.measure not in MEASURES:
        raise LineageQueryError(
            "measure", f"unknown measure {query.measure!r}; known: {', '.join(MEASURES)}"
        )
    query = _with_default_resolution(query)
    if query.asset_id not in layers.assets:
        raise NotFoundError(f"unknown asset {query.asset_id!r}")
    ts = query.ts if query.ts.tzinfo else query.ts.replace(tzinfo=dt.UTC)
    query = LineageQuery(query.asset_id, ts.astimezone(dt.UTC), query.measure, query.resolution)
    bar = query.measure in BAR_MEASURES and query.resolution is not None
    tracer, dataset = (trace_bar, "prices") if bar else _TRACERS[query.measure]
    answer = tracer(layers, query)
    answer.quarantine = quarantined(layers, dataset, query.asset_id, query.ts)
    if answer.served is None and answer.gold is None and not answer.silver:
        if not answer.quarantine:
            raise NotFoundError(
                f"nothing about {query.measure} of {query.asset_id} at {query.ts.isoformat()} "
                "in the serving store, gold, silver or the quarantine"
            )
        answer.notes.append("not served: the records about this time were quarantined")
    return answer


def _with_default_resolution(query: LineageQuery) -> LineageQuery:
    """A bar's measure without a resolution is the 1d bar's, but ``close``: the daily feature
    (:data:`pipelines.contracts.lineage.BAR_MEASURES`)."""
    if query.resolution is not None or query.measure not in BAR_MEASURES:
        return query
    if query.measure in FEATURE_MEASURES:
        return query
    return LineageQuery(query.asset_id, query.ts, query.measure, "1d")


def lineage(
    asset_id: str,
    ts: dt.datetime,
    measure: str,
    resolution: str | None = None,
    settings: Settings | None = None,
) -> Lineage:
    """:func:`trace` over the configured lake and serving store (opened read-only), e.g.
    ``lineage("btc", dt.datetime(2026, 3, 1, tzinfo=dt.UTC), "close", "1d")``."""
    settings = settings or get_settings()
    with open_store(settings.serving, read_only=True) as store:
        return trace(layers_of(settings, store), LineageQuery(asset_id, ts, measure, resolution))
