"""``rwa report …``: the PDF reports from the command line, registered into ``rwa`` by
:mod:`pipelines.cli`; the same bytes ``GET /reports/…`` serves for the same data.

Heavy imports (the store, WeasyPrint, matplotlib) happen when a command runs, so ``rwa --help``
stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

    with _open_served(lakehouse.settings) as store:
        pdf = asset_pdf(store, args.asset_id)
    _write(pdf, args.out or f"rwa-asset-{args.asset_id}.pdf")
    return 0


@contextmanager
def _open_served(settings: Any) -> Iterator[Any]:
    """The store as the API reads it, its schema checked (not through api.main: importing
    the app took seconds)."""
    from pipelines.serving import open_store

    with open_store(settings.serving, read_only=True) as store:
        store.migrate()  # read-only: checks only that the schema is current
        yield store


def _cmd_portfolio(lakehouse: Any, args: argparse.Namespace) -> int:
    from api.accounts import users
    from api.accounts.database import OpsDatabase
    from api.reports.portfolio import portfolio_pdf
    from pipelines.core.errors import NotFoundError

    settings = lakehouse.settings
    database = OpsDatabase.open(settings.ops_db)
    try:
        with database.sessions() as session, _open_served(settings) as store:
            owner = users.by_email(session, args.email)
            if owner is None:
                raise NotFoundError(f"no user {args.email}")
            pdf = portfolio_pdf(session, store, owner.id, args.portfolio_id)
    finally:
        database.close()
    _write(pdf, args.out or f"rwa-portfolio-{args.portfolio_id}.pdf")
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
    portfolio = kinds.add_parser(
        "portfolio",
        help="one user's portfolio: value and P&L, allocation, risk, holdings",
        description="Render the report of portfolio ID owned by the user OWNER, as "
        "GET /reports/portfolios/ID.pdf serves it to them. An operator's command (it reads the "
        "operational database itself): the tier gate is the API's.",
    )
    portfolio.set_defaults(handler=_cmd_portfolio)
    portfolio.add_argument("portfolio_id", metavar="ID", type=int, help="the portfolio's id")
    portfolio.add_argument("--email", required=True, metavar="OWNER", help="its owner's email")
    portfolio.add_argument(
        "--out", metavar="FILE", help="where to write it ('-': stdout; rwa-portfolio-ID.pdf)"
    )
