"""What the compiled quality gates share, whatever engine evaluates the checks.

:class:`~pipelines.quality.spark_gate.SparkQualityGate` (Spark expressions on the executors) and
:class:`~pipelines.quality.duck_gate.DuckQualityGate` (DuckDB SQL in process) run the same
row-level suites of :mod:`pipelines.quality.suites` with Great Expectations' pandas semantics,
without GX. Everything that does not depend on the engine has its one home here:

* which expectation types and arguments are compiled, and what their arguments mean
  (:func:`require_compilable`, :func:`between_bounds`, :func:`pair_or_equal`); an unknown type
  or argument raises :class:`ConfigurationError`: a new check is never skipped silently;
* GX's Python regexes translated for the engine's regex library (:func:`translate_regex`):
  Python's ``\\s`` is Unicode whitespace, Java's and RE2's are ASCII, and a few constructs mean
  something else or do not exist there; what is not translated is refused;
* the columns ``annotate`` adds (:func:`quality_columns`) and the checks on the input rows;
* the aggregates' names and GX's ``SUMMARY`` result built from them, stored in
  ``silver/quality_results`` (:class:`CompiledQualityGate`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Self, TypeVar

from pipelines.core.errors import ConfigurationError, DataContractError
from pipelines.core.settings import QualitySettings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.quality.derived import asset_classes, columns_needed
from pipelines.quality.results import ExpectationResult, ResultStore, make_result
from pipelines.quality.suites import Check, DatasetSuite, suite_for

REASON_COLUMN = "reason"
#: Prefix of every column ``annotate`` adds besides ``reason``.
QUALITY_PREFIX = "quality_"
#: Unexpected values kept per check as the result's observed value (as the GX gate keeps).
SAMPLE_SIZE = 5
#: The aggregate counting the batch's rows.
TOTAL = "rows"

NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
PAIR_GREATER = "expect_column_pair_values_a_to_be_greater_than_b"
MATCH_REGEX = "expect_column_values_to_match_regex"

#: The arguments each compiled type understands (anything else would change GX's verdict).
_KNOWN_KWARGS: Mapping[str, frozenset[str]] = {
    NOT_NULL: frozenset({"column"}),
    BETWEEN: frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"}),
    PAIR_GREATER: frozenset({"column_A", "column_B", "or_equal", "ignore_row_if"}),
    MATCH_REGEX: frozenset({"column", "regex"}),
}

Clock = Callable[[], dt.datetime]
#: An engine's expression type (a Spark Column, a DuckDB SQL text).
E = TypeVar("E")
#: How an engine samples an unexpected row's value.
S = TypeVar("S")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the checks --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CompiledCheck(Generic[E, S]):
    """A check as an engine's expressions over the batch (with its derived columns).

    ``unexpected`` is three-valued: True the row fails, False it passes, null GX does not count
    it (outside the row filter, or a value the expectation ignores: a missing value for
    ``..._to_be_between`` and ``..._match_regex``, a missing side of a pair with
    ``ignore_row_if="either_value_is_missing"``). ``scope`` is the check's row filter (None:
    every row); ``sample`` what makes the value GX lists for an unexpected row (a pair for pair
    checks); ``share_of_present`` whether GX reports the unexpected share among the rows it counted
    (every type but not-null, whose share is of all rows in scope)."""

    check: Check
    unexpected: E
    scope: E | None
    sample: S
    share_of_present: bool


def require_compilable(check: Check, engine: str) -> None:
    """ConfigurationError unless ``check``'s type and arguments are compiled."""
    known = _KNOWN_KWARGS.get(check.expectation)
    if known is None:
        raise ConfigurationError(
            f"expectation type {check.expectation!r} has no {engine} compilation; "
            f"compiled types: {', '.join(sorted(_KNOWN_KWARGS))}"
        )
    unknown = sorted(set(check.kwargs) - known)
    if unknown:
        raise ConfigurationError(
            f"{check.expectation} argument(s) {', '.join(unknown)} are not compiled to {engine}"
        )


def share_of_present(check: Check) -> bool:
    """Whether GX's unexpected share is of the counted rows (not of all rows in scope)."""
    return check.expectation != NOT_NULL


@dataclass(frozen=True, slots=True)
class Bounds:
    """The bounds of ``..._to_be_between`` (None: unbounded on that side)."""

    low: Any
    high: Any
    strict_low: bool
    strict_high: bool


def between_bounds(check: Check) -> Bounds:
    kw = check.kwargs
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is None and high is None:
        raise ConfigurationError(f"{check.says}: min_value and max_value are both None")
    return Bounds(low, high, bool(kw.get("strict_min")), bool(kw.get("strict_max")))


