"""Asset jobs that fail on purpose, for the worker-process tests: a module of their own, light
to import, since each worker process imports the module that defines the job it runs."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from models.forecast.batch import AssetForecast, AssetJob


@dataclass(frozen=True)
class FailingJob(AssetJob):
    """Raises for histories of the sizes in ``fail``; fits nothing (histories are short)."""

    fail: tuple[int, ...] = ()
    driver: int = 0  # this process's id: it sleeps a little per asset so workers get some

    def run(self, dates, closes, pegged, order=None, extra=None):  # type: ignore[no-untyped-def]
        if os.getpid() == self.driver:
            time.sleep(0.2)
        if closes.size in self.fail:
            raise ValueError(f"no fit for {closes.size} closes")
        return super().run(dates, closes, pegged, order, extra)


@dataclass(frozen=True)
class CrashingJob(AssetJob):
    """Kills the worker process that runs it; in the driver, a slow no-op."""

    driver: int = 0

    def run(self, dates, closes, pegged, order=None, extra=None):  # type: ignore[no-untyped-def]
        if os.getpid() != self.driver:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        return AssetForecast(self.model, closes.size, None, None, {})
