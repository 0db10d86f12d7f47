"""Benchmark: raw envelopes from the producer through Kafka and the lander into bronze, beside a
bare kafka-python consume-and-write loop on the same broker in the same run.

Starts the local broker (Tansu, via ``infra/local/kafka.sh install``) on a free port unless
``--bootstrap`` names one, simulates envelopes, and measures on the same topics:

* **publish**: ``EnvelopePublisher.publish_all`` (acks=all, idempotent, compressed, keyed),
  alone;
* **lander**: ``BronzeLander`` from the filled topics: decode and validate every envelope,
  split batches by bronze partition, write objects (fsync + atomic link) and batch manifests,
  commit offsets after each batch; timed from its first record to its last commit;
* **baseline**: one kafka-python ``KafkaConsumer`` (the lander's client) in its own group
  reading the same topics and appending each raw value to one file per partition, with a
  single commit at the end: no validation, no fsync, no per-batch bookkeeping; timed the same
  way;
* **end to end**: a fresh lander group running while the producer publishes, from the first
  send until everything is landed and committed (the lander is stopped once it has consumed
  every record, which flushes what it holds).

Prints records/s (and MB/s of envelope JSON) for each, and the ratio lander / baseline. By
default two sizes are measured in turn, each on its own broker: 90 days (7,114 envelopes, the
size of sessions 1-12's figures, where the bare consumer runs for about a fifth of a second, so
single runs swing 2x) and 540 days (about 43k envelopes), where it runs for a second or more;
the ratio of each size comes from its own run. The load average is printed at start and end,
and the CPU time of the lander (its process, and its worker processes) and of the baseline.
Usage:
    .venv/bin/python bench/kafka_to_bronze.py [--days 90 540] [--assets 27]
        [--bootstrap host:port] [--profile lander.prof] [--no-end-to-end]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import os
import platform
import pstats
import resource
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kafka
from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata

from pipelines import steps
from pipelines.bronze.lander import BronzeLander, LanderReport
from pipelines.contracts.envelope import RawEnvelope
from pipelines.core.settings import Settings
from pipelines.kafka.client import client_config, compression_codec
from pipelines.kafka.producer import EnvelopePublisher
from pipelines.kafka.topics import ensure_topics, raw_topics
from pipelines.lake.objects import open_object_store
from pipelines.lakehouse import Lakehouse
from pipelines.reference import load_assets

REPO = Path(__file__).resolve().parents[1]
GROUP_TIMING = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}
#: The sizes measured by default: 90 days, the figures of sessions 1-12 (the bare consumer's
#: run is about a fifth of a second there, so single runs swing 2x), and 540 days, where it
#: runs for a second or more.
DEFAULT_DAYS = [90, 540]


@contextlib.contextmanager
def local_broker(log: Path) -> Iterator[str]:
    """A Tansu broker on a free loopback port (memory storage), stopped afterwards."""
    binary = subprocess.run(
        ["bash", str(REPO / "infra/local/kafka.sh"), "install"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(150):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def simulate(settings: Settings) -> list[RawEnvelope]:
    source = steps.simulated_source(Lakehouse.from_settings(settings))
    return list(source.collect(source.window))


@dataclass(frozen=True)
class Cpu:
    """CPU seconds (user + system) of this process and of its reaped children, and the system
    (kernel) part of this process's."""

    own: float
    children: float
    own_system: float

    @classmethod
    def now(cls) -> Cpu:
        own, children = (
            resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        return cls(own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime, own.ru_stime)

    def since(self, start: Cpu) -> Cpu:
        return Cpu(
            self.own - start.own,
            self.children - start.children,
            self.own_system - start.own_system,
        )


def run_lander(
    settings: Settings, group: str, records: int, profile: Path | None = None
) -> LanderReport:
    """The lander from the filled topics; with ``profile``, under cProfile (stats saved there
    and the top entries printed)."""
    grouped = settings.updated(lander_group_id=group)
    lander = BronzeLander(
        grouped.kafka, open_object_store(grouped.lake), consumer_overrides=GROUP_TIMING
    )
    if profile is None:
        return lander.run(max_records=records, handle_signals=False)
    profiler = cProfile.Profile()
    report = profiler.runcall(lander.run, max_records=records, handle_signals=False)
    profiler.dump_stats(profile)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return report


def baseline(
    settings: Settings, target: Path, records: int, group: str = "bench-baseline"
) -> tuple[int, float]:
    """Bare kafka-python: consume every raw topic and append values to a file per partition."""
    consumer = KafkaConsumer(
        **client_config(settings.kafka),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **GROUP_TIMING,
    )
    consumer.subscribe(raw_topics())
    files: dict[Any, Any] = {}
    consumed = 0
    started: float | None = None
    positions: dict[Any, int] = {}
    try:
        while consumed < records:
            for tp, batch in consumer.poll(timeout_ms=500).items():
                started = started or time.perf_counter()
                sink = files.get(tp) or files.setdefault(
                    tp, (target / f"{tp.topic}-{tp.partition}.jsonl").open("ab")
                )
                sink.write(b"".join(record.value + b"\n" for record in batch))
                positions[tp] = batch[-1].offset + 1
                consumed += len(batch)
        for sink in files.values():
            sink.close()
        consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in positions.items()})
        seconds = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()
    return consumed, seconds


