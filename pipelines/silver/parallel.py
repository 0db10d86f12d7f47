"""Several silver datasets in one run, side by side.

A small micro-batch keeps about one core busy and most of a dataset's time is fixed cost per
job, so one silver run (``rwa silver``, the demo, a backfill) streams several datasets at the
same time, each on a thread of its own: with the Spark engine in one Spark session (concurrent
streaming queries are supported), with the DuckDB engine each on its own DuckDB connection.
Each dataset's stream is independent: its own checkpoint, stream id and Delta application
transactions. What the datasets share is made safe
where it is written: one writer at a time per Delta table
(:func:`pipelines.lake.delta.table_lock`: the quarantine, the ledger, the quarantined objects,
the quality results) and one Great Expectations validation at a time
(:class:`pipelines.quality.validator.GxValidator`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from pipelines.silver.stream import SilverRunReport

LOG = logging.getLogger(__name__)

RunDataset = Callable[[str], SilverRunReport]
#: What a dataset's run ended with: its report, or what it raised.
Outcome = SilverRunReport | Exception


def run_datasets(
    run: RunDataset, datasets: Sequence[str], parallelism: int
) -> dict[str, SilverRunReport]:
    """``run(dataset)`` for each of ``datasets``, at most ``parallelism`` at a time (1: one
    after another, in order, on the calling thread); the reports in the order of ``datasets``.

    A failing dataset stops none of the others: every dataset runs to its end (what each
    committed stays committed, batch by batch, as when it runs alone). Then the first error in
    the order of ``datasets`` is raised as it was raised, with a note per other dataset: its
    report's counts, or its own error (so a rerun redoes only the failed datasets' batches).
    An interrupt (KeyboardInterrupt) cancels the datasets not started yet and is raised once
    the running ones finished."""
    if parallelism <= 1 or len(datasets) <= 1:
        outcomes = [_outcome(run, dataset) for dataset in datasets]
    else:
        with ThreadPoolExecutor(
            max_workers=min(parallelism, len(datasets)), thread_name_prefix="silver"
        ) as pool:
            futures = [pool.submit(_outcome, run, dataset) for dataset in datasets]
            try:
                outcomes = [future.result() for future in futures]
            except BaseException:
                _cancel(futures)
                raise
    return _reports_or_first_error(dict(zip(datasets, outcomes, strict=True)))


def _outcome(run: RunDataset, dataset: str) -> Outcome:
    """The dataset's report, or the error it raised (kept until every dataset is done)."""
    try:
        report = run(dataset)
    except Exception as error:
        LOG.error("silver/%s failed: %s", dataset, error)
        return error
    LOG.info("silver/%s: %s", dataset, describe(report))
    return report


def _cancel(futures: Sequence[Future[Outcome]]) -> None:
    for future in futures:
        future.cancel()


def _reports_or_first_error(outcomes: dict[str, Outcome]) -> dict[str, SilverRunReport]:
    failed = [(dataset, o) for dataset, o in outcomes.items() if isinstance(o, Exception)]
    if not failed:
        return {dataset: o for dataset, o in outcomes.items() if isinstance(o, SilverRunReport)}
    first_dataset, first = failed[0]
    for dataset, outcome in outcomes.items():
        if dataset == first_dataset:
            continue
        said = f"failed too: {outcome}" if isinstance(outcome, Exception) else describe(outcome)
        first.add_note(f"silver/{dataset}: {said}")
    raise first


def describe(report: SilverRunReport) -> str:
    """One line of a dataset's report (its counts)."""
    return (
        f"done: {report.batches} batches, {report.records_in} records in, {report.inserted} "
        f"inserted, {report.updated} updated, {report.quarantined} quarantined"
    )
