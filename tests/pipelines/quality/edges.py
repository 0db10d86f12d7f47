"""Rows that hit every row-level check's edges (nulls, NaN, infinities, exact bounds, equal
pairs, a missing side, row filters, blank and whitespace-only text, clock skew, NAV jumps across
silver history and the batch), shared by the tests that compare a compiled gate (Spark, DuckDB)
with Great Expectations; and what those tests compare."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from pipelines.quality.gate import QualityGate
from pipelines.quality.results import ExpectationResult
from pipelines.quality.suites import EARLIEST_TS
from tests.pipelines.quality.silver_rows import FETCHED, silver_rows

NAN, INF = float("nan"), float("inf")
MICRO = dt.timedelta(microseconds=1)
SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Verdicts:
    """What a gate decided on a batch."""

    reasons: dict[str, str | None]  # ingest_id -> reason (None: accepted)
    results: list[tuple[Any, ...]]


def by_gx(gx: QualityGate, dataset: str, rows: pa.Table) -> Verdicts:
    """The GX gate's reasons and result counts: the reference."""
    outcome = gx.check(dataset, rows, batch_id=1, run_id="gx")
    reasons: dict[str, str | None] = dict.fromkeys(outcome.valid.column("ingest_id").to_pylist())
    rejected = outcome.rejected.select(["ingest_id", "reason"]).to_pylist()
    reasons |= {row["ingest_id"]: row["reason"] for row in rejected}
    return Verdicts(reasons, [counts(r) for r in outcome.results])


def whole(result: ExpectationResult) -> dict[str, Any]:
    """Every field of a result but the instant it was made."""
    return {k: v for k, v in asdict(result).items() if k != "validated_at"}


def counts(result: ExpectationResult) -> tuple[Any, ...]:
    """What every gate must report alike (GX's samples are pandas values, not compared)."""
    percent = result.unexpected_percent
    return (
        result.expectation,
        result.kwargs,
        result.success,
        result.element_count,
        result.unexpected_count,
        None if percent is None else round(percent, 9),
    )