def end_to_end(settings: Settings, envelopes: list[RawEnvelope]) -> tuple[LanderReport, float]:
    """A lander already in its group while the producer publishes; once everything is consumed
    the lander is stopped, which lands and commits what it holds: first send to last commit."""
    grouped = settings.updated(lander_group_id="bench-e2e")
    lander = BronzeLander(
        grouped.kafka, open_object_store(grouped.lake), consumer_overrides=GROUP_TIMING
    )
    reports: list[LanderReport] = []
    runner = threading.Thread(target=lambda: reports.append(lander.run(handle_signals=False)))
    runner.start()
    while not lander.assignment():
        time.sleep(0.05)
    started = time.perf_counter()
    with EnvelopePublisher(settings.kafka) as publisher:
        assert publisher.publish_all(envelopes).acknowledged == len(envelopes)
    while lander.report.consumed < len(envelopes):
        time.sleep(0.01)
    lander.stop()
    runner.join()
    seconds = time.perf_counter() - started
    assert reports[0].landed == len(envelopes), reports[0]
    return reports[0], seconds


def rate(count: int, seconds: float, megabytes: float) -> str:
    return (
        f"{count:>8,} records in {seconds:6.2f} s = {count / seconds:>8,.0f} records/s, "
        f"{megabytes / seconds:6.1f} MB/s"
    )


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, kafka-python {kafka.__version__}"
    )


@dataclass
class Measured:
    days: int
    envelopes: int
    megabytes: float
    publish_seconds: float
    lander: LanderReport
    #: the whole lander run (group join, worker start-up and close included); its workers
    #: are reaped when it closes
    lander_cpu: Cpu
    base_seconds: float
    base_cpu: Cpu
    e2e: tuple[LanderReport, float] | None


