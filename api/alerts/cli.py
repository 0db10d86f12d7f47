"""``rwa alerts …``: the alerts worker, registered into ``rwa`` by :mod:`pipelines.cli`.

Heavy imports (SQLAlchemy, httpx) happen when a command runs, so ``rwa --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, argparse.Namespace], int]
AddCommand = Callable[[str, Handler, str], argparse.ArgumentParser]


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _cmd_run(lakehouse: Any, args: argparse.Namespace) -> int:
    from api.accounts.database import OpsDatabase
    from api.accounts.migrate import upgrade
    from api.alerts.evaluation_step import EvaluationStep
    from api.alerts.worker import run_loop, stop_on_signals
    from api.events import stream
    from api.notifications.delivery import DeliveryStep

    settings = lakehouse.settings
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # httpx logs every request's URL at INFO: Telegram's carries the bot token, and webhook
    # URLs often carry one of their own.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    database = OpsDatabase.open(settings.ops_db)
    upgrade(database.engine)
    # Its firings' alert_triggered events reach the Redis stream too (redis transport).
    relay = stream.attach(database.sessions, settings.events)
    # Evaluation first: what it fires is delivered in the same round.
    evaluation = EvaluationStep(
        lambda: _served(settings), database.sessions, settings.notifications.evaluate_seconds
    )
    delivery = DeliveryStep.open(database.sessions, settings.notifications)
    stop = threading.Event()
    interval = args.interval or settings.notifications.poll_seconds
    # Operators (and the alert benchmark) wait for this line before counting on the worker.
    logging.getLogger(__name__).info("alerts worker: running, idle poll %.2f s", interval)
    try:
        with stop_on_signals(stop):
            run_loop([evaluation, delivery], stop, interval, once=args.once)
    finally:
        delivery.close()
        evaluation.close()
        if relay is not None:
            relay.close()
        database.close()
    return 0


def _served(settings: Any) -> Any:
    """The serving store as the API reads it (read-only, its schema checked)."""
    from pipelines.serving import open_store

    store = open_store(settings.serving, read_only=True)
    try:
        store.migrate()  # read-only: only checks that the schema is current
    except BaseException:
        store.close()
        raise
    return store


def add_alert_commands(add: AddCommand) -> None:
    alerts = add(
        "alerts", _cmd_run, "alert rules at work: the worker that evaluates and delivers them"
    )
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="evaluate alert rules and deliver due notifications (webhook, e-mail, Telegram) "
        "until SIGTERM",
        description="Evaluate the alert rules on new served data (and every "
        "RWA_ALERTS_EVALUATE_SECONDS), claim due notifications from the outbox, deliver them "
        "with retries, and repeat; SIGTERM or Ctrl-C stops after the sends in flight are "
        "recorded.",
    )
    run.set_defaults(handler=_cmd_run)
    run.add_argument(
        "--once", action="store_true", help="stop when nothing is due instead of waiting"
    )
    run.add_argument(
        "--interval",
        type=_positive,
        help="seconds to wait when nothing is due (RWA_ALERTS_POLL_SECONDS)",
    )
