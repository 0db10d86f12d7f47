"""The silver step composed on a lakehouse, run in the driver or in an executor process.

:func:`run_silver` streams one dataset (:mod:`pipelines.silver.stream`); :func:`run_silver_all`
streams several side by side (:mod:`pipelines.silver.parallel`).

Executor process
    With the DuckDB engine a silver batch is read, parsed, gated, deduplicated and written by
    the process that runs the stream, so that process's memory follows the batches (bounded by
    ``RWA_SILVER_MAX_BYTES_PER_TRIGGER`` per dataset) and what the allocators keep after them.
    :func:`run_silver_all` therefore runs the datasets in an executor process of their own
    (``RWA_SILVER_EXECUTOR=process``, the default; ``python -m pipelines.silver_run``), as
    Spark runs a batch's work on its executors: the calling process (the demo's, a Dagster
    run's, ``rwa silver``'s: the driver) only sends the settings and the datasets and receives
    the reports, so its memory does not grow with the input, and the executor's memory goes
    back to the system when the run ends instead of staying with the steps after it. The
    executor starts per run (2-3 s of imports on the 2-core machine) and runs the
    datasets exactly as the driver would (same streams, checkpoints, quarantine, ledger); the
    outcome is the same: the reports, or the first error with the others' outcomes in its notes
    (the executor's traceback as its cause). An executor that dies (killed, out of memory, a
    crash in native code) raises :class:`SilverExecutorError`: what each batch committed stays
    committed, and a rerun takes up the rest exactly once, as after any crash. Writers of the
    tables the datasets share take turns across processes (:func:`pipelines.lake.delta.
    table_lock`). ``RWA_SILVER_EXECUTOR=driver`` runs the datasets in the calling process; the
    Spark engine always does (its executors are Spark's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipelines.bronze.mirror import mirror_bronze
from pipelines.contracts.silver import QUARANTINED_OBJECTS
from pipelines.core.errors import RwaError
from pipelines.core.settings import Settings
from pipelines.core.workers import WorkerLostError, WorkerProcess, serve_calls
from pipelines.lake.days import DayRange
from pipelines.lakehouse import Lakehouse
from pipelines.quality.gate import QualityGate
from pipelines.silver.parallel import run_datasets
from pipelines.silver.quarantine import QuarantinedObjects, QuarantineSink
from pipelines.silver.reconciliation import Ledger
from pipelines.silver.registry import SILVER_DATASETS, dataset_spec
from pipelines.silver.spec import DatasetSpec
from pipelines.silver.stream import (
    SilverRunReport,
    SilverStream,
    SilverStreamSettings,
    SilverTargets,
    resolve_engine,
)

#: What the driver sends its executor: the settings, the datasets, the backfill's days.
ExecutorRequest = tuple[Settings, tuple[str, ...], DayRange | None]


class SilverExecutorError(RwaError):
    """The silver executor process exited without answering."""


def run_silver(
    lakehouse: Lakehouse,
    dataset: str,
    after_batch: Callable[[int], None] | None = None,
    gate: QualityGate | None = None,
    backfill: DayRange | None = None,
) -> SilverRunReport:
    """Stream the new bronze objects of ``dataset`` into ``silver/<dataset>`` (availableNow),
    or, with ``backfill``, reprocess every bronze object fetched on those days (see
    :mod:`pipelines.silver.stream`), in this process. Raises DataQualityError when a batch
    refuses too large a share of its records, and DataContractError when the existing table
    conflicts with the declared schema."""
    spec = dataset_spec(dataset, lakehouse.assets)
    checkpoint = spec.checkpoint_name
    if backfill is not None:
        checkpoint = f"backfill_{checkpoint}_{backfill.first}_{backfill.last}"
    stream = silver_stream(lakehouse, spec, checkpoint, gate, after_batch, backfill)
    return stream.run()


def run_silver_all(
    lakehouse: Lakehouse,
    datasets: Sequence[str] = SILVER_DATASETS,
    backfill: DayRange | None = None,
) -> dict[str, SilverRunReport]:
    """:func:`run_silver` for each dataset, sharing one quality gate, up to
    ``RWA_SILVER_PARALLELISM`` datasets at a time, in the executor process or in this one (see
    the module docstring); the reports in the order of ``datasets``. A failing dataset stops
    none of the others; once all are done the first error (in the order of ``datasets``) is
    raised, with the others' outcomes in its notes
    (:func:`pipelines.silver.parallel.run_datasets`)."""
    in_executor = lakehouse.settings.spark.silver_executor == "process"
    if in_executor and silver_engine(lakehouse) == "duckdb":
        return _run_in_executor(lakehouse.settings, tuple(datasets), backfill)
    return _run_here(lakehouse, datasets, backfill)


def _run_here(
    lakehouse: Lakehouse, datasets: Sequence[str], backfill: DayRange | None
) -> dict[str, SilverRunReport]:
    gate = quality_gate(lakehouse)
    if silver_engine(lakehouse) == "spark":
        # Started before the threads: they share the one session.
        _ = lakehouse.spark

    def run(dataset: str) -> SilverRunReport:
        return run_silver(lakehouse, dataset, gate=gate, backfill=backfill)

    return run_datasets(run, datasets, lakehouse.settings.spark.silver_parallelism)


def _run_in_executor(
    settings: Settings, datasets: tuple[str, ...], backfill: DayRange | None
) -> dict[str, SilverRunReport]:
    executor = WorkerProcess(__name__)
    try:
        reports: dict[str, SilverRunReport] = executor.call((settings, datasets, backfill))
    except WorkerLostError as error:
        raise SilverExecutorError(
            f"the silver executor process {executor.pid} ({executor.exit_status()}) ended "
            f"without answering: killed, out of memory, crashed in native code, or an error "
            f"shown on its standard error. What its batches committed stays committed; a rerun "
            f"takes up the rest (RWA_SILVER_EXECUTOR=driver runs silver in this process)"
        ) from error
    except BaseException as error:
        if not isinstance(error, Exception):
            # Interrupted here (the executor answers errors as Exceptions): the executor is
            # interrupted too, as Ctrl-C in a terminal does; it cancels the datasets not started.
            executor.interrupt()
        raise
    finally:
        # The executor has answered, or its running datasets get a minute to end; then it is
        # killed, which the streams survive (each batch commits exactly once).
        executor.stop(timeout=60)
    return reports


def _serve(request: ExecutorRequest) -> dict[str, SilverRunReport]:
    """The executor's side: the datasets run here, as :func:`_run_here` runs them."""
    settings, datasets, backfill = request
    return _run_here(Lakehouse.from_settings(settings), datasets, backfill)


