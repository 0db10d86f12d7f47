"""Asset checks: the Great Expectations results of each silver run, and freshness.

Each silver asset declares three checks and reports them with every materialization:

* ``quality_gate`` (**blocking**): fails when a micro-batch's broken bronze objects look
  systematic (most objects of the batch, or more than ``RWA_QUALITY_MAX_BROKEN_OBJECTS`` waiting
  in quarantine; nothing of the batch was merged) or an error-level table expectation failed
  (duplicate keys). A failed blocking check stops the assets downstream in the same run.
* ``quarantined_objects`` (warning): fails while bronze objects of the dataset are quarantined
  whole and not replayed (``rwa quarantine``), naming each with its status and reason.
* ``freshness`` (warning): Great Expectations' freshness expectation on the table's newest record.

How recently each asset was materialized is Dagster's freshness policies' job
(:mod:`dagster_project.freshness`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.steps import REPLAYED, ExpectationResult

QUALITY_GATE = "quality_gate"
QUARANTINED_OBJECTS = "quarantined_objects"
FRESHNESS = "freshness"


def silver_check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            QUALITY_GATE,
            asset=key,
            blocking=True,
            description="Great Expectations gate: no systematic failure of bronze objects (most "
            "objects of a batch, or more than RWA_QUALITY_MAX_BROKEN_OBJECTS waiting, refusing "
            "more than RWA_QUALITY_MAX_FAILURE_SHARE), and the table-level error expectations "
            "(unique keys)",
        ),
        dg.AssetCheckSpec(
            QUARANTINED_OBJECTS,
            asset=key,
            description="No bronze object quarantined whole and waiting for an operator "
            "(`rwa quarantine list`; a warning)",
        ),
        dg.AssetCheckSpec(
            FRESHNESS,
            asset=key,
            description="Great Expectations freshness: newest record at most "
            "RWA_QUALITY_FRESHNESS_HOURS old (a warning)",
        ),
    ]


def quality_gate_result(
    refused_batch: str | None,
    failed_expectations: dict[str, int],
    table_results: Sequence[ExpectationResult],
) -> dg.AssetCheckResult:
    """The blocking gate's verdict from one silver run."""
    table_errors = [r for r in table_results if r.severity == "error" and not r.success]
    passed = refused_batch is None and not table_errors
    metadata: dict[str, Any] = {
        "refused_records_by_expectation": dg.MetadataValue.json(failed_expectations),
        "table_expectations": dg.MetadataValue.md(_results_markdown(table_results)),
    }
    if refused_batch is not None:
        metadata["refused_batch"] = dg.MetadataValue.text(refused_batch)
    description = (
        "passed"
        if passed
        else refused_batch or "; ".join(f"{r.rule}: failed" for r in table_errors)
    )
    return dg.AssetCheckResult(
        check_name=QUALITY_GATE,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=description,
    )


def quarantined_objects_result(objects: pa.Table) -> dg.AssetCheckResult:
    """The warning about a dataset's bronze objects quarantined whole (``objects``: its rows of
    ``silver/quarantined_objects``); replayed objects are done and only counted."""
    waiting = objects.filter(pc.field("status") != REPLAYED).to_pylist()
    lines = ["| object | status | reason |", "| --- | --- | --- |"]
    lines += [f"| {o['bronze_file']} | {o['status']} | {o['reason']} |" for o in waiting]
    names = ", ".join(f"{o['bronze_file']} ({o['status']})" for o in waiting)
    return dg.AssetCheckResult(
        check_name=QUARANTINED_OBJECTS,
        passed=not waiting,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "waiting": len(waiting),
            "replayed": objects.num_rows - len(waiting),
            "objects": dg.MetadataValue.md("\n".join(lines) if waiting else "none waiting"),
        },
        description=f"quarantined whole, not replayed: {names}" if waiting else "none waiting",
    )


def freshness_result(table_results: Sequence[ExpectationResult]) -> dg.AssetCheckResult:
    fresh = [r for r in table_results if r.severity == "warning"]
    passed = all(r.success for r in fresh)
    observed = "; ".join(f"{r.rule}: {r.observed_value}" for r in fresh) or "no table yet"
    return dg.AssetCheckResult(
        check_name=FRESHNESS,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"observed": dg.MetadataValue.text(observed)},
    )


def _results_markdown(results: Sequence[ExpectationResult]) -> str:
    if not results:
        return "no table-level results (the table does not exist yet)"
    lines = ["| expectation | severity | ok | observed |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {r.rule} | {r.severity} | {'yes' if r.success else 'NO'} | {r.observed_value} |"
        for r in results
    ]
    return "\n".join(lines)
