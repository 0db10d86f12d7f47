"""A bronze lander in its own process, for crash tests.

Usage: python -m tests.pipelines.kafka.lander_child '<settings overrides as JSON>' KILL_AFTER

The lander runs until idle; with KILL_AFTER > 0 it SIGKILLs itself right after writing its
KILL_AFTER-th bronze object, before that object's batch is committed: the crash window the
exactly-once rule is about. No cleanup, no flush, no leaving the group: a hard crash.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from pipelines.bronze.lander import BronzeLander
from pipelines.core.settings import Settings
from pipelines.lake.objects import open_object_store
from tests.fixtures.kafka import FAST_GROUP


def main(overrides_json: str, kill_after: int) -> None:
    settings = Settings(**json.loads(overrides_json))
    written = 0

    def crash_after_object(key: str) -> None:
        nonlocal written
        written += 1
        if written == kill_after:
            print(f"killing myself after writing {key}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    lander = BronzeLander(
        settings.kafka,
        open_object_store(settings.lake),
        consumer_overrides=FAST_GROUP,
        after_object=crash_after_object,
    )
    report = lander.run(stop_after_idle_s=1.0)
    print(f"finished: {report.landed} landed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
