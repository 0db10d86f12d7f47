"""The expectation suites of the silver tables, declared as data.

One :class:`DatasetSuite` per silver table: the row-level :class:`Check` s the quality gate runs
on every micro-batch (a row failing an ``error`` check is refused, with the check's words as the
reason), plus the table's key and time column, from which :func:`table_checks` builds the
whole-table checks run after each run (key uniqueness, freshness).

A check names a Great Expectations 1.x expectation type and its arguments exactly as GX takes
them, so this module reads as a specification and ``docs/quality.md`` mirrors it. Some rules
compare a row with something GX cannot express in one expectation (a price with the asset's
class, a NAV with the previous day's, a timestamp with the fetch time plus a skew); for those
the gate first adds a *derived column* (:mod:`pipelines.quality.derived`, listed in
``DatasetSuite.derived``) and the check runs on it.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pipelines.contracts import quarantine as reasons
from pipelines.contracts import silver as tables
from pipelines.contracts.measures import ONCHAIN_METRICS
from pipelines.core.errors import ConfigurationError

Severity = Literal["error", "warning"]

#: Earliest plausible timestamp of any market or on-chain record (Bitcoin's genesis block is
#: 2009-01-03); an earlier one is a parsing error (epoch 0, seconds read as milliseconds).
EARLIEST_TS = dt.datetime(2009, 1, 1, tzinfo=dt.UTC)
#: How far a record's own time may lie after its fetch time: clocks of sources and collectors
#: disagree by seconds to minutes; more than this is a record from the future.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: Stablecoins trade near 1 USD; real de-pegs (USDC at 0.87 in March 2023) stay inside this
#: band, a price outside it is a unit or symbol error.
STABLECOIN_BAND_USD = (0.5, 1.5)
#: Largest day-over-day NAV change of one asset from one source. Tokenized treasuries and
#: money-market funds move by basis points a day; 25% is a decimal-shift or wrong-asset error.
MAX_NAV_CHANGE = 0.25
#: How many days of silver history the NAV check looks back for the previous NAV of a series
#: that starts mid-batch (funds skip weekends and holidays).
NAV_LOOKBACK_DAYS = 7
#: Nominal interest-rate series (percent): FRED's 3-month bill, fed funds, 10-year yield and
#: the World Bank lending rate. Real rates and inflation have no bound (hyperinflation is real).
RATE_SERIES = ("DTB3", "DFF", "DGS10", "FR.INR.LEND")
RATE_BAND_PERCENT = (-5.0, 50.0)

_NOT_NULL = "expect_column_values_to_not_be_null"
_BETWEEN = "expect_column_values_to_be_between"
_PAIR_GE = "expect_column_pair_values_a_to_be_greater_than_b"


@dataclass(frozen=True, slots=True)
class RowFilter:
    """Restricts a check to rows whose ``column`` is one of ``values`` (a GX row condition)."""

    column: str
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.column} in ({', '.join(self.values)})"


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation: the GX type, its arguments, the rule in words and why it holds."""

    expectation: str
    kwargs: Mapping[str, Any]
    says: str
    why: str
    severity: Severity = "error"
    where: RowFilter | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the expectation reads, in the order GX takes them."""
        kw = self.kwargs
        if "column" in kw:
            return (str(kw["column"]),)
        if "column_A" in kw:
            return (str(kw["column_A"]), str(kw["column_B"]))
        return tuple(str(c) for c in kw.get("column_list", ()))

    @property
    def reason(self) -> str:
        """The refusal reason a failing row carries."""
        return reasons.QUALITY_CHECK.text(says=self.says, expectation=self.expectation)


@dataclass(frozen=True, slots=True)
class DatasetSuite:
    """The suite of one silver table."""

    dataset: str
    key: tuple[str, ...]
    time_column: str
    checks: tuple[Check, ...]
    derived: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"silver.{self.dataset}"

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Columns of the silver rows the checks and derived columns read."""
        used = {c for check in self.checks for c in check.columns}
        used |= {check.where.column for check in self.checks if check.where is not None}
        return tuple(sorted(used - set(self.derived)))


def not_null(*columns: str, why: str) -> tuple[Check, ...]:
    return tuple(Check(_NOT_NULL, {"column": c}, f"{c} must not be null", why) for c in columns)