def tagged(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows with distinct ingest ids r0, r1, ... so the verdicts can be told apart."""
    return [{"ingest_id": f"r{i}"} | row for i, row in enumerate(rows)]


def bar(price: float, asset_id: str = "usdc") -> dict[str, Any]:
    return {"asset_id": asset_id, "open": price, "high": price, "low": price, "close": price}


PRICE_EDGES = (
    {},
    {"high": None},
    {"open": NAN},
    {"close": INF, "high": INF},
    {"low": -INF},
    {"volume": NAN},
    {"volume": 0.0},
    {"volume": -0.0},
    {"volume": -1e-300},
    {"close": 0.0, "low": 0.0},
    {"open": 0.0, "low": 0.0},
    {"high": 100.0, "open": 100.0, "close": 100.0},
    {"high": math.nextafter(100.0, 0), "open": 100.0},
    {"high": None, "open": 200.0},
    {"ts": None},
    {"ts": EARLIEST_TS},
    {"ts": EARLIEST_TS - MICRO},
    {"ts": FETCHED + SKEW},
    {"ts": FETCHED + SKEW + MICRO},
    {"fetched_at": None, "ts": FETCHED + 2 * SKEW},
    bar(0.5),
    bar(1.5),
    bar(math.nextafter(1.5, 2)),
    bar(0.49),
    bar(NAN),
    bar(0.2, "btc"),
    bar(0.2, "no-such-asset"),
    {"asset_id": None, "close": 0.2, "low": 0.2, "open": 0.2},
    {"resolution": None, "high": 90.0, "low": 95.0, "volume": -2.0},
)


ONCHAIN_HISTORY = (
    (0, "ousg", "simulated", 100.0),
    (1, "ousg", "simulated", 100.5),
    (1, "buidl", "simulated", NAN),
    (0, "buidl", "simulated", 1.0),
)


def day(n: int) -> dict[str, Any]:
    ts = dt.datetime(2026, 2, 20, tzinfo=dt.UTC) + dt.timedelta(days=n)
    return {"ts": ts, "date": ts.date()}


def nav(n: int, value: float | None, asset_id: str = "ousg", source: str = "simulated") -> dict:
    return day(n) | {"nav_usd": value, "asset_id": asset_id, "source": source}


def write_onchain_history(onchain_uri: str) -> None:
    """silver/onchain holding :data:`ONCHAIN_HISTORY` (the days before the edges' batch)."""
    history = silver_rows("onchain", *(nav(n, v, a, s) for n, a, s, v in ONCHAIN_HISTORY))
    write_deltalake(onchain_uri, history, partition_by=["date"], mode="overwrite")


ONCHAIN_EDGES = (
    nav(1, 130.0),  # replaces history's day 1: compared with day 0 (100): +30%
    nav(2, 131.0),
    nav(3, None),
    nav(4, 170.0),  # previous present NAV is day 2's
    nav(5, 170.0),
    nav(5, 100.0),  # same key twice: batch order decides which is previous
    nav(2, 1.0, "buidl"),  # history's NaN of day 1 is skipped: day 0 (1.0) is previous
    nav(3, 0.0, "buidl"),
    nav(4, 0.0, "buidl"),  # 0/0: NaN, not counted
    nav(5, 5.0, "buidl"),  # 5/0: infinite
    nav(2, NAN, "ousg", "defillama"),
    nav(3, 50.0, "ousg", "defillama"),
    nav(4, 62.5, "ousg", "defillama"),  # exactly +25%
    nav(6, 78.2, "ousg", "defillama"),
    nav(7, INF, "ousg", "defillama"),
    nav(8, 1.0, "ousg", "defillama"),  # 1/inf - 1
    nav(3, 0.0, "usyc", "defillama"),
    nav(4, None, "usyc", "defillama"),  # no NAV after a zero NAV: not counted
    nav(3, -1.0, "usyc"),
    nav(4, 1.0, "usyc"),
    nav(2, 1.0, None) | {"holders": -1, "tvl_usd": NAN},
    {"holders": None, "transfer_count": 0, "transfer_volume_usd": -INF, "nav_usd": None},
    {"ts": None, "source": None, "total_supply": -0.0, "nav_usd": None},
    {"ts": FETCHED + SKEW + MICRO, "nav_usd": None},
)


ECONOMIC_EDGES = (
    {},
    {"value": None},
    {"value": NAN},
    {"value": INF, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": -INF, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": 1.7976931348623157e308, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": 450.0, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": 50.0},
    {"value": math.nextafter(50.0, 51)},
    {"value": -5.0, "series_id": "DTB3"},
    {"value": -5.1, "series_id": "DFF"},
    {"value": 80.0, "series_id": None},
    {"observation_date": dt.date(2026, 3, 2)},
    {"observation_date": dt.date(2026, 3, 3)},
    {"fetched_at": None, "observation_date": dt.date(2030, 1, 1)},
    {"fetched_at": dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt.UTC)},
    {"region": None, "observation_date": None},
)


NEWS_EDGES = (
    {},
    {"url": None},
    {"url": "", "outlet": None},
    {"url": "  ", "outlet": "\u00a0"},
    {"url": "\u2003", "outlet": "Example"},
    {"url": None, "outlet": "\x1c"},
    {"title": "   "},
    {"title": "\t\n"},
    {"title": "\u3000"},
    {"title": "\x1c\x1f"},
    {"title": "\u200b"},  # a zero-width space is not whitespace to Python
    {"title": ""},
    {"title": None},
    {"title": " a "},
    {"published_at": FETCHED + SKEW},
    {"published_at": FETCHED + SKEW + MICRO},
    {"published_at": None},
    {"published_at": dt.datetime(1998, 1, 1, tzinfo=dt.UTC)},
)


TRANSFER_EDGES = (
    {},
    {"block_number": -1},
    {"block_number": 0},
    {"block_number": None},
    {"block_ts": None},
    {"block_ts": EARLIEST_TS - MICRO},
    {"block_ts": FETCHED + SKEW + MICRO},
    {"chain": None, "log_index": None, "contract_address": None},
)


PRICE_VALUES = st.sampled_from([None, NAN, INF, -INF, 0.0, -0.0, 0.5, 1.5, 95.0, 100.0, 110.0])
#: Random batches of price rows (hypothesis) built from those values.
PRICE_ROWS = st.lists(
    st.fixed_dictionaries(
        {c: PRICE_VALUES for c in ("open", "high", "low", "close", "volume")}
        | {"asset_id": st.sampled_from(["btc", "usdc", None])}
    ),
    min_size=1,
    max_size=25,
)


def random_batches(examples: int) -> settings:
    """Hypothesis settings for tests that run whole gates per example (slow, fixtures shared)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


#: GX regexes a translation must keep, and texts that tell Python's ``re`` from Java and RE2
#: (Unicode whitespace, a final newline before ``$``, ``\r`` for Java's ``.`` and ``$``).
PATTERNS = (r"\S", r"^\s*$", r"[\sx]", r"a\.b", r"[\]\s]", r"^a.c$", r"x$|^y", r"[^\s]", r"\Aab\Z")
SUBJECTS = ("", " ", "a", "abc", "a\nc", "abc\n", "x\n", "x\n\n", "y", "\u3000", "\x1c", "\u200b")
SUBJECTS += ("a.b", "ab\n", "ab", "]", "\xa0x", "\r", "x\r", "a\rc", "a\x85c", "x\u2028")