def silver_stream(
    lakehouse: Lakehouse,
    spec: DatasetSpec,
    checkpoint: str,
    gate: QualityGate | None = None,
    after_batch: Callable[[int], None] | None = None,
    backfill: DayRange | None = None,
) -> SilverStream[Any, Any, Any]:
    """The stream of ``spec``'s dataset on ``checkpoint``, on the engine of the settings."""
    paths = lakehouse.paths
    if lakehouse.settings.lake.is_s3:
        mirror_bronze(lakehouse.objects, paths.bronze_local_root, dataset=spec.name)
    targets = SilverTargets(
        bronze_root=paths.bronze_local_root,
        silver_uri=paths.silver(spec.name),
        checkpoint_dir=paths.checkpoint(checkpoint),
        quarantine=QuarantineSink(lakehouse.delta, paths.quarantine),
        ledger=Ledger(lakehouse.delta, paths.reconciliation),
        objects=quarantined_objects(lakehouse),
    )
    settings = lakehouse.settings
    common: dict[str, Any] = {
        "gate": gate or quality_gate(lakehouse),
        "settings": SilverStreamSettings(settings.lake, settings.spark, settings.quality),
        "after_batch": after_batch,
        "backfill": backfill,
    }
    if silver_engine(lakehouse) == "duckdb":
        # Imported here: the DuckDB engine needs no Spark session (nor its start-up).
        from pipelines.quality.duck_gate import DuckQualityGate
        from pipelines.silver.duck_stream import DuckSilverStream

        duck_gate = DuckQualityGate.from_settings(settings.quality, lakehouse.delta, paths)
        return DuckSilverStream(lakehouse.delta, spec, targets, row_gate=duck_gate, **common)
    from pipelines.quality.spark_gate import SparkQualityGate
    from pipelines.silver.spark_stream import SparkSilverStream

    spark_gate = SparkQualityGate.from_settings(settings.quality, lakehouse.delta, paths)
    return SparkSilverStream(
        lakehouse.spark, lakehouse.delta, spec, targets, row_gate=spark_gate, **common
    )


def silver_engine(lakehouse: Lakehouse) -> str:
    """The engine of the silver step, ``duckdb`` or ``spark`` (``RWA_SILVER_ENGINE``)."""
    return resolve_engine(lakehouse.settings.spark, native_delta=lakehouse.delta.native)


def quality_gate(lakehouse: Lakehouse) -> QualityGate:
    """The Great Expectations gate of ``RWA_QUALITY_*``, storing results in the lake."""
    return QualityGate.from_settings(lakehouse.settings.quality, lakehouse.delta, lakehouse.paths)


def quarantined_objects(lakehouse: Lakehouse) -> QuarantinedObjects:
    """The list of bronze objects quarantined whole (``silver/quarantined_objects``)."""
    return QuarantinedObjects(lakehouse.delta, lakehouse.paths.silver(QUARANTINED_OBJECTS.name))


if __name__ == "__main__":
    serve_calls(_serve)