def at_least(column: str, bound: float, *, strict: bool, why: str) -> Check:
    kwargs: dict[str, Any] = {"column": column, "min_value": bound, "strict_min": strict}
    return Check(_BETWEEN, kwargs, f"{column} must be {'>' if strict else '>='} {bound:g}", why)


def a_at_least_b(a: str, b: str, *, says: str, why: str) -> Check:
    """``a >= b`` row by row; a row where either is null is left to the not-null checks."""
    kwargs = {
        "column_A": a,
        "column_B": b,
        "or_equal": True,
        "ignore_row_if": "either_value_is_missing",
    }
    return Check(_PAIR_GE, kwargs, says, why)


def valid_timestamp(column: str, *, not_before_2009: bool = True) -> tuple[Check, ...]:
    """``column`` not before 2009 and not after the fetch time plus :data:`CLOCK_SKEW`."""
    skew_min = int(CLOCK_SKEW.total_seconds() // 60)
    future = a_at_least_b(
        "fetched_at_limit",
        column,
        says=f"{column} must not be after fetched_at + {skew_min} min",
        why="a record cannot describe a time after it was fetched",
    )
    if not not_before_2009:
        return (future,)
    early = Check(
        _BETWEEN,
        {"column": column, "min_value": EARLIEST_TS},
        f"{column} must not be before {EARLIEST_TS.date().isoformat()}",
        "earlier instants are parsing errors (epoch 0, seconds read as milliseconds)",
    )
    return (early, future)


_PRICE_COLUMNS = ("open", "high", "low", "close")
_FETCH_LIMIT = {"fetched_at_limit": f"fetched_at + {CLOCK_SKEW}"}

PRICES = DatasetSuite(
    dataset=tables.PRICES.name,
    key=tables.PRICES.keys,
    time_column="ts",
    derived={**_FETCH_LIMIT, "asset_class": "the asset's class from the reference data"},
    checks=(
        *not_null(
            "asset_id", "resolution", "ts", *_PRICE_COLUMNS, why="part of the key or of the bar"
        ),
        *(at_least(c, 0, strict=True, why="a traded price is positive") for c in _PRICE_COLUMNS),
        *(
            a_at_least_b(a, b, says=f"{a} must be >= {b}", why="a bar's range holds its prices")
            for a, b in (
                ("high", "open"),
                ("high", "close"),
                ("open", "low"),
                ("close", "low"),
                ("high", "low"),
            )
        ),
        at_least("volume", 0, strict=False, why="volume is a quantity (null: not published)"),
        Check(
            _BETWEEN,
            {
                "column": "close",
                "min_value": STABLECOIN_BAND_USD[0],
                "max_value": STABLECOIN_BAND_USD[1],
            },
            "a stablecoin's close must be within 0.5-1.5 USD",
            "real de-pegs stay inside the band; outside it is a unit or symbol error",
            where=RowFilter("asset_class", ("stablecoin",)),
        ),
        *valid_timestamp("ts"),
    ),
)


ONCHAIN = DatasetSuite(
    dataset=tables.ONCHAIN.name,
    key=tables.ONCHAIN.keys,
    time_column="ts",
    derived={
        **_FETCH_LIMIT,
        "nav_change": "|nav_usd / previous nav_usd - 1| of the same asset and source",
    },
    checks=(
        *not_null("asset_id", "ts", "source", why="part of the key"),
        *(
            at_least(c, 0, strict=False, why="counts and USD amounts are not negative")
            for c in ONCHAIN_METRICS
        ),
        Check(
            _BETWEEN,
            {"column": "nav_change", "min_value": 0, "max_value": MAX_NAV_CHANGE},
            f"nav_usd must change at most {MAX_NAV_CHANGE:.0%} from the previous day",
            "fund NAVs move by basis points a day; a jump is a decimal-shift or wrong asset",
        ),
        *valid_timestamp("ts"),
    ),
)

ECONOMIC = DatasetSuite(
    dataset=tables.ECONOMIC.name,
    key=tables.ECONOMIC.keys,
    time_column="observation_date",
    derived={"fetched_date": "the UTC date of fetched_at"},
    checks=(
        *not_null("series_id", "region", "observation_date", why="part of the key"),
        Check(
            _BETWEEN,
            {"column": "value", "min_value": -sys.float_info.max, "max_value": sys.float_info.max},
            "value must be finite",
            "an infinite value is an overflow in the source or the parser (null: no value)",
        ),
        a_at_least_b(
            "fetched_date",
            "observation_date",
            says="observation_date must not be after the fetch date",
            why="an observation cannot be published before it happens",
        ),
        Check(
            _BETWEEN,
            {
                "column": "value",
                "min_value": RATE_BAND_PERCENT[0],
                "max_value": RATE_BAND_PERCENT[1],
            },
            "a nominal interest rate must be within -5..50 percent",
            "outside it is a unit error (basis points, fractions)",
            where=RowFilter("series_id", RATE_SERIES),
        ),
    ),
)

NEWS = DatasetSuite(
    dataset=tables.NEWS.name,
    key=tables.NEWS.keys,
    time_column="published_at",
    derived={**_FETCH_LIMIT, "url_or_outlet": "url, else outlet (empty text counts as missing)"},
    checks=(
        *not_null("article_id", "published_at", "title", why="identify and show the article"),
        *not_null("url_or_outlet", why="an article must be traceable to where it appeared"),
        Check(
            "expect_column_values_to_match_regex",
            {"column": "title", "regex": r"\S"},
            "title must not be blank",
            "a blank title is a parsing error; sentiment needs text",
        ),
        *valid_timestamp("published_at", not_before_2009=False),
    ),
)

TRANSFERS = DatasetSuite(
    dataset=tables.TRANSFERS.name,
    key=tables.TRANSFERS.keys,
    time_column="block_ts",
    derived=_FETCH_LIMIT,
    checks=(
        *not_null("chain", "block_number", "log_index", "contract_address", why="part of the key"),
        *not_null("block_ts", why="a log's day is its block's"),
        at_least("block_number", 0, strict=False, why="block numbers count from genesis"),
        *valid_timestamp("block_ts"),
    ),
)

SUITES: Mapping[str, DatasetSuite] = {
    s.dataset: s for s in (PRICES, ONCHAIN, ECONOMIC, NEWS, TRANSFERS)
}


def suite_for(dataset: str) -> DatasetSuite:
    """The suite of ``dataset``; :class:`ConfigurationError` naming the known ones if unknown."""
    try:
        return SUITES[dataset]
    except KeyError:
        known = ", ".join(SUITES)
        raise ConfigurationError(
            f"no quality suite for dataset {dataset!r}; known: {known}"
        ) from None


def table_checks(
    suite: DatasetSuite, *, now: dt.datetime, freshness_hours: float
) -> tuple[Check, ...]:
    """Whole-table checks of a silver table: its key is unique, and its newest record is at most
    ``freshness_hours`` old (a warning: a quiet source is worth knowing, not a failure)."""
    oldest_fresh = now - dt.timedelta(hours=freshness_hours)
    unique = Check(
        "expect_compound_columns_to_be_unique",
        {"column_list": list(suite.key)},
        f"({', '.join(suite.key)}) must be unique",
        "silver is keyed; a duplicate key means a MERGE went wrong",
    )
    fresh = Check(
        "expect_column_max_to_be_between",
        {"column": suite.time_column, "min_value": oldest_fresh},
        f"newest {suite.time_column} must be within {freshness_hours:g} h of the check",
        "a source that stopped delivering shows up here first",
        severity="warning",
    )
    return (unique, fresh)


def suites_markdown() -> str:
    """The suites as the Markdown table of docs/quality.md (``python -m
    pipelines.quality.suites`` prints it), so the page never drifts from the code."""
    lines = [
        "| table | rule (the rejection reason) | expectation | columns | bound | why |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for suite in SUITES.values():
        for check in suite.checks:
            bound = {k: v for k, v in check.kwargs.items() if k not in _COLUMN_ARGS}
            if check.where is not None:
                bound["where"] = check.where.describe()
            shown = ", ".join(f"{k}={_short(v)}" for k, v in bound.items())
            lines.append(
                f"| {suite.dataset} | {check.says} | `{check.expectation}` | "
                f"{', '.join(check.columns)} | {shown} | {check.why} |"
            )
    return "\n".join(lines)


_COLUMN_ARGS = frozenset({"column", "column_A", "column_B", "column_list"})


def _short(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, float) and abs(value) == sys.float_info.max:
        return "largest float" if value > 0 else "-largest float"
    return str(value)


if __name__ == "__main__":
    print(suites_markdown())