def pair_or_equal(check: Check) -> bool:
    """Whether a pair check passes on equality; only ``ignore_row_if="either_value_is_missing"``
    is compiled (GX's default counts a row with one side missing)."""
    ignore = check.kwargs.get("ignore_row_if", "both_values_are_missing")
    if ignore != "either_value_is_missing":
        raise ConfigurationError(f"{check.says}: ignore_row_if={ignore!r} is not compiled")
    return bool(check.kwargs.get("or_equal"))


# --- regexes -------------------------------------------------------------------------------
#: Every character Python's ``re`` (GX's pandas engine) calls whitespace (``\\s``, the
#: characters ``str.strip()`` removes). Java's and RE2's ``\\s`` mean ASCII only. No code point
#: above U+3000 is whitespace (the tests scan all of them), so the import does not.
PYTHON_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
#: Escapes with the same meaning in Python and in every dialect below.
_SAME_ESCAPES = frozenset("tnrfaAx")


@dataclass(frozen=True, slots=True)
class RegexDialect:
    """How an engine's regex library spells what Python's ``re`` means."""

    name: str
    #: A code point inside a character class.
    code_point: Callable[[int], str]
    #: Python's ``.`` (any character but ``\\n``).
    any_char: str
    #: Python's ``$`` outside a class (the end, or before a final ``\\n``).
    end: str
    #: Letter escapes meaning the same as in Python, besides :data:`_SAME_ESCAPES`.
    also_same: frozenset[str] = frozenset()
    #: Whether ``end`` consumes the newline (then ``$`` must end the pattern or a branch).
    end_consumes: bool = False

    def whitespace(self) -> str:
        """Python's whitespace set as the inside of a character class."""
        return "".join(self.code_point(ord(c)) for c in PYTHON_WHITESPACE)


#: Java's ``java.util.regex`` (Spark's ``rlike``): ``.`` and ``$`` know more line terminators
#: than ``\\n``; ``\\v`` is a class there.
JAVA = RegexDialect(
    name="Java (Spark)",
    code_point=lambda c: f"\\u{c:04x}",
    any_char="[^\\n]",
    end="(?=\\n?\\z)",
)
#: Google's RE2 (DuckDB's ``regexp_matches``): no look-ahead, so ``$`` consumes the newline.
RE2 = RegexDialect(
    name="RE2 (DuckDB)",
    code_point=lambda c: f"\\x{{{c:04x}}}",
    any_char=".",
    end="(?:\\n?\\z)",
    also_same=frozenset("v"),
    end_consumes=True,
)


def translate_regex(pattern: str, dialect: RegexDialect) -> str:
    """``pattern`` (Python ``re``, as GX searches with it) for ``dialect`` with the same matches;
    ConfigurationError for a construct whose meaning differs and is not translated (Unicode
    ``\\w \\d \\b``, back-references, inline flags and look-arounds, nested classes...)."""
    whitespace = dialect.whitespace()
    out: list[str] = []
    in_class, class_start, i = False, -1, 0

    def refuse(what: str) -> ConfigurationError:
        return ConfigurationError(
            f"regex {pattern!r}: {what} differs between Python (GX) and {dialect.name}"
        )

    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "s":
                out.append(whitespace if in_class else f"[{whitespace}]")
            elif escaped == "S" and not in_class:
                out.append(f"[^{whitespace}]")
            elif escaped == "Z" and not in_class:
                out.append("\\z")
            elif escaped.isalnum() and escaped not in _SAME_ESCAPES | dialect.also_same:
                raise refuse(f"\\{escaped}")
            else:
                out.append(char + escaped)
            i += 2
            continue
        if in_class:
            # A "]" right after "[" or "[^" is a literal in Python.
            if char == "]" and i > class_start:
                in_class = False
            elif char == "[":
                raise refuse("'[' inside a class")
            elif char == "&" and pattern.startswith("&&", i):
                raise refuse("'&&' inside a class")
            out.append(char)
        elif char == "[":
            in_class = True
            class_start = i + 2 if pattern.startswith("[^", i) else i + 1
            out.append(char)
        elif char == ".":
            out.append(dialect.any_char)
        elif char == "$":
            following = pattern[i + 1 : i + 2]
            if dialect.end_consumes and following not in ("", "|", ")"):
                raise refuse("'$' before more pattern")
            out.append(dialect.end)
        elif char == "(" and pattern.startswith("(?", i) and not pattern.startswith("(?:", i):
            raise refuse(f"{pattern[i : i + 3]!r}")
        elif char == "{" and pattern.startswith("{,", i):
            raise refuse("'{,'")
        else:
            out.append(char)
        i += 1
    return "".join(out)


# --- the annotated columns ---------------------------------------------------------------------
def check_column(position: int) -> str:
    """The verdict column of the suite's check at ``position``."""
    return f"{QUALITY_PREFIX}check_{position:02d}"


def scope_column(position: int) -> str:
    """The row-filter column of the suite's check at ``position`` (only if it has a filter)."""
    return f"{QUALITY_PREFIX}scope_{position:02d}"


