"""Benchmark: how fast an alert reaches its user after a serving load, and what evaluating
1,000 rules costs beside a plain pandas evaluation of the same rules (issue 14).

Works on a copy of the store of ``RWA_DUCKDB_PATH`` (``rwa demo`` builds it) and a temporary
operational database (SQLite, the embedded default). It makes ``--rules`` active rules (1,000)
over the demo's assets, of every condition kind, spread over several users, as the API stores
them; one of them, the probe, "USDC below 0.995" with a webhook to a local receiver and no
cooldown, belongs to a user whose API key a WebSocket client presents. Then, as users run
them, ``rwa serve`` (the API, its real-time hub) and ``rwa alerts run`` (the delivery worker)
start, and ``--loads`` times:

1. a serving load writes one new hourly bar per asset (USDC at 0.99 on even loads, 1.00 on odd
   ones, so the probe fires on every other load) and commits (the DuckDB snapshot is
   published): **time zero**;
2. the after-load hook runs as ``rwa load`` runs it: the rules are evaluated, firings, their
   notifications and events are committed;
3. the WebSocket client (subscribed to ``price_update`` and ``alert_triggered``) and the
   webhook receiver (which checks the Standard Webhooks signature) note when they hear of it.

Printed per load and as medians: commit -> ``price_update`` on the WebSocket, commit ->
``alert_triggered`` on the WebSocket, commit -> the webhook delivered; the evaluation's own
time beside a plain pandas evaluation of the same rules on the same data in the same run (a
loop over the typed rules with ``.loc`` look-ups; it keeps no states and writes nothing, so it
does less than the engine), and a check that both found the same conditions true. Targets
(issue 14, 2-core machine): under 2 s from commit to client; evaluation no slower than 2x the
plain baseline.

    .venv/bin/rwa demo
    .venv/bin/python bench/alert_latency.py [--rules 1000] [--loads 6]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# Started and stopped like the API latency benchmark's server (this folder is on sys.path).
from api_latency import credentials, free_port, server  # noqa: E402

from api.accounts.database import OpsDatabase  # noqa: E402
from api.accounts.principal import Role  # noqa: E402
from api.accounts.tables import User  # noqa: E402
from api.alerts import service  # noqa: E402
from api.alerts.evaluation import EvaluationReport  # noqa: E402
from api.alerts.observations import observe  # noqa: E402
from api.alerts.rules import NAV_CLASSES, Rule, RuleSpec  # noqa: E402
from api.notifications import signing  # noqa: E402
from pipelines.contracts.served import OHLCV_SCHEMA  # noqa: E402
from pipelines.core.settings import Settings, get_settings  # noqa: E402
from pipelines.serving import open_store  # noqa: E402
from pipelines.serving.store import ServingStore  # noqa: E402

TARGET_SECONDS = 2.0
RATIO_TARGET = 2.0
PROBE_ASSET = "usdc"
MOVES = (60, 240, 1440)
DAYS = (1, 7, 30)
WINDOWED = ("pct_move", "supply_change", "holders_change")
PROBE_LEVEL = 0.995
#: How long to wait for a message before calling it lost.
WAIT_SECONDS = 30.0
PASSWORD = "bench-password-not-secret"


# --- the receivers ------------------------------------------------------------------------------


class WebhookReceiver:
    """A local webhook endpoint: checks each delivery's signature, notes when it came."""

    def __init__(self, secret: Callable[[], str]) -> None:
        self.arrivals: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        arrivals, secret_of = self.arrivals, secret

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                heard = time.monotonic()
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    signing.verify(secret_of(), headers, body)
                except signing.SignatureError as error:
                    self.send_response(400)
                    self.end_headers()
                    print(f"  webhook refused: {error}")
                    return
                self.send_response(204)
                self.end_headers()
                arrivals.put((heard, json.loads(body)))

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@dataclass
class WsListener:
    """A WebSocket client of ``/ws`` in a thread, noting when each event arrived."""

    url: str
    key: str
    arrivals: queue.Queue[tuple[float, dict[str, Any]]] = field(default_factory=queue.Queue)

    def start(self) -> None:
        ready = threading.Event()
        threading.Thread(target=self._listen, args=(ready,), daemon=True).start()
        if not ready.wait(60):
            raise SystemExit("the WebSocket client did not connect")

    def _listen(self, ready: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with connect(self.url, additional_headers=headers, open_timeout=60) as client:
            types = ["price_update", "alert_triggered"]
            client.send(json.dumps({"action": "subscribe", "types": types}))
            ready.set()
            for raw in client:
                heard = time.monotonic()
                message = json.loads(raw)
                if message.get("type") in types:
                    self.arrivals.put((heard, message))


def first(
    arrivals: queue.Queue[tuple[float, dict[str, Any]]],
    wanted: Callable[[dict[str, Any]], bool],
    since: float,
) -> float | None:
    """Seconds from ``since`` to the first arrival ``wanted`` accepts; None: not in time."""
    deadline = time.monotonic() + WAIT_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        try:
            heard, message = arrivals.get(timeout=left)
        except queue.Empty:
            return None
        if heard >= since and wanted(message):
            return heard - since
    return None


# --- rules --------------------------------------------------------------------------------------


def rule_bodies(
    count: int, prices: dict[str, float], classes: dict[str, str]
) -> list[dict[str, Any]]:
    """``count`` rule bodies over every condition kind and both kinds of target, most of which
    stay quiet: they cost an evaluation what real rules cost without firing on every load."""
    assets = sorted(prices)
    stable = [a for a in assets if classes[a] == "stablecoin"]
    nav = [a for a in assets if classes[a] in NAV_CLASSES]
    bodies: list[dict[str, Any]] = []
    for i in range(count):
        asset = assets[i % len(assets)]
        above = {"kind": "price", "direction": "above", "level": prices[asset] * (2 + i % 5)}
        conditions: list[dict[str, Any]] = [
            _on(asset, above),
            _on(asset, above | {"direction": "below", "level": prices[asset] / (2 + i % 5)}),
            _on(asset, {"kind": "pct_move", "pct": 40 + i % 20, "window_minutes": MOVES[i % 3]}),
            _on(stable[i % len(stable)], {"kind": "peg_deviation", "threshold_bps": 400 + i % 99}),
            _on(nav[i % len(nav)], {"kind": "nav_premium", "side": "either", "threshold_bps": 4e3}),
            _on(asset, {"kind": "risk_score", "direction": "above", "level": 99.5}),
            _on(asset, {"kind": "sentiment_below", "level": -0.99}),
            _on(asset, {"kind": "forecast_return_7d", "direction": "above", "level_pct": 500}),
            _on(asset, {"kind": "supply_change", "pct": 90, "window_days": DAYS[i % 3]}),
            _on(asset, {"kind": "holders_change", "pct": 90, "window_days": DAYS[i % 2]}),
            _class("stablecoin", {"kind": "risk_score", "direction": "above", "level": 99}),
        ]
        bodies.append(conditions[i % len(conditions)])
    return bodies


def _on(asset_id: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {"target": {"kind": "asset", "asset_id": asset_id}, "condition": condition}


def _class(asset_class: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {"target": {"kind": "asset_class", "asset_class": asset_class}, "condition": condition}


def store_rules(
    database: OpsDatabase, owner_id: int, bodies: list[dict[str, Any]], hook_url: str
) -> None:
    """The probe for ``owner_id``, the other rules spread over ten more users."""
    from api.accounts import users

    probe = _on(PROBE_ASSET, {"kind": "price", "direction": "below", "level": PROBE_LEVEL})
    probe |= {"name": "probe", "cooldown_minutes": 0}
    probe["channels"] = [{"type": "webhook", "url": hook_url}]
    with database.sessions() as session:
        owners = [
            users.create(session, f"bench-{n}@example.com", PASSWORD, Role.ENTERPRISE).id
            for n in range(10)
        ]
        service.create(session, owner_id, RuleSpec.model_validate(probe), limit=None)
        for n, body in enumerate(bodies[1:]):
            spec = RuleSpec.model_validate(body)
            service.create(session, owners[n % len(owners)], spec, limit=None)
        session.commit()


# --- loads --------------------------------------------------------------------------------------


def latest_closes(store: ServingStore) -> dict[str, tuple[dt.datetime, float]]:
    """Each asset's newest hourly bar: its start and close."""
    latest: dict[str, tuple[dt.datetime, float]] = {}
    for asset in store.list_assets():
        bars = store.ohlcv(asset.asset_id, "1h", limit=1)
        if bars:
            latest[asset.asset_id] = (bars[-1].ts, bars[-1].close)
    return latest


def next_bars(latest: dict[str, tuple[dt.datetime, float]], load: int) -> pa.Table:
    """One new hourly bar per asset, an hour after its newest; USDC at 0.99 on even loads."""
    rows = []
    for asset_id, (ts, close) in sorted(latest.items()):
        price = (0.99 if load % 2 == 0 else 1.0) if asset_id == PROBE_ASSET else close * 1.001
        start = ts + dt.timedelta(hours=load + 1)
        rows.append(
            {
                "asset_id": asset_id,
                "resolution": "1h",
                "ts": start,
                "open": price,
                "high": price,
                "low": price,
                "close": price,
                "volume": 1.0,
            }
        )
    return pa.Table.from_pylist(rows, schema=OHLCV_SCHEMA)


@dataclass
class LoadTimes:
    evaluation: EvaluationReport
    fires: bool
    price_ws: float | None
    alert_ws: float | None
    webhook: float | None


def one_load(
    settings: Settings,
    bars: pa.Table,
    after_load: Callable[[], EvaluationReport],
    ws: WsListener,
    hook: WebhookReceiver,
    fires: bool,
) -> LoadTimes:
    with open_store(settings.serving) as store:
        store.upsert_ohlcv(bars)
    committed = time.monotonic()  # the snapshot is published when the writer closes
    report = after_load()
    price = first(ws.arrivals, _probe_price, committed)
    alert = first(ws.arrivals, _probe_alert, committed) if fires else None
    delivered = first(hook.arrivals, lambda _: True, committed) if fires else None
    return LoadTimes(report, fires, price, alert, delivered)


def _probe_price(message: dict[str, Any]) -> bool:
    payload = message.get("payload", {})
    return bool(message["type"] == "price_update" and payload.get("asset_id") == PROBE_ASSET)


def _probe_alert(message: dict[str, Any]) -> bool:
    return bool(message["type"] == "alert_triggered")


# --- the plain baseline ---------------------------------------------------------------------------


def plain_pandas(store: ServingStore, database: OpsDatabase) -> tuple[float, set[tuple[int, str]]]:
    """The same rules decided one by one: typed rules, the same served frames, ``.loc``
    look-ups. It keeps no states and writes nothing, so it does less than the engine. Returns
    its seconds and the (rule, asset) pairs whose condition holds."""
    from api.alerts.evaluation import rule_needs  # the same reads, not the same decisions

    started = time.perf_counter()
    with database.sessions() as session:
        rules: list[Rule] = service.active_rules(session)
        needs = rule_needs(session)
    observations = observe(store, needs)
    classes = observations.assets.set_index("asset_id")["asset_class"]
    holding: set[tuple[int, str]] = set()
    for rule in rules:
        condition = rule.condition.model_dump()
        kind = condition["kind"]
        frame = observations.frames[rule.condition.kind]
        target = rule.target.model_dump()
        targets = (
            [target["asset_id"]]
            if target["kind"] == "asset"
            else list(classes.index[classes == target["asset_class"]])
        )
        window = condition.get("window_minutes", condition.get("window_days", 0))
        for asset_id in targets:
            rows = frame.loc[frame["asset_id"] == asset_id]
            if kind in WINDOWED:
                rows = rows.loc[rows["window"] == window]
            if rows.empty:
                continue
            if _holds(kind, condition, float(rows["value"].iloc[0])):
                holding.add((rule.id, asset_id))
    return time.perf_counter() - started, holding


def _holds(kind: str, condition: dict[str, Any], value: float) -> bool:
    if kind in {"price", "risk_score", "forecast_return_7d"}:
        level = float(condition["level"] if "level" in condition else condition["level_pct"])
        return value > level if condition["direction"] == "above" else value < level
    if kind == "sentiment_below":
        return value < float(condition["level"])
    size = float(condition["pct"] if "pct" in condition else condition["threshold_bps"])
    sides = {"premium": "up", "discount": "down"}
    move = sides.get(condition.get("side", ""), condition.get("move", "either"))
    if move == "up":
        return value >= size
    if move == "down":
        return value <= -size
    return abs(value) >= size


def engine_holding(database: OpsDatabase) -> set[tuple[int, str]]:
    """The (rule, asset) pairs whose condition the engine found true at its last evaluation."""
    from sqlalchemy import select

    from api.alerts.tables import AlertState

    with database.sessions() as session:
        query = select(AlertState.rule_id, AlertState.asset_id).where(AlertState.condition_true)
        return {(int(r), str(a)) for r, a in session.execute(query)}


# --- the run ------------------------------------------------------------------------------------


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[None]:
    """``rwa alerts run``, the delivery worker, until the block ends (SIGTERM)."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("rwa")), "alerts", "run"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts Python slowly
        while "alerts worker: running" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def prepare(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, str], str]:
    """A copy of the demo store, the environment every process of the run shares (the copy,
    a new operational database, the worker's settings) and an API key of the probe's owner."""
    source = get_settings().serving.duckdb_path
    if not source.exists():
        raise SystemExit(f"no store at {source}: run `rwa demo` first (or set RWA_DUCKDB_PATH)")
    shutil.copyfile(source.resolve(), workdir / "serving.duckdb")
    env = os.environ.copy() | {
        "RWA_DUCKDB_PATH": str(workdir / "serving.duckdb"),
        "RWA_SERVING_BACKEND": "duckdb",
        # The receiver is on loopback; the worker refuses private addresses otherwise.
        "RWA_NOTIFY_ALLOW_PRIVATE_WEBHOOKS": "true",
        "RWA_ALERTS_POLL_SECONDS": str(args.poll),
        "RWA_EVENTS_POLL_SECONDS": str(args.poll),
    }
    header = credentials(env, workdir)  # points env at the new operational database
    if not header:
        raise SystemExit("this tree has no `rwa users` command")
    os.environ.update(env)  # this process (the load, the evaluation) sees what the others see
    get_settings.cache_clear()
    return env, header[0].split("Bearer ", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=1000, help="active rules (1,000)")
    parser.add_argument("--loads", type=int, default=6, help="serving loads measured")
    parser.add_argument("--poll", type=float, default=0.2, help="workers' idle poll (s)")
    args = parser.parse_args()
    from api.after_load import after_serving_load

    workdir = Path(tempfile.mkdtemp(prefix="alert-latency-"))
    env, key = prepare(args, workdir)
    settings = get_settings()
    database = OpsDatabase.open(settings.ops_db)
    with database.sessions() as session:
        owner = session.query(User).filter(User.email == "bench@example.com").one().id
        secret = signing.secret_of(session, owner)
        session.commit()
    hook = WebhookReceiver(lambda: secret)
    with open_store(settings.serving, read_only=True) as store:
        assets = {a.asset_id: a.asset_class for a in store.list_assets()}
        latest = latest_closes(store)
    prices = {asset_id: close for asset_id, (_, close) in latest.items()}
    bodies = rule_bodies(args.rules, prices, {a: assets[a] for a in prices})
    store_rules(database, owner, bodies, hook.url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [str(Path(sys.executable).with_name("rwa")), "serve", "--port", str(port)]
    print(f"{args.rules} rules, {len(prices)} assets; API on {base}; work in {workdir}")
    with (
        server(serve, env, f"{base}/health", workdir / "api.log", REPO),
        worker(env, workdir / "worker.log"),
    ):
        ws = WsListener(f"ws://127.0.0.1:{port}/ws", key)
        ws.start()
        # The first evaluation sees today's data: the rules that hold already fire now.
        after_serving_load(settings)
        loads = [
            one_load(
                settings,
                next_bars(latest, n),
                lambda: after_serving_load(settings).evaluation,
                ws,
                hook,
                n % 2 == 0,
            )
            for n in range(args.loads)
        ]
    report_loads(loads)
    compare(settings, database, args)
    database.close()
    shutil.rmtree(workdir, ignore_errors=True)


def report_loads(loads: list[LoadTimes]) -> None:
    heads = ("price->ws", "alert->ws", "webhook")
    print(f"\n{'load':>4} {'evaluation':>12} {'fired':>6} " + " ".join(f"{h:>10}" for h in heads))
    for n, load in enumerate(loads):
        cells = (_ms(load.price_ws), _ms(load.alert_ws), _ms(load.webhook))
        evaluation = load.evaluation.seconds.get("total", 0.0) * 1000
        print(
            f"{n:>4} {evaluation:>9.0f} ms {len(load.evaluation.fired):>6} "
            + " ".join(f"{c:>10}" for c in cells)
        )
    firing = [x for x in loads if x.fires]
    for label, values in (
        ("commit -> price_update (WebSocket)", [x.price_ws for x in loads]),
        ("commit -> alert_triggered (WebSocket)", [x.alert_ws for x in firing]),
        ("commit -> webhook delivered", [x.webhook for x in firing]),
    ):
        heard = [v for v in values if v is not None]
        missing = len([v for v in values if v is None])
        if not heard:
            continue
        worst = max(heard)
        verdict = "met" if worst < TARGET_SECONDS and not missing else "MISSED"
        print(
            f"{label}: median {statistics.median(heard) * 1000:.0f} ms, "
            f"worst {worst * 1000:.0f} ms, lost {missing}; "
            f"target < {TARGET_SECONDS:.0f} s: {verdict}"
        )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def compare(settings: Settings, database: OpsDatabase, args: argparse.Namespace) -> None:
    """The engine and the plain baseline, alternately on the same data, three times each."""
    from api.alerts.evaluation import evaluate

    engine, plain = [], []
    with open_store(settings.serving, read_only=True) as store:
        for _ in range(3):
            started = time.perf_counter()
            evaluate(store, database.sessions)
            engine.append(time.perf_counter() - started)
            seconds, holding = plain_pandas(store, database)
            plain.append(seconds)
    same = holding == engine_holding(database)
    ratio = statistics.median(engine) / statistics.median(plain)
    verdict = "met" if ratio <= RATIO_TARGET else "MISSED"
    print(
        f"\nevaluation of {args.rules} rules: engine {statistics.median(engine) * 1000:.0f} ms "
        f"(reads, decides, writes), plain pandas {statistics.median(plain) * 1000:.0f} ms "
        f"(reads, decides, writes nothing); ratio {ratio:.2f}x, target <= {RATIO_TARGET:.0f}x: "
        f"{verdict}; same conditions true: {same} ({len(holding)} pairs)"
    )
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
