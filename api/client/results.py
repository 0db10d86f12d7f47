"""What a call returns: :class:`Result` (the JSON body, its rows, ``to_df()``) and
:class:`Page` (one page of an offset-paged listing that iterates over all of them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported when a frame is asked for, not with the client
    import pandas as pd

#: The API writes instants as RFC 3339 in UTC (``2024-01-01T00:00:00Z``) and days as ISO
#: dates; a text column whose every value is one of them is a time column.
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Result(Mapping[str, Any]):
    """A JSON answer: read it like a dict (``result["count"]``), its rows (``rows``: the
    list the answer is about, e.g. an OHLCV answer's ``bars``) and ``to_df()``."""

    def __init__(self, data: Any, rows_field: str | None = None) -> None:
        self.data = data
        self.rows_field = rows_field

    @property
    def rows(self) -> list[dict[str, Any]]:
        if isinstance(self.data, list):
            return self.data
        if self.rows_field is not None:
            rows: list[dict[str, Any]] = self.data[self.rows_field]
            return rows
        return [self.data]

    def to_df(self) -> pd.DataFrame:
        """The rows as a DataFrame: instants and days as tz-aware (UTC) datetimes, nested
        objects as dict cells."""
        return frame(self.rows)

    def __getitem__(self, key: str) -> Any:
        if not isinstance(self.data, dict):
            raise TypeError("this answer is a list: use .rows or .to_df()")
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data if isinstance(self.data, dict) else ())

    def __len__(self) -> int:
        return len(self.data) if isinstance(self.data, dict) else 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.rows)} rows)"


class Page(Result):
    """One page of a listing that pages with ``limit`` and ``offset``. Iterating over it
    (:meth:`iter_rows`, :meth:`all`) fetches the following pages as needed: up to ``total``
    where the API counts, else until a page comes back empty."""

    def __init__(
        self,
        data: Any,
        rows_field: str | None,
        offset: int,
        fetch: Callable[[int], Page] | None = None,
    ) -> None:
        super().__init__(data, rows_field)
        self.offset = offset
        self._fetch = fetch

    @property
    def total(self) -> int | None:
        """Rows of the whole listing, where the API says."""
        return self.data.get("total") if isinstance(self.data, dict) else None

    def pages(self) -> Iterator[Page]:
        """This page and each following one."""
        page: Page = self
        while True:
            yield page
            following = page.offset + len(page.rows)
            total = page.total
            if not page.rows or (total is not None and following >= total) or not page._fetch:
                return
            page = page._fetch(following)

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """Every row of the listing from this page on, a page fetched at a time."""
        for page in self.pages():
            yield from page.rows

    def all(self) -> Result:
        """Every row from this page on, fetched now, as one :class:`Result`."""
        return Result(list(self.iter_rows()))


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame.from_records(rows)
    for column in df.columns:
        values = df[column].dropna()
        if values.empty or not values.map(lambda value: isinstance(value, str)).all():
            continue
        if values.str.match(_INSTANT).all() or values.str.match(_DAY).all():
            df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    return df
