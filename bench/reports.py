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
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.reports.asset import asset_html, read_asset  # noqa: E402
from api.reports.render import html_to_pdf  # noqa: E402
from pipelines.core.settings import Settings  # noqa: E402
from pipelines.serving import open_store  # noqa: E402
from pipelines.serving.store import ServingStore  # noqa: E402

DEFAULT_ASSETS = ("ousg", "usdc", "paxg", "btc")


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


def median_seconds(render: Callable[[], bytes], rounds: int) -> tuple[float, int]:
    """Median seconds of ``render`` over ``rounds`` calls, and the size of its PDF."""
    times = []
    size = 0
    for _ in range(rounds):
        started = time.perf_counter()
        size = len(render())
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def asset_renders(
    store: ServingStore, asset_id: str
) -> tuple[Callable[[], bytes], Callable[[], bytes]]:
    """The report of ``asset_id`` as the API makes it, and its no-charts baseline."""

    def full() -> bytes:
        return html_to_pdf(asset_html(read_asset(store, asset_id)))

    def plain() -> bytes:
        return html_to_pdf(asset_html(read_asset(store, asset_id), with_charts=False))

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


def row(name: str, full: tuple[float, int], plain: tuple[float, int]) -> None:
    (seconds, size), (base, _) = full, plain
    print(f"{name:<34} {seconds:>8.2f} s {base:>8.2f} s {seconds / base:>6.2f}x {size:>9,} B")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="renders per report (median)")
    parser.add_argument("--assets", default=",".join(DEFAULT_ASSETS), help="asset ids")
    parser.add_argument("--screenshots", type=Path, help="write each report's first page here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="reports-bench-"))
    os.environ["RWA_DUCKDB_PATH"] = str(demo_copy(workdir))
    settings = Settings()
    cold = {m: import_seconds(m) for m in ("weasyprint", "matplotlib.figure")}
    print(f"{'report':<34} {'charts':>10} {'no charts':>10} {'ratio':>7} {'PDF':>11}")
    with open_store(settings.serving, read_only=True) as store:
        renders = {a: asset_renders(store, a) for a in args.assets.split(",")}
        first = next(iter(renders.values()))
        first[0]()  # warm: imports, fonts, the templates compiled
        for asset_id, (full, plain) in renders.items():
            row(
                f"asset {asset_id}",
                median_seconds(full, args.rounds),
                median_seconds(plain, args.rounds),
            )
        if args.screenshots:
            screenshot(first[0](), args.screenshots / "report-asset.png")
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