def derived_column(name: str) -> str:
    return f"{QUALITY_PREFIX}{name}"


def quality_columns(suite: DatasetSuite) -> tuple[str, ...]:
    """The columns ``annotate`` adds to ``suite``'s rows besides ``reason``."""
    checks = [check_column(i) for i in range(len(suite.checks))]
    scopes = [scope_column(i) for i, c in enumerate(suite.checks) if c.where is not None]
    return (*checks, *scopes, *(derived_column(d) for d in suite.derived))


def require_columns(dataset: str, present: Sequence[str], needed: Sequence[str]) -> None:
    missing = sorted(set(needed) - set(present))
    if missing:
        raise DataContractError(
            f"{dataset} rows lack silver column(s) {', '.join(missing)} (see docs/data-model.md)"
        )


def refuse_taken_names(dataset: str, present: Sequence[str]) -> None:
    """The columns annotate adds must not overwrite the caller's (a parse's structural
    ``reason``, say): the caller drops or renames them first."""
    taken = [c for c in present if c == REASON_COLUMN or c.startswith(QUALITY_PREFIX)]
    if taken:
        raise DataContractError(
            f"{dataset} rows already have column(s) {', '.join(taken)}, which the quality gate "
            "adds: drop or rename them first"
        )


# --- the results ---------------------------------------------------------------------------
class AggregateNames(NamedTuple):
    """The names of one check's aggregates over a batch."""

    #: Rows the check's row filter keeps (all rows without a filter).
    in_scope: str
    #: Rows GX counts (a verdict that is not null).
    counted: str
    unexpected: str
    #: The first :data:`SAMPLE_SIZE` unexpected values, in row order.
    sample: str


def aggregate_names(position: int) -> AggregateNames:
    """The aggregates of the suite's check at ``position``."""
    return AggregateNames(*(f"{kind}{position}" for kind in "epus"))


def gx_result(
    position: int, share_of_present: bool, totals: Mapping[str, Any], sample: list[Any]
) -> dict[str, Any]:
    """The check's aggregates as GX's ``result`` dictionary (what :func:`make_result` reads)."""
    names = aggregate_names(position)
    element, present = int(totals[names.in_scope]), int(totals[names.counted])
    unexpected = int(totals[names.unexpected])
    base = present if share_of_present else element
    percent = unexpected / base * 100 if element > 0 and base > 0 else None
    return {
        "element_count": element,
        "unexpected_count": unexpected,
        "unexpected_percent": percent,
        "partial_unexpected_list": sample,
    }


class CompiledQualityGate:
    """The part of a compiled gate that does not depend on its engine: the reference data, the
    silver NAV table it reads and the results it stores."""

    def __init__(
        self,
        lake: DeltaLake,
        *,
        results_uri: str,
        onchain_uri: str,
        classes: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._lake = lake
        self._store = ResultStore(lake, results_uri)
        self._onchain_uri = onchain_uri
        self._classes = asset_classes() if classes is None else classes
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: QualitySettings, lake: DeltaLake, paths: LakePaths) -> Self:
        del settings  # the row-level checks have no thresholds; kept like QualityGate's
        return cls(lake, results_uri=paths.quality_results, onchain_uri=paths.silver("onchain"))

    def quality_columns(self, dataset: str) -> tuple[str, ...]:
        return quality_columns(suite_for(dataset))

    @staticmethod
    def _suite_of_rows(dataset: str, columns: Sequence[str]) -> DatasetSuite:
        """``dataset``'s suite, for rows with ``columns``: ConfigurationError for an unknown
        dataset, DataContractError for rows lacking a column the suite reads or holding one
        the gate adds."""
        suite = suite_for(dataset)
        require_columns(dataset, columns, columns_needed(suite))
        refuse_taken_names(dataset, columns)
        return suite

    def _store_compiled_results(
        self,
        suite: DatasetSuite,
        compiled: Sequence[CompiledCheck[Any, Any]],
        totals: Mapping[str, Any] | None,
        samples: Callable[[int], list[Any]],
        *,
        batch_id: int,
        run_id: str,
    ) -> list[ExpectationResult]:
        """The results of ``totals`` (the aggregates above; ``samples(i)`` check i's values as
        plain Python), stored; none for an empty batch (as the GX gate)."""
        if totals is None or totals[TOTAL] == 0:
            return []
        validated_at = self._clock()
        results = [
            make_result(
                c.check,
                gx_result(i, c.share_of_present, totals, samples(i)),
                success=totals[aggregate_names(i).unexpected] == 0,
                run_id=run_id,
                dataset=suite.dataset,
                batch_id=batch_id,
                suite=suite.name,
                validated_at=validated_at,
            )
            for i, c in enumerate(compiled)
        ]
        self._store.save(results)
        return results
