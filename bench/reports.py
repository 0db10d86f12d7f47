"""Benchmark: seconds per PDF report, beside the same report's HTML rendered without its charts
in the same run (issue 15).

Works on a copy of the store of ``RWA_DUCKDB_PATH`` (``rwa demo`` builds it). Per report, as
the API makes it in a warm process (WeasyPrint and matplotlib imported, one report rendered
first): the store reads, the charts (matplotlib to SVG), the HTML (Jinja2) and the PDF
(WeasyPrint), ``--rounds`` times, the median. The baseline is the same pages with the figures
left out (same reads, same HTML otherwise, same PDF step): the ratio is what the charts cost.

* **asset reports**: ``--assets`` (by default a treasury fund, a stablecoin, gold, a crypto
  major);
* **a 50-holding portfolio report**: the demo has 27 assets, so the copy gets 23 more, each a
  renamed copy of a demo asset with its bars, on-chain days, forecasts and risk score; a
  temporary SQLite operational database holds a user and a portfolio buying each of the 50 on
  several days and selling some.

Printed beside them: the cold start a process pays once (importing WeasyPrint and matplotlib,
timed in fresh interpreters), and the machine. Target (issue 15): an asset report under 2 s.
``--screenshots DIR`` also writes each kind's first page as PNG (poppler's ``pdftoppm``).

    .venv/bin/rwa demo
    .venv/bin/python bench/reports.py [--rounds 5] [--screenshots docs/screenshots]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from api.accounts import users  # noqa: E402
from api.accounts.database import OpsDatabase  # noqa: E402
from api.accounts.migrate import upgrade  # noqa: E402
from api.accounts.principal import Role  # noqa: E402
from api.portfolios import service  # noqa: E402
from api.portfolios.ledger import CostMethod, TransactionKind  # noqa: E402
from api.portfolios.schemas import TransactionIn  # noqa: E402
from api.reports.asset import asset_html, read_asset  # noqa: E402
from api.reports.portfolio import portfolio_html, read_portfolio  # noqa: E402
from api.reports.render import html_to_pdf  # noqa: E402
from pipelines.contracts.served import OHLCV, ONCHAIN  # noqa: E402
from pipelines.core.settings import Settings  # noqa: E402
from pipelines.serving import open_store  # noqa: E402
from pipelines.serving.store import ServingStore  # noqa: E402

DEFAULT_ASSETS = ("ousg", "usdc", "paxg", "btc")
HOLDINGS = 50


def demo_copy(workdir: Path) -> Path:
    source = Path(os.environ.get("RWA_DUCKDB_PATH", "data/serving.duckdb"))
    if not source.exists():
        raise SystemExit(f"no store at {source}: run `rwa demo` first (or set RWA_DUCKDB_PATH)")
    target = workdir / "serving.duckdb"
    shutil.copyfile(source.resolve(), target)
    return target


def import_seconds(module: str) -> float:
    """Seconds a fresh interpreter takes to import ``module``, less a bare start."""

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    bare = min(run("pass") for _ in range(3))
    return min(run(f"import {module}") for _ in range(3)) - bare


@dataclass
class Timing:
    """Wall and CPU seconds of each render; CPU time moves less with the machine's load."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    size: int = 0

    def add(self, render: Callable[[], bytes]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.size = len(render())
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)


def measure(
    full: Callable[[], bytes], plain: Callable[[], bytes], rounds: int
) -> tuple[Timing, Timing]:
    """Each render ``rounds`` times, alternating, so both see the same load."""
    timings = Timing(), Timing()
    for _ in range(rounds):
        timings[0].add(full)
        timings[1].add(plain)
    return timings


def asset_renders(
    store: ServingStore, asset_id: str
) -> tuple[Callable[[], bytes], Callable[[], bytes]]:
    """The report of ``asset_id`` as the API makes it, and its no-charts baseline."""

    def full() -> bytes:
        return html_to_pdf(asset_html(read_asset(store, asset_id)))

    def plain() -> bytes:
        return html_to_pdf(asset_html(read_asset(store, asset_id), with_charts=False))

    return full, plain


def _renamed(table: pa.Table, asset_id: str) -> pa.Table:
    column = table.column_names.index("asset_id")
    return table.set_column(column, "asset_id", pa.array([asset_id] * table.num_rows))


def widen(store: ServingStore, holdings: int) -> list[str]:
    """Enough assets for ``holdings``: the demo's, then renamed copies of them (reference,
    daily bars, on-chain days, both forecast horizons, the risk score); their ids."""
    demo = store.list_assets()
    scores = store.latest_risk_scores()
    ids = [a.asset_id for a in demo]
    for n in range(holdings - len(demo)):
        source = demo[n % len(demo)]
        copy = f"{source.asset_id}-copy{n}"
        store.upsert_assets([source.model_copy(update={"asset_id": copy, "symbol": copy.upper()})])
        key = {"asset_id": source.asset_id, "resolution": "1d"}
        store.upsert_ohlcv(_renamed(store.series(OHLCV, key), copy))
        store.upsert_onchain(_renamed(store.series(ONCHAIN, {"asset_id": source.asset_id}), copy))
        for horizon in (7, 30):
            store.upsert_predictions(
                _renamed(store.latest_predictions(source.asset_id, horizon), copy)
            )
        mask = pa.compute.equal(scores.column("asset_id"), source.asset_id)
        store.upsert_risk_scores(_renamed(scores.filter(mask), copy))
        ids.append(copy)
    return ids[:holdings]


