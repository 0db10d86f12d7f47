"""The connector framework: every source is one small class with the same three steps.

1. :meth:`Connector.build_requests` turns a :class:`FetchWindow` into the requests to make;
2. :meth:`Connector.fetch` makes one request and returns the raw response, untouched;
3. :meth:`Connector.to_envelope` wraps request + response into a bronze :class:`RawEnvelope`.

:meth:`Connector.collect` runs the three lazily, one envelope at a time, so a caller can publish
or land each response as soon as it arrives. Paginated sources override
:meth:`Connector.next_page`; sources whose detail requests depend on a listing's answer override
:meth:`Connector.follow_ups`. Transport concerns of real HTTP sources (retries, rate limits, API
keys) live in :mod:`pipelines.ingestion.http`, not in this base. How a connector is built from
settings is the registry's (:mod:`pipelines.ingestion.registry`): each source takes only its own
settings section.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipelines.contracts.envelope import Dataset, RawEnvelope


def require_utc(value: dt.datetime, name: str) -> dt.datetime:
    """``value`` as a UTC datetime; naive datetimes are refused (their instant is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class FetchWindow:
    """The half-open interval ``[start, end)`` of source time to fetch, in UTC."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        # Normalise any aware datetime to UTC so equal instants compare and print equal.
        object.__setattr__(self, "start", require_utc(self.start, "start"))
        object.__setattr__(self, "end", require_utc(self.end, "end"))
        if self.end <= self.start:
            raise ValueError(
                f"window end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            )

    @classmethod
    def for_days(cls, first: dt.date, days: int) -> FetchWindow:
        """``days`` whole UTC days starting at midnight of ``first``."""
        start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
        return cls(start, start + dt.timedelta(days=days))

    def intersect(self, other: FetchWindow) -> FetchWindow | None:
        """The overlap of two windows, or None when they do not overlap."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return FetchWindow(start, end) if start < end else None

    def days(self) -> list[dt.date]:
        """Every UTC date the window touches, in order."""
        first, last = self.start.date(), (self.end - dt.timedelta(microseconds=1)).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class SourceRequest:
    """One call to a source: the dataset it feeds, the endpoint (path template) and its params."""

    dataset: Dataset
    endpoint: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A source's answer exactly as received, and when it was received (UTC)."""

    payload: Any
    fetched_at: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "fetched_at", require_utc(self.fetched_at, "fetched_at"))


class Connector(ABC):
    """A source of raw responses. Subclasses set ``name`` and implement the first two steps."""

    #: Registry name, also the envelope's ``source``.
    name: ClassVar[str]

    @abstractmethod
    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        """The requests that cover ``window``, in the order they should be made."""

    @abstractmethod
    def fetch(self, request: SourceRequest) -> RawResponse:
        """Make one request; the payload is returned as the source sent it."""

    def to_envelope(self, request: SourceRequest, response: RawResponse) -> RawEnvelope:
        """Wrap one response for bronze."""
        return RawEnvelope.wrap(
            source=self.name,
            dataset=request.dataset,
            endpoint=request.endpoint,
            params=request.params,
            fetched_at=response.fetched_at,
            payload=response.payload,
        )

    def next_page(self, request: SourceRequest, response: RawResponse) -> SourceRequest | None:
        """The request for the page after ``response``, or None when it was the last one.
        Paginated sources override this; each page is landed as its own raw response."""
        return None

    def follow_ups(self, request: SourceRequest, response: RawResponse) -> list[SourceRequest]:
        """Requests that only ``response`` makes known, e.g. one detail request per item of a
        listing whose ids the source assigns itself. :meth:`collect` makes them right after
        ``request`` and its pages, in the order returned. The default is none."""
        return []

    def collect(self, window: FetchWindow) -> Iterator[RawEnvelope]:
        """Build, fetch (following pages and follow-ups) and wrap every request for ``window``,
        lazily and in request order."""
        pending = deque(self.build_requests(window))
        while pending:
            request: SourceRequest | None = pending.popleft()
            discovered: list[SourceRequest] = []
            while request is not None:
                response = self.fetch(request)
                yield self.to_envelope(request, response)
                discovered += self.follow_ups(request, response)
                request = self.next_page(request, response)
            # Depth first: a listing's follow-ups run before the requests built after it.
            pending.extendleft(reversed(discovered))
