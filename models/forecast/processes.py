"""The forecast job's per-asset work spread over the cores of one machine.

:func:`forecast_in_processes` fits assets side by side in this process and in ``processes - 1``
worker processes (``python -m models.forecast.processes``, each on a pair of pipes): every asset
still goes through :meth:`~models.forecast.job.AssetJob.run`, wherever it runs, so the
outcomes are the ones the one-process loop computes, bit for bit (single-threaded BLAS in both;
``tests/models/forecast/test_processes.py`` compares them). The assets are taken largest
history first from one queue: this process takes the next one whenever it has finished one, and
one thread per worker sends the worker its next asset as soon as the worker answers, so a worker
is never more than one asset behind. A worker imports numpy, scipy, pandas and statsmodels
before its first asset (2-4 s on the 2-core machine); this process fits assets meanwhile.

Failures are the loop's: an asset whose fit raises, here or in a worker, raises the same
exception (a worker's with its traceback as its cause), that of the first such asset in the order
of ``inputs``, once every asset has been tried; nothing is registered or written. A worker that
exits without answering (killed, out of memory, a crash in native code) raises
:class:`ForecastWorkerError` naming the asset it was fitting and its exit status. Workers are
stopped before this function returns or raises; one whose parent dies reads the end of its pipe
and exits.

Workers are :class:`pipelines.core.workers.WorkerProcess` (``python -m``, not
``multiprocessing``), as the lander's envelope decoder.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from models.forecast.job import AssetForecast, AssetInput, AssetJob
from pipelines.core.errors import RwaError
from pipelines.core.workers import WorkerLostError, WorkerProcess, serve_calls

Request = tuple[AssetJob, AssetInput]


class ForecastWorkerError(RwaError):
    """A forecasting worker process exited without answering."""


def forecast_in_processes(
    inputs: Sequence[AssetInput], job: AssetJob, processes: int
) -> dict[str, AssetForecast]:
    """:meth:`AssetJob.run` of every input, by this process and ``processes - 1`` workers."""
    queue = deque(sorted(inputs, key=lambda i: -i.closes.size))  # stable: catalogue order
    outcomes: dict[str, AssetForecast | BaseException] = {}
    crashed: list[ForecastWorkerError] = []
    workers = [_Worker() for _ in range(min(processes, len(inputs)) - 1)]
    lock = threading.Lock()

    def next_input() -> AssetInput | None:
        with lock:
            return queue.popleft() if queue and not crashed else None

    def feed(worker: _Worker) -> None:
        while (asset := next_input()) is not None:
            try:
                outcomes[asset.asset_id] = worker.run(job, asset)
            except ForecastWorkerError as error:
                with lock:
                    crashed.append(error)
                return

    threads = [threading.Thread(target=feed, args=(w,), daemon=True) for w in workers]
    finished = False
    try:
        for thread in threads:
            thread.start()
        while (asset := next_input()) is not None:
            try:
                outcomes[asset.asset_id] = job.run(*asset.arguments())
            except Exception as error:
                outcomes[asset.asset_id] = error
        for thread in threads:
            thread.join()
        finished = True
    finally:
        with lock:
            queue.clear()
        for worker in workers:
            worker.stop(kill=bool(crashed) or not finished)
        for thread in threads:
            thread.join()
    if crashed:
        raise crashed[0]
    return _results(inputs, outcomes)


def _results(
    inputs: Sequence[AssetInput], outcomes: dict[str, AssetForecast | BaseException]
) -> dict[str, AssetForecast]:
    """The outcomes, or the exception of the first failed asset in ``inputs``' order (the one
    the loop would have raised)."""
    results: dict[str, AssetForecast] = {}
    for asset in inputs:
        outcome = outcomes[asset.asset_id]
        if isinstance(outcome, BaseException):
            raise outcome
        results[asset.asset_id] = outcome
    return results


class _Worker:
    """One worker process: an asset in, its outcome (or its fit's exception) out."""

    def __init__(self) -> None:
        self.process = WorkerProcess(__name__)

    def run(self, job: AssetJob, asset: AssetInput) -> AssetForecast | BaseException:
        """The asset's forecast, or the exception its fit raised (the worker's traceback as
        its cause)."""
        try:
            result: AssetForecast = self.process.call((job, asset))
        except WorkerLostError as error:
            raise self._crashed(asset.asset_id) from error
        except Exception as failure:
            return failure
        return result

    def _crashed(self, asset_id: str) -> ForecastWorkerError:
        self.process.stop(timeout=10)
        return ForecastWorkerError(
            f"the forecasting worker process {self.process.pid} exited "
            f"({self.process.exit_status()}) while fitting "
            f"{asset_id}, without answering: killed, out of memory, crashed in native code, or "
            f"an error shown on its standard error; nothing was registered or written "
            f"(RWA_FORECAST_PROCESSES=1 fits every asset in this process)"
        )

    def stop(self, *, kill: bool) -> None:
        """Close the pipes (the worker exits after its current asset) or, with ``kill``, kill
        it now; wait for it either way."""
        self.process.stop(kill=kill)


def _fit(request: Request) -> AssetForecast:
    """A worker's fit of one asset."""
    job, asset = request
    return job.run(*asset.arguments())


if __name__ == "__main__":
    serve_calls(_fit)
