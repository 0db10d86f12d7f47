"""The crash test: a real ``rwa alerts run`` is killed (SIGKILL) while a webhook receiver
holds its response, i.e. after the send and before the record. A restarted worker takes the
lapsed claim over and sends again with the same ``webhook-id``: nothing is lost, the receiver
processes one delivery per id (it dedupes on the id, as Standard Webhooks asks), and the
channels whose outcome was recorded before the crash are not sent again. The restarted worker
then stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api.notifications.conftest import FiringMaker
from tests.api.notifications.receivers import Loopback


@pytest.fixture(scope="module")
def ops_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite, the embedded default, only: two worker starts cost ~15 s per backend, and the
    claims' takeover and concurrency are tested on PostgreSQL too (test_claims.py)."""
    return f"sqlite:///{tmp_path_factory.mktemp('ops') / 'ops.db'}"


#: Short, so the restarted worker takes the dead one's claim over quickly.
LEASE_SECONDS = 3
#: Generous waits: a loaded machine starts Python slowly.
WAIT_SECONDS = 120


def wait_for(condition: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {WAIT_SECONDS} s\n{log.read_text()}")


@contextmanager
def worker(env: dict[str, str], workdir: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``rwa alerts run`` in a process of its own (killed at the end if still running)."""
    command = [sys.executable, "-m", "pipelines.cli", "alerts", "run", "--interval", "0.1"]
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(
    firings: FiringMaker,
    ops_db_url: str,
    loopback: Loopback,
    tmp_path: Path,
) -> None:
    webhooks, mail = loopback.webhooks, loopback.mail
    hold, ok = f"{webhooks.url}/hold", f"{webhooks.url}/ok"
    firing_id = firings.enqueued(
        [
            {"type": "webhook", "url": hold},
            {"type": "webhook", "url": ok},
            {"type": "email", "address": "ada@example.com"},
        ]
    )
    loopback.reset(firings.secret(firing_id))
    env = os.environ | {
        "RWA_OPS_DB_URL": ops_db_url,
        "RWA_SMTP_HOST": mail.host,
        "RWA_SMTP_PORT": str(mail.port),
        "RWA_SMTP_STARTTLS": "false",
        "RWA_NOTIFY_ALLOW_PRIVATE_WEBHOOKS": "true",
        "RWA_NOTIFY_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
        # Longer than the hold: the first worker is still waiting when it is killed.
        "RWA_NOTIFY_TIMEOUT_SECONDS": "60",
        "RWA_NOTIFY_BACKOFF_BASE_SECONDS": "0.05",
    }
    log = tmp_path / "worker.log"

    def status(destination: str) -> str:
        return firings.rows(firing_id)[destination].status

    with worker(env, tmp_path, log) as first:
        wait_for(lambda: any(r.path == "/hold" for r in webhooks.requests), "the send", log)
        # The other channels of the firing are recorded meanwhile: the held one holds none.
        wait_for(lambda: status(ok) == "sent" == status("ada@example.com"), "the others", log)
        first.send_signal(signal.SIGKILL)
        first.wait()
    webhooks.release.set()  # the held request now answers a dead connection
    crashed = firings.rows(firing_id)[hold]
    assert (crashed.status, crashed.attempts) == ("sending", 1)  # claimed, sent, unrecorded

    with worker(env, tmp_path, log) as second:
        wait_for(lambda: status(hold) == "sent", "the delivery after the restart", log)
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, log.read_text()

    rows = firings.rows(firing_id)
    assert {row.status for row in rows.values()} == {"sent"}  # nothing lost
    assert rows[hold].attempts == 2
    held = [r for r in webhooks.requests if r.path == "/hold"]
    assert len(held) == 2 and len({r.headers["webhook-id"] for r in held}) == 1
    # One accepted delivery per webhook-id; the channels recorded before the crash got one.
    accepted = webhooks.accepted_ids()
    assert len(accepted) == len(set(accepted)) == 2
    assert len([r for r in webhooks.requests if r.path == "/ok"]) == 1
    assert len(mail.messages) == 1
    output = log.read_text()
    assert "SIGTERM received, stopping" in output
    assert "/hold" not in output  # URLs (which may hold tokens) are not logged
