"""The long-running alerts worker (``rwa alerts run``): a loop of steps.

A step is a callable that does one pass of its work and returns how much it did (0: nothing
was due). The loop runs its steps in order, pauses ``poll_seconds`` only after a round in
which no step did anything, and ends at the round's end once asked to stop (SIGTERM or
SIGINT: sends in flight finish and are recorded first). The steps are the alert evaluation
(:mod:`api.alerts.evaluation_step`) and the notification delivery.

A step that raises (the database briefly unreachable) is logged and the loop goes on after the
pause: the outbox keeps what was not done.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

logger = logging.getLogger(__name__)

Step = Callable[[], int]


def run_round(steps: Sequence[Step]) -> int:
    """Each step once; the work done in all (a failing step counts none)."""
    done = 0
    for step in steps:
        try:
            done += step()
        except Exception:
            logger.exception("alerts worker: step %r failed", step)
    return done


def run_loop(
    steps: Sequence[Step], stop: threading.Event, poll_seconds: float, once: bool = False
) -> None:
    """Run rounds until ``stop`` is set; ``once``: until a round finds nothing to do."""
    while not stop.is_set():
        done = run_round(steps)
        if done:
            continue
        if once:
            return
        stop.wait(poll_seconds)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM and SIGINT while inside (main thread only)."""

    def handle(signum: int, _frame: object) -> None:
        logger.info("alerts worker: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
