"""Great Expectations 1.x, set up once per process: an ephemeral (in-memory) context, one pandas
datasource with a dataframe asset and a whole-dataframe batch definition per dataset, and one
GX ``ExpectationSuite`` per silver table built from :mod:`pipelines.quality.suites`.

Validating a batch is one ``batch.validate(suite)`` call. Each GX expectation carries the index
of its :class:`~pipelines.quality.suites.Check` in ``meta``, so results map back to our checks
whatever order GX returns them in.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuite
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.registry import get_expectation_impl
from great_expectations.expectations.row_conditions import Column, Condition

from pipelines.core.errors import DataContractError
from pipelines.quality.results import CheckResult
from pipelines.quality.suites import SUITES, Check, DatasetSuite, RowFilter

_META_KEY = "rwa_check"
_SEVERITY = {"error": FailureSeverity.CRITICAL, "warning": FailureSeverity.WARNING}
#: Row-level checks need every failing row's index; the query string GX can also build for
#: each (a Python literal of all indices) is never used, so it is not requested.
ROW_RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 5,
    "return_unexpected_index_query": False,
}
TABLE_RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 5}


def to_expectation(check: Check, position: int) -> Expectation:
    """The GX expectation object for ``check`` (type looked up in GX's registry)."""
    expectation_class = get_expectation_impl(check.expectation)
    options: dict[str, Any] = {
        "meta": {_META_KEY: position},
        "severity": _SEVERITY[check.severity],
    }
    if check.where is not None:
        options["row_condition"] = _condition(check.where)
    expectation: Expectation = expectation_class(**dict(check.kwargs), **options)
    return expectation


def _condition(where: RowFilter) -> Condition:
    column = Column(where.column)
    if len(where.values) == 1:
        condition: Condition = column == where.values[0]
        return condition
    return column.is_in(list(where.values))


def gx_suite(name: str, checks: Sequence[Check]) -> ExpectationSuite:
    suite = ExpectationSuite(name=name)
    for position, check in enumerate(checks):
        suite.add_expectation(to_expectation(check, position))
    return suite


class GxValidator:
    """Holds the GX context and the row-level suites; validates pandas frames."""

    def __init__(self, suites: Iterable[DatasetSuite]) -> None:
        self._context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,  # offline machines; nothing leaves the process
                progress_bars=ProgressBarsConfig(globally=False),
            ),
        )
        # A context is not documented as thread-safe, and the silver datasets run in threads
        # share this validator: it builds a suite or validates a frame one at a time
        # (re-entrant: a table check builds its suite, then validates, under one hold).
        self._lock = threading.RLock()
        datasource = self._context.data_sources.add_pandas("silver")
        self._batches: dict[str, BatchDefinition[Any]] = {}
        self._suites: dict[str, tuple[DatasetSuite, ExpectationSuite]] = {}
        for suite in suites:
            asset = datasource.add_dataframe_asset(suite.dataset)
            self._batches[suite.dataset] = asset.add_batch_definition_whole_dataframe("whole")
            built = self._context.suites.add(gx_suite(suite.name, suite.checks))
            self._suites[suite.dataset] = (suite, built)

    def validate_rows(self, dataset: str, frame: pd.DataFrame) -> list[CheckResult]:
        """Run the dataset's row-level suite on ``frame`` (one GX validation)."""
        suite, built = self._suites[dataset]
        return self._validate(dataset, frame, built, suite.checks, ROW_RESULT_FORMAT)

    def validate_table(
        self, dataset: str, frame: pd.DataFrame, checks: Sequence[Check]
    ) -> list[CheckResult]:
        """Run whole-table ``checks`` (built per call: their bounds depend on the time)."""
        with self._lock:
            built = gx_suite(f"silver.{dataset}.table", checks)
            return self._validate(dataset, frame, built, checks, TABLE_RESULT_FORMAT)

    def _validate(
        self,
        dataset: str,
        frame: pd.DataFrame,
        built: ExpectationSuite,
        checks: Sequence[Check],
        result_format: dict[str, Any],
    ) -> list[CheckResult]:
        with self._lock:
            batch = self._batches[dataset].get_batch(batch_parameters={"dataframe": frame})
            outcome = batch.validate(built, result_format=result_format)
        by_position: dict[int, CheckResult] = {}
        for r in outcome.results:
            position = _check_position(r.expectation_config)
            _raise_if_crashed(checks[position], r.exception_info)
            by_position[position] = CheckResult(checks[position], bool(r.success), dict(r.result))
        return [by_position[p] for p in sorted(by_position)]


@functools.cache
def silver_validator() -> GxValidator:
    """The process's validator of the silver suites. Building a GX context and its suites takes
    about a second (several on a busy machine) and every silver run builds a gate (each Dagster
    silver asset, each backfill): the suites never change within a process, so it is built once."""
    return GxValidator(SUITES.values())


def _check_position(config: ExpectationConfiguration | None) -> int:
    """The index of our check, stored in the expectation's meta when the suite was built."""
    if config is None or not config.meta or _META_KEY not in config.meta:
        raise RuntimeError("a GX result without the check index it was built with")
    return int(config.meta[_META_KEY])


def _raise_if_crashed(check: Check, exception_info: dict[str, Any] | None) -> None:
    """GX records an expectation that could not be computed (a column of the wrong type) as a
    failure with exception info; that is a broken contract, not bad data: say so."""
    # GX keys the info by metric for suite runs, or gives one flat dict.
    infos = [exception_info] if exception_info and "raised_exception" in exception_info else []
    infos += [v for v in (exception_info or {}).values() if isinstance(v, dict)]
    for info in infos:
        if not info.get("raised_exception"):
            continue
        message = str(info.get("exception_message") or "").strip().splitlines()
        raise DataContractError(
            f"quality check {check.expectation} on {', '.join(check.columns)} could not run: "
            f"{message[0] if message else 'unknown error'}"
        )