def measure(args: argparse.Namespace, days: int, root: Path) -> Measured:
    """One input size on its own broker (or ``--bootstrap``): end to end, lander, baseline,
    publish; the lander and the baseline read the same filled topics."""
    with contextlib.ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(local_broker(root / "tansu.log"))
        settings = Settings(
            lake_root=str(root / "lake"),
            state_dir=root / "state",
            kafka_bootstrap_servers=bootstrap,
            kafka_topic_partitions=args.partitions,
            sim_days=days,
            sim_end=dt.date(2026, 1, 1),
            sim_fault_rate=0.0,
            sim_assets=[a.asset_id for a in load_assets()[: args.assets]],
        )
        envelopes = simulate(settings)
        n = len(envelopes)
        megabytes = sum(len(e.to_json_line()) + 1 for e in envelopes) / 1e6
        ensure_topics(settings.kafka)

        def publish() -> float:
            started = time.perf_counter()
            with EnvelopePublisher(settings.kafka) as publisher:
                published = publisher.publish_all(envelopes)
            assert published.acknowledged == n, published.failed[:3]
            return time.perf_counter() - started

        # Order matters: the end-to-end run needs empty topics and leaves them filled once,
        # which is what the lander and the baseline then read; the lone publish comes last.
        e2e = None
        publish_seconds = 0.0
        if args.end_to_end:
            e2e = end_to_end(settings.updated(lake_root=str(root / "lake-e2e")), envelopes)
        else:
            publish_seconds = publish()
        started = Cpu.now()
        lander = run_lander(settings, "bench-lander", n, args.profile)
        lander_cpu = Cpu.now().since(started)
        assert lander.landed == n, lander
        (root / "baseline").mkdir()
        started = Cpu.now()
        base_count, base_seconds = baseline(settings, root / "baseline", n)
        base_cpu = Cpu.now().since(started)
        assert base_count == n
        if args.end_to_end:
            publish_seconds = publish()
    return Measured(
        days, n, megabytes, publish_seconds, lander, lander_cpu, base_seconds, base_cpu, e2e
    )


def report(args: argparse.Namespace, m: Measured) -> None:
    n = m.envelopes
    print(
        f"input   : {args.assets} assets x {m.days} days = {n:,} envelopes, "
        f"{m.megabytes:.1f} MB of JSON; {args.partitions} partitions per topic; "
        f"compression {compression_codec()}"
    )
    print(f"publish : {rate(n, m.publish_seconds, m.megabytes)}")
    print(
        f"lander  : {rate(n, m.lander.active_seconds, m.megabytes)} "
        f"({m.lander.batches} batches in {m.lander.landings} landings, "
        f"{m.lander.objects_written} objects; kafka-python, "
        f"{Settings().kafka.lander_decode_processes} decode process)"
    )
    print(f"baseline: {rate(n, m.base_seconds, m.megabytes)} (bare kafka-python consumer)")
    print(
        f"CPU     : lander {m.lander_cpu.own:.2f} s in its process "
        f"({m.lander_cpu.own_system:.2f} s system) + {m.lander_cpu.children:.2f} s in its "
        f"workers (whole run, start-up included); baseline {m.base_cpu.own:.2f} s "
        f"({m.base_cpu.own_system:.2f} s system)"
    )
    print(f"ratio lander / baseline: {m.base_seconds / m.lander.active_seconds:.2f}x")
    if m.e2e is not None:
        e2e_report, e2e_seconds = m.e2e
        print(f"end to end: {rate(n, e2e_seconds, m.megabytes)} ({e2e_report.batches} batches)")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days",
        type=int,
        nargs="+",
        default=DEFAULT_DAYS,
        help="days of simulated history; several values measure each size in turn "
        f"(default {' '.join(map(str, DEFAULT_DAYS))})",
    )
    parser.add_argument("--assets", type=int, default=27, help="number of reference assets")
    parser.add_argument("--bootstrap", help="use this broker instead of starting Tansu")
    parser.add_argument("--partitions", type=int, default=3, help="partitions per topic")
    parser.add_argument(
        "--profile", type=Path, help="run the lander under cProfile and save its stats here"
    )
    parser.add_argument(
        "--no-end-to-end",
        dest="end_to_end",
        action="store_false",
        help="skip the end-to-end run (publish first, then lander and baseline)",
    )
    args = parser.parse_args()
    if args.bootstrap and len(args.days) > 1:
        parser.error("--bootstrap measures one size: its topics are not emptied in between")

    print(f"machine : {machine()}")
    print(f"broker  : {'external ' + args.bootstrap if args.bootstrap else 'Tansu 0.6.0 (memory)'}")
    print(f"load average at start: {load()}")
    results = []
    for days in args.days:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure(args, days, Path(tmp)))
    print(f"load average at end  : {load()}")
    for measured in results:
        print()
        report(args, measured)


if __name__ == "__main__":
    main()
