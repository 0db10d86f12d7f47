"""``rwa``: the command line of the lakehouse.

Every subcommand reads the one settings object (``RWA_*`` environment variables); flags only
override a few settings for one run. Failures end with a one-line reason and a non-zero exit.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from api.accounts.cli import add_account_commands
from api.alerts.cli import add_alert_commands
from api.reports.cli import add_report_commands
from pipelines.core.errors import ConfigurationError, RwaError
from pipelines.core.settings import Settings

if TYPE_CHECKING:
    from pipelines.lakehouse import Lakehouse
    from pipelines.steps import AssetBacktest, GoldRunReport, SilverRunReport

Handler = Callable[["Lakehouse", argparse.Namespace], int]
#: Adds a subcommand: name, handler, help text -> its parser (for its own flags).
AddCommand = Callable[[str, Handler, str], argparse.ArgumentParser]

# The lakehouse and the steps are imported when a command runs: `rwa --help` loads neither
# Spark nor Kafka nor a model library.


def _cmd_demo(lakehouse: Lakehouse, _: argparse.Namespace) -> int:
    from api.accounts.cli import print_demo_key
    from pipelines.demo import run_demo

    run_demo(lakehouse, sys.stdout)
    # The demo (below the API) knows no accounts: the CLI ends it with a key to call the API.
    print_demo_key(lakehouse.settings, sys.stdout)
    return 0


def _cmd_ingest(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines import steps

    # An unknown source or a missing API key fails at once, before any connection is made.
    steps.check_source(lakehouse, args.source)
    stop = _stop_on_sigterm() if args.every is not None else threading.Event()
    with steps.bus_for(lakehouse, args.bus) as bus:
        while True:
            report = steps.ingest(lakehouse, args.source, bus)
            print(f"{args.source} -> {args.bus}: {report.summary()}", flush=True)
            report.raise_for_failures()
            if args.every is None or stop.wait(args.every):
                return 0


def _cmd_land(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import land

    overrides: dict[str, int] = {}
    if args.session_timeout_ms is not None:
        # Kafka's rule of thumb: heartbeat at most a third of the session timeout.
        overrides["session_timeout_ms"] = args.session_timeout_ms
        overrides["heartbeat_interval_ms"] = max(args.session_timeout_ms // 3, 100)
    r = land(
        lakehouse,
        idle_exit_s=args.idle_exit,
        max_records=args.max_records,
        consumer_overrides=overrides,
    )
    print(
        f"landed {r.landed:,} envelopes from Kafka in {r.objects_written:,} new bronze objects "
        f"({r.objects_present:,} objects already present, {r.replayed:,} envelopes replayed), "
        f"{r.dead_letters:,} dead letters to {lakehouse.settings.kafka.dead_letter_topic}, "
        f"{r.consumed:,} records in {r.batches:,} batches ({r.seconds:.1f} s)"
    )
    return 0


def _stop_on_sigterm() -> threading.Event:
    """An event SIGTERM sets: a polling command finishes its cycle and exits cleanly instead of
    dying half way through a cycle."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _cmd_silver(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import run_silver_all

    _print_silver(run_silver_all(lakehouse, _datasets(args)))
    return 0


