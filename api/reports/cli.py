"""``rwa report …``: the PDF reports from the command line, registered into ``rwa`` by
:mod:`pipelines.cli`; the same bytes ``GET /reports/…`` serves for the same data.

Heavy imports (the store, WeasyPrint, matplotlib) happen when a command runs, so ``rwa --help``
stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[Any, argparse.Namespace], int]
AddCommand = Callable[[str, Handler, str], argparse.ArgumentParser]


def _write(pdf: bytes, out: str) -> None:
    """``pdf`` to the file ``out`` ('-': standard output), and what was written to stderr."""
    if out == "-":
        sys.stdout.buffer.write(pdf)
        sys.stdout.buffer.flush()
        return
    Path(out).write_bytes(pdf)
    print(f"wrote {out} ({len(pdf):,} bytes)", file=sys.stderr)


def _cmd_asset(lakehouse: Any, args: argparse.Namespace) -> int:
    from api.reports.asset import asset_pdf
    from pipelines.serving import open_store

    # The store as the API reads it (not through api.main: importing the app took seconds).
    store = open_store(lakehouse.settings.serving, read_only=True)
    with store:
        store.migrate()  # read-only: checks only that the schema is current
        pdf = asset_pdf(store, args.asset_id)
    _write(pdf, args.out or f"rwa-asset-{args.asset_id}.pdf")
    return 0


def add_report_commands(add: AddCommand) -> None:
    report = add(
        "report",
        _cmd_asset,
        "PDF reports of an asset or a portfolio (the files GET /reports/... serves)",
    )
    kinds = report.add_subparsers(dest="kind", required=True, metavar="KIND")
    asset = kinds.add_parser(
        "asset",
        help="one asset: facts, evidence, price and forecasts, risk, sentiment, on-chain",
        description="Render the asset report of ASSET_ID from the serving store, as "
        "GET /reports/assets/ASSET_ID.pdf serves it.",
    )
    asset.set_defaults(handler=_cmd_asset)
    asset.add_argument("asset_id", metavar="ASSET_ID", help="asset slug, e.g. ousg")
    asset.add_argument(
        "--out", metavar="FILE", help="where to write it ('-': stdout; rwa-asset-ID.pdf)"
    )