def make_portfolio(session: Session, store: ServingStore, asset_ids: list[str]) -> tuple[int, int]:
    """A user and a portfolio buying each asset twice over the last 60 served days (at the
    day's close) and selling a third of every fifth; (user id, portfolio id)."""
    user = users.create(session, "bench@example.com", "bench-password-1", Role.PROFESSIONAL)
    portfolio = service.create(session, user.id, "Fifty holdings", CostMethod.FIFO, None)
    specs = []
    for n, asset_id in enumerate(asset_ids):
        bars = store.ohlcv(asset_id, "1d", limit=60)
        for bar, quantity in ((bars[0], 300), (bars[len(bars) // 2], 200)):
            specs.append(_trade(TransactionKind.BUY, asset_id, quantity, bar.close, bar.ts))
        if n % 5 == 0:
            last = bars[-2]
            specs.append(_trade(TransactionKind.SELL, asset_id, 150, last.close, last.ts))
    service.add(session, portfolio, specs)
    session.commit()
    return user.id, portfolio.id


def _trade(
    kind: TransactionKind, asset_id: str, quantity: int, price: float, at: dt.datetime
) -> TransactionIn:
    return TransactionIn(
        kind=kind,
        asset_id=asset_id,
        quantity=quantity,
        price=f"{price:.6f}",
        fee="1.25",
        executed_at=at + dt.timedelta(hours=12),
    )


def portfolio_renders(
    session: Session, store: ServingStore, owner: int, portfolio: int
) -> tuple[Callable[[], bytes], Callable[[], bytes]]:
    """The portfolio's report as the API makes it, and its no-charts baseline."""

    def full() -> bytes:
        return html_to_pdf(portfolio_html(read_portfolio(session, store, owner, portfolio)))

    def plain() -> bytes:
        data = read_portfolio(session, store, owner, portfolio)
        return html_to_pdf(portfolio_html(data, with_charts=False))

    return full, plain


def screenshot(pdf: bytes, target: Path) -> None:
    """The first page of ``pdf`` as ``target`` (PNG, 80 dpi)."""
    source = target.with_suffix(".pdf")
    source.write_bytes(pdf)
    prefix = str(target.with_suffix(""))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(source), prefix],
        check=True,
    )
    source.unlink()
    print(f"  wrote {target}")


def row(name: str, full: Timing, plain: Timing) -> None:
    wall, base = statistics.median(full.wall), statistics.median(plain.wall)
    cpu, base_cpu = statistics.median(full.cpu), statistics.median(plain.cpu)
    print(
        f"{name:<26} {wall:>8.2f} {base:>8.2f} {wall / base:>7.2f}x "
        f"{cpu:>7.2f} {base_cpu:>8.2f} {cpu / base_cpu:>7.2f}x {full.size:>9,} B"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="renders per report (median)")
    parser.add_argument("--assets", default=",".join(DEFAULT_ASSETS), help="asset ids")
    parser.add_argument("--screenshots", type=Path, help="write each report's first page here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="reports-bench-"))
    os.environ["RWA_DUCKDB_PATH"] = str(demo_copy(workdir))
    os.environ["RWA_OPS_DB_URL"] = f"sqlite:///{workdir / 'ops.db'}"
    settings = Settings()
    cold = {m: import_seconds(m) for m in ("weasyprint", "matplotlib.figure")}
    with open_store(settings.serving) as store:
        store.migrate()
        held = widen(store, HOLDINGS)
    database = OpsDatabase.open(settings.ops_db)
    upgrade(database.engine)
    heads = ("charts", "none", "ratio") * 2
    print(f"{'':<26} {'wall seconds':>27} {'CPU seconds':>27}")
    print(f"{'report':<26} " + " ".join(f"{h:>8}" for h in heads) + f" {'PDF':>11}")
    with open_store(settings.serving, read_only=True) as store, database.sessions() as session:
        owner, portfolio = make_portfolio(session, store, held)
        renders = {f"asset {a}": asset_renders(store, a) for a in args.assets.split(",")}
        renders[f"portfolio, {HOLDINGS} holdings"] = portfolio_renders(
            session, store, owner, portfolio
        )
        next(iter(renders.values()))[0]()  # warm: imports, fonts, the templates compiled
        for name, (full, plain) in renders.items():
            row(name, *measure(full, plain, args.rounds))
        if args.screenshots:
            args.screenshots.mkdir(parents=True, exist_ok=True)
            kinds = ("asset", "portfolio")
            firsts = (next(iter(renders.values())), renders[f"portfolio, {HOLDINGS} holdings"])
            for kind, (full, _) in zip(kinds, firsts, strict=True):
                screenshot(full(), args.screenshots / f"report-{kind}.png")
    database.close()
    print(
        "cold start, once per process: "
        + ", ".join(f"import {m} {s:.2f} s" for m, s in cold.items())
    )
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