def _cmd_gold(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import run_gold

    if (args.first is None) != (args.last is None):
        raise ConfigurationError("rwa gold: give both --first and --last, or neither (every day)")
    _print_gold(run_gold(lakehouse, None if args.first is None else (args.first, args.last)))
    return 0


def _cmd_forecast(lakehouse: Lakehouse, _: argparse.Namespace) -> int:
    from pipelines.steps import run_forecast

    r = run_forecast(lakehouse)
    print(f"forecasts: {len(r.forecasts)} assets, {r.rows_written:,} prediction rows")
    for asset_id, metrics in sorted(r.metrics.items()):
        print(
            f"  {asset_id:<24} MASE(7d) {metrics['mase_7d']:.2f} vs naive "
            f"{metrics['naive_mase_7d']:.2f}, 95% coverage {metrics['coverage95_7d']:.0%}"
        )
    for asset_id, why in sorted(r.skipped.items()):
        print(f"  {asset_id:<24} skipped: {why}")
    return 0


def _cmd_backtest(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import run_backtest

    results = run_backtest(lakehouse, args.days, args.assets.split(",") if args.assets else None)
    if not results:
        print(f"no asset has {args.days + 30} daily bars yet")
        return 0
    _print_backtests(results, args.days)
    return 0


def _cmd_signals(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import run_signals

    report = run_signals(lakehouse, args.days)
    print(f"signals: {len(report.backtests)} assets, {report.rows_written} rows into gold/signals")
    for asset_id, why in sorted(report.skipped.items()):
        print(f"  {asset_id:<24} skipped: {why}")
    _print_backtests(report.backtests, args.days)
    return 0


def _print_backtests(results: Sequence[AssetBacktest], days: int) -> None:
    print(f"last {days} days; Sharpe / Sortino annualised (365), MDD = max drawdown")
    head = f"{'return':>8} {'Sharpe':>7} {'Sortino':>8} {'MDD':>7} {'hits':>5}"
    print(f"  {'asset':<24} {'strategy':<14} {head}")
    for result in results:
        for name in ("buy_and_hold", "forecast", "sentiment", "risk"):
            p = getattr(result, name)
            hits = "-" if p.hit_rate is None else f"{p.hit_rate:.0%}"
            print(
                f"  {result.asset_id:<24} {name:<14} {p.total_return:8.2%} {p.sharpe:7.2f} "
                f"{p.sortino:8.2f} {p.max_drawdown:7.2%} {hits:>5}"
            )


def _cmd_sentiment(lakehouse: Lakehouse, _: argparse.Namespace) -> int:
    from pipelines.steps import run_sentiment

    r = run_sentiment(lakehouse)
    print(
        f"sentiment ({r.model_version}): {r.days_scored:,} asset-days scored, "
        f"{r.articles_scored:,} articles scored, {r.articles_reused:,} reused"
    )
    return 0


def _cmd_risk(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import run_risk

    report = run_risk(lakehouse, args.as_of)
    print(f"risk scores as of {report.as_of} ({len(report.scores)} assets, model risk-rules):")
    for score in sorted(report.scores, key=lambda s: (-s.composite, s.asset_id)):
        subs = " ".join(f"{name} {value:>3}" for name, value in score.sub_scores.items())
        top = score.top_factors(1)[0]
        print(f"  {score.asset_id:<24} {score.composite:>3}  ({subs})  top: {top['factor']}")
    if report.without_prices:
        print(f"no daily bars in the window (scored from reference data): {report.without_prices}")
    return 0


def _cmd_backfill(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import backfill, load_serving

    report = backfill(lakehouse, args.first, args.last, _datasets(args))
    print(f"backfill of bronze fetched {report.days}:")
    _print_silver(report.silver)
    if report.gold is None:
        print("gold unchanged: no valid silver record came from those days")
        return 0
    _print_gold(report.gold)
    if not args.no_load:
        loaded = load_serving(lakehouse)
        print(f"serving store ({lakehouse.settings.serving.backend}): {loaded.table_counts}")
        _after_load(lakehouse)
    return 0


def _datasets(args: argparse.Namespace) -> tuple[str, ...]:
    from pipelines.steps import SILVER_DATASETS

    return SILVER_DATASETS if args.dataset == "all" else (args.dataset,)


def _print_silver(reports: Mapping[str, SilverRunReport]) -> None:
    for dataset, r in reports.items():
        print(
            f"silver {dataset}: {r.bronze_lines:,} bronze lines, {r.records_in:,} records in, "
            f"{r.inserted:,} inserted, {r.updated:,} updated, {r.duplicates_removed:,} "
            f"duplicates removed, {r.quarantined:,} quarantined in {r.batches} micro-batches "
            f"({r.seconds:.1f} s)"
        )


def _print_gold(report: GoldRunReport) -> None:
    span = "every day" if report.days is None else str(report.days)
    rows = ", ".join(f"{table}: {n:,} rows" for table, n in report.rows.items())
    print(f"gold ({span}) {rows} ({report.seconds:.1f} s)")
    for table, why in report.skipped.items():
        print(f"gold {table} skipped: {why}")


def _cmd_load(lakehouse: Lakehouse, _: argparse.Namespace) -> int:
    from pipelines.steps import load_serving

    report = load_serving(lakehouse)
    print(f"serving store ({lakehouse.settings.serving.backend}): {report.table_counts}")
    _after_load(lakehouse)
    return 0


def _after_load(lakehouse: Lakehouse) -> None:
    """Price and portfolio updates and alert evaluation on what the load served."""
    from api.after_load import after_serving_load

    print(after_serving_load(lakehouse.settings).summary())


def _cmd_serve(lakehouse: Lakehouse, _: argparse.Namespace) -> int:
    # The CLI is the one entry point above the API: `rwa serve` starts its process.
    from api.accounts.tokens import signing_key
    from api.main import open_read_only
    from api.server import run

    # A store that cannot serve, or production without a signing key, fails here in one
    # line, not as a traceback from the server.
    settings = lakehouse.settings
    signing_key(settings.auth, settings.orchestration.deployment)
    open_read_only(settings.serving).close()
    run(settings.api, settings.serving)
    return 0


def _cmd_assets(lakehouse: Lakehouse, _: argparse.Namespace) -> int:
    catalog = lakehouse.catalog
    print(f"reference data version {catalog.version} (as of {catalog.as_of})")
    for asset in catalog.assets:
        print(f"  {asset.asset_id:<14} {asset.symbol:<10} {asset.asset_class:<20} {asset.name}")
    return 0


def _cmd_db_migrate(lakehouse: Lakehouse, _: argparse.Namespace) -> int:
    from api.accounts.cli import migrate_ops_db
    from pipelines.steps import migrate_serving

    tables = migrate_serving(lakehouse)
    print(f"{lakehouse.settings.serving.backend}: schema up to date; tables {tables}")
    revision = migrate_ops_db(lakehouse.settings)
    print(f"operational database: schema at revision {revision}")
    return 0


def _cmd_quality(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines import steps

    print(steps.quality_summary(lakehouse, args.dataset))
    waiting = steps.waiting_objects(lakehouse, args.dataset)
    if waiting.num_rows:
        print("\nWARNING: bronze objects quarantined whole, not replayed (rwa quarantine):")
        print(steps.describe_objects(waiting))
    return 0


def _cmd_quarantine(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines import steps

    if args.action == "list":
        rows = steps.quarantined_objects(lakehouse).rows(args.dataset)
        print(steps.describe_objects(rows))
    elif args.action == "set-aside":
        status = steps.set_aside_object(lakehouse, args.object, args.note)
        print(f"{args.object}: {status}")
    else:
        report = steps.replay_object(lakehouse, args.object)
        if report.silver is None:
            print(f"{args.object}: already {report.status_before}, nothing to replay")
        else:
            _print_silver({report.silver.dataset: report.silver})
            print(f"{args.object}: replayed")
    return 0


def _cmd_maintain(lakehouse: Lakehouse, args: argparse.Namespace) -> int:
    from pipelines.steps import maintain

    report = maintain(lakehouse, retention_hours=args.retention_hours, dry_run=args.dry_run)
    verb = "would vacuum" if report.dry_run else "vacuumed"
    for table in report.tables:
        print(
            f"{table.uri}: v{table.version_before} -> v{table.version_after}, files "
            f"{table.files_before} -> {table.files_after} ({table.files_compacted} compacted), "
            f"{verb} {table.files_vacuumed}, {table.rows} rows, {table.seconds:.1f} s"
        )
    print(
        f"{len(report.tables)} tables; vacuum retention {report.retention_hours} h "
        f"(time travel works for versions inside it)"
    )
    return 0


def _add_dataset_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=["all", "prices", "onchain", "economic", "news"],
        default="all",
        help="silver dataset to process (default: all, in that order)",
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from error


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def _add_simulation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, help="days to simulate (RWA_SIM_DAYS)")
    parser.add_argument("--end", type=_date, help="exclusive last day, YYYY-MM-DD (RWA_SIM_END)")
    parser.add_argument("--seed", type=int, help="simulation seed (RWA_SIM_SEED)")
    parser.add_argument(
        "--frequency", choices=["1m", "5m", "15m", "1h"], help="bar frequency (RWA_SIM_FREQUENCY)"
    )
    parser.add_argument(
        "--assets", type=lambda s: s.split(","), help="comma-separated asset ids (RWA_SIM_ASSETS)"
    )


#: flag name -> settings field it overrides
_OVERRIDES = {
    "days": "sim_days",
    "end": "sim_end",
    "seed": "sim_seed",
    "frequency": "sim_frequency",
    "assets": "sim_assets",
    "host": "api_host",
    "port": "api_port",
    "workers": "api_workers",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rwa",
        description="Data lakehouse for tokenized real-world assets and crypto markets.",
        epilog="Settings come from RWA_* environment variables (see the README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    _add_simulation_flags(
        add("demo", _cmd_demo, "whole pipeline: simulate -> bronze -> silver -> gold -> serving")
    )
    _add_ingest_commands(add)
    _add_layer_commands(add)
    _add_model_commands(add)
    _add_backfill_and_serving_commands(add)
    _add_admin_commands(add)
    return parser


def _add_ingest_commands(add: AddCommand) -> None:
    ingest = add(
        "ingest",
        _cmd_ingest,
        "fetch raw responses from a source and land them in bronze, directly or through Kafka",
    )
    ingest.add_argument(
        "--source",
        default="simulated",
        help="registered source: simulated (default), coingecko, defillama, fred, worldbank, "
        "news, ...; an unknown name lists them",
    )
    ingest.add_argument(
        "--bus",
        choices=["direct", "kafka"],
        default="direct",
        help="direct: land in bronze now (default); kafka: publish to the raw topics, for "
        "`rwa land`",
    )
    ingest.add_argument(
        "--every",
        type=_positive_float,
        metavar="SECONDS",
        help="repeat every SECONDS until stopped",
    )
    _add_simulation_flags(ingest)
    land = add("land", _cmd_land, "land raw envelopes from Kafka in bronze, exactly once")
    land.add_argument(
        "--idle-exit",
        type=_positive_float,
        metavar="SECONDS",
        help="flush and exit after SECONDS with no new record (default: run until SIGTERM)",
    )
    land.add_argument(
        "--max-records", type=int, metavar="N", help="flush and exit after consuming N records"
    )
    land.add_argument(
        "--session-timeout-ms",
        type=int,
        metavar="MS",
        help="consumer-group session timeout (default 10000): how soon a dead lander's "
        "partitions move to another member",
    )


def _add_layer_commands(add: AddCommand) -> None:
    silver = add("silver", _cmd_silver, "stream new bronze objects into silver (availableNow)")
    _add_dataset_option(silver)
    gold = add(
        "gold", _cmd_gold, "build gold (OHLCV 1m-1d, features, on-chain, macro, news) from silver"
    )
    gold.add_argument("--first", type=_date, help="first day to rebuild, YYYY-MM-DD (inclusive)")
    gold.add_argument("--last", type=_date, help="last day to rebuild, YYYY-MM-DD (inclusive)")


def _add_model_commands(add: AddCommand) -> None:
    add("forecast", _cmd_forecast, "forecast 7 and 30 days ahead with 80 and 95 percent intervals")
    backtest = add(
        "backtest",
        _cmd_backtest,
        "backtest forecast, sentiment and risk signals against buy-and-hold",
    )
    backtest.add_argument("--days", type=int, default=60, help="days to trade (default 60)")
    backtest.add_argument("--assets", help="asset ids, comma-separated (default: all)")
    signals = add(
        "signals", _cmd_signals, "the backtest's signals of every asset into gold (served)"
    )
    signals.add_argument("--days", type=int, default=60, help="days to trade (default 60)")
    add("sentiment", _cmd_sentiment, "score the news of unscored asset-days into gold")
    risk = add("risk", _cmd_risk, "score every asset's risk (1-100 and sub-scores) into gold")
    risk.add_argument("--as-of", type=_date, help="day to score (default: latest daily bar)")


def _add_backfill_and_serving_commands(add: AddCommand) -> None:
    backfill = add(
        "backfill",
        _cmd_backfill,
        "reprocess the bronze objects fetched on a range of days into silver, rebuild the gold "
        "days they touch, and reload the serving store",
    )
    backfill.add_argument("--first", type=_date, required=True, help="first fetch day, YYYY-MM-DD")
    backfill.add_argument("--last", type=_date, required=True, help="last fetch day (inclusive)")
    _add_dataset_option(backfill)
    backfill.add_argument(
        "--no-load", action="store_true", help="do not reload the serving store afterwards"
    )
    add(
        "load",
        _cmd_load,
        "upsert reference assets and gold tables into the serving store, then evaluate alerts",
    )
    serve = add("serve", _cmd_serve, "start the analytics API (uvicorn)")
    serve.add_argument("--host", help="bind address (RWA_API_HOST)")
    serve.add_argument("--port", type=int, help="port (RWA_API_PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        help="worker processes (RWA_API_WORKERS); rate limits hold across them only with "
        "RWA_RATE_LIMIT_STORAGE=redis://...",
    )
    add("assets", _cmd_assets, "list the reference assets")


def _add_admin_commands(add: AddCommand) -> None:
    quality = add(
        "quality", _cmd_quality, "show the latest data-quality results of each silver dataset"
    )
    quality.add_argument(
        "--dataset", choices=["prices", "onchain", "economic", "news"], help="only this dataset"
    )
    quarantine = add(
        "quarantine",
        _cmd_quarantine,
        "list the bronze objects silver quarantined whole, set one aside, or replay it",
    )
    actions = quarantine.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="objects quarantined whole, with status, counts and reason"
    )
    listing.add_argument(
        "--dataset", choices=["prices", "onchain", "economic", "news"], help="only this dataset"
    )
    set_aside = actions.add_parser(
        "set-aside", help="stop judging an object: silver quarantines it whole and goes on"
    )
    set_aside.add_argument("object", help="bronze object key, as `rwa quarantine list` shows it")
    set_aside.add_argument("--note", default="", help="why (kept with the object)")
    replay = actions.add_parser(
        "replay", help="take a quarantined object into silver now (after a fix), exactly once"
    )
    replay.add_argument("object", help="bronze object key, as `rwa quarantine list` shows it")
    maintain = add(
        "maintain", _cmd_maintain, "compact, checkpoint and vacuum every silver and gold table"
    )
    maintain.add_argument(
        "--retention-hours",
        type=int,
        metavar="H",
        help="vacuum files removed more than H hours ago (RWA_MAINTAIN_VACUUM_RETENTION_HOURS)",
    )
    maintain.add_argument(
        "--dry-run", action="store_true", help="only list what vacuum would delete"
    )
    db = add("db", _cmd_db_migrate, "serving-store and operational-database administration")
    db.add_argument("action", choices=["migrate"], help="migrate: create/upgrade both schemas")
    add_account_commands(add)
    add_alert_commands(add)
    add_report_commands(add)


def _settings_for(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        field: getattr(args, flag)
        for flag, field in _OVERRIDES.items()
        if getattr(args, flag, None) is not None
    }
    return Settings(**overrides)  # init arguments take precedence over RWA_* variables


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipelines.lakehouse import Lakehouse

    try:
        lakehouse = Lakehouse.from_settings(_settings_for(args))
        handler: Handler = args.handler
        return handler(lakehouse, args)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        print(f"rwa: error: setting RWA_{field.upper()}: {problem['msg']}", file=sys.stderr)
    except RwaError as error:
        print(f"rwa: error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("rwa: interrupted", file=sys.stderr)
        return 130
    return 2


def run() -> NoReturn:
    """The ``rwa`` process: :func:`main`, then Spark shut down and the process ended without
    interpreter teardown. Callers of :func:`main` inside a process of their own (tests,
    notebooks) keep their Spark session."""
    try:
        code = main()
    except SystemExit as stop:  # argparse's usage errors and --help
        code = _exit_code(stop)
    except BaseException:  # the traceback is printed here, teardown being skipped below
        traceback.print_exc()
        code = 1
    finally:
        _stop_spark()
    _exit_now(code)


def _exit_code(stop: SystemExit) -> int:
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    print(stop.code, file=sys.stderr)
    return 1


def _exit_now(code: int) -> NoReturn:
    """End the process once output is flushed, skipping interpreter teardown: Arrow's and
    delta-rs' native thread pools still alive then abort the process now and again
    (``terminate called without an active exception``, SIGABRT after the work was done;
    apache/arrow#34314, delta-io/delta-rs#2184)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to deliver
            stream.flush()
    os._exit(code)


def _stop_spark() -> None:
    """Shut the JVM down before the interpreter exits: left to interpreter teardown, its
    threads have aborted the process once in a while (SIGABRT after the work was done)."""
    if "pyspark" not in sys.modules:  # the command never started Spark
        return
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


if __name__ == "__main__":
    run()
