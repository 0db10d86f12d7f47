"""The silver step's executor process (RWA_SILVER_EXECUTOR=process, the DuckDB engine's
default): the datasets run in a child process and build exactly the lake the driver builds; the
driver gets the reports, or the executor's error with its traceback; a killed executor is an
error, and a rerun completes the lake exactly once -- real DuckDB, real Delta tables, simulated
bronze of every dataset, a real process killed with SIGKILL."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pytest

from pipelines import steps
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings
from pipelines.core.workers import RemoteTraceback, WorkerLostError, WorkerProcess
from pipelines.lakehouse import Lakehouse
from pipelines.silver.registry import SILVER_DATASETS
from pipelines.silver_run import SilverExecutorError
from tests.fixtures.lake import assert_same_tables, lake_of
from tests.pipelines.silver.test_parallel import settings_of, silver_snapshot

EXECUTOR_MODULE = "pipelines.silver_run"


@pytest.fixture(scope="module")
def bronze(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated bronze of every dataset (read-only: each test copies it)."""
    settings = settings_of(tmp_path_factory.mktemp("bronze"))
    steps.land_simulated(Lakehouse.from_settings(settings))
    return Path(settings.lake.root) / "bronze"


def lake_with(bronze: Path, root: Path, executor: str, **overrides: object) -> Settings:
    settings = settings_of(root, silver_engine="duckdb", silver_executor=executor, **overrides)
    shutil.copytree(bronze, Path(settings.lake.root) / "bronze")
    return settings


@pytest.fixture(scope="module")
def in_driver(bronze: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    """The reference: every dataset run in the test's own process."""
    settings = lake_with(bronze, tmp_path_factory.mktemp("driver"), "driver")
    steps.run_silver_all(Lakehouse.from_settings(settings))
    return silver_snapshot(settings)


def executors() -> list[psutil.Process]:
    """This process's silver executors now."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if EXECUTOR_MODULE in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


class ChildWatch:
    """Whether a silver executor ran under this process, seen every 20 ms."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.pids |= {child.pid for child in executors()}

    def __enter__(self) -> ChildWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_the_executor_builds_the_lake_the_driver_builds(
    bronze: Path, in_driver: dict[str, pa.Table], tmp_path: Path
) -> None:
    settings = lake_with(bronze, tmp_path, "process")

    with ChildWatch() as watch:
        reports = steps.run_silver_all(Lakehouse.from_settings(settings))

    assert len(watch.pids) == 1  # one executor for the run, gone when the run returns
    assert not executors()
    assert list(reports) == list(SILVER_DATASETS)
    assert all(report.batches >= 1 for report in reports.values())
    assert_same_tables(silver_snapshot(settings), in_driver)


def test_the_executors_error_is_raised_with_its_traceback(bronze: Path, tmp_path: Path) -> None:
    settings = lake_with(bronze, tmp_path, "process")

    with pytest.raises(ConfigurationError, match="unknown silver dataset 'no-such'") as raised:
        steps.run_silver_all(Lakehouse.from_settings(settings), ["no-such"])

    cause = raised.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "dataset_spec" in str(cause)  # where the executor raised it
    assert not executors()


@pytest.fixture
def first_commit_killed(bronze: Path, tmp_path: Path) -> tuple[Settings, BaseException]:
    """A run whose executor is killed (SIGKILL) right after the ledger's first commit: the
    settings of its lake and what the run raised."""
    # one dataset at a time: the run is far from its end at the first commit
    settings = lake_with(bronze, tmp_path, "process", silver_parallelism=1)
    ledger_log = Path(lake_of(settings)[1].reconciliation) / "_delta_log"
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            steps.run_silver_all(Lakehouse.from_settings(settings))
        except BaseException as error:
            outcome.append(error)

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 300
    while not any(ledger_log.glob("*.json")) and runner.is_alive():
        assert time.monotonic() < deadline, "no batch committed in 300 s"
        time.sleep(0.01)
    for executor in executors():
        executor.kill()
    runner.join(timeout=120)
    assert outcome, "the run finished before its executor was killed"
    return settings, outcome[0]


def test_a_killed_executor_is_an_error_and_a_rerun_completes_the_lake(
    first_commit_killed: tuple[Settings, BaseException], in_driver: dict[str, pa.Table]
) -> None:
    settings, raised = first_commit_killed
    assert isinstance(raised, SilverExecutorError)
    assert "killed by signal 9" in str(raised)
    assert "stays committed" in str(raised)
    assert not executors()

    reports = steps.run_silver_all(Lakehouse.from_settings(settings))

    assert sum(report.batches for report in reports.values()) >= 1
    assert_same_tables(silver_snapshot(settings), in_driver)


def test_a_worker_that_is_gone_does_not_answer() -> None:
    worker = WorkerProcess(EXECUTOR_MODULE)
    worker.stop(kill=True)

    with pytest.raises(WorkerLostError, match="killed by signal 9"):
        worker.call(None)
