"""Inclusive ranges of UTC calendar days: what a backfill or a gold range run covers.

A gold run recomputes every day silver holds (``None``) or an inclusive range of days. Every
gold table is keyed by day (intraday bars by the day their bucket starts in), so a range run
reads what those days need and replaces exactly those days in each table. A silver backfill
reprocesses the bronze objects fetched on a range of days (bronze is partitioned by fetch date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.core.errors import ConfigurationError

if TYPE_CHECKING:  # imported where a Spark condition is built
    from pyspark.sql import Column, DataFrame


@dataclass(frozen=True, slots=True)
class DayRange:
    """Inclusive range of UTC calendar days."""

    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ConfigurationError(
                f"date range: first day {self.first} is after last day {self.last}"
            )

    def days(self) -> list[dt.date]:
        """Every day of the range, in order."""
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def hull(self, other: DayRange | None) -> DayRange:
        """The smallest range covering both."""
        if other is None:
            return self
        return DayRange(min(self.first, other.first), max(self.last, other.last))

    def __str__(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def predicate(self, column: str = "date") -> str:
        """SQL predicate selecting the range, for Delta ``replaceWhere`` and MERGE clauses."""
        return f"{column} >= '{self.first.isoformat()}' AND {column} <= '{self.last.isoformat()}'"

    def contains(self, column: Column) -> Column:
        """Spark condition: ``column`` (a date) lies in the range."""
        from pyspark.sql import functions as F

        return column.between(F.lit(self.first), F.lit(self.last))


def restrict(df: DataFrame, days: DayRange | None, column: str = "date") -> DataFrame:
    """``df`` limited to ``days`` (all of it when ``days`` is None: a full run)."""
    from pyspark.sql import functions as F

    return df if days is None else df.where(days.contains(F.col(column)))
