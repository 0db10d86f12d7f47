"""The client's table of API operations: one :class:`Operation` per method and path of the
API, declared beside the method that calls it. ``tests/client/test_coverage.py`` compares
:data:`OPERATIONS` with the API's OpenAPI document, so an endpoint without a client method
(or a query parameter the method cannot send) fails the suite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, TypeAlias
from urllib.parse import quote

#: A time parameter: an instant (a naive one is taken as UTC), a day, or the API's own text.
When: TypeAlias = dt.datetime | dt.date | str
Query: TypeAlias = Mapping[str, object]


@dataclass(frozen=True)
class Operation:
    """``method`` and ``path`` (the OpenAPI template, e.g. ``/assets/{asset_id}``), the query
    parameters the API takes, and for an offset-paged listing the field holding its rows."""

    method: str
    path: str
    query: tuple[str, ...] = ()
    rows: str | None = None

    @property
    def paged(self) -> bool:
        return "offset" in self.query

    def url(self, **path: object) -> str:
        return self.path.format(**{name: _path_part(value) for name, value in path.items()})

    def params(self, values: Query) -> dict[str, str]:
        """``values`` without the Nones, as the query string writes them; a name this
        operation does not take is a bug in the client (TypeError)."""
        unknown = set(values) - set(self.query)
        if unknown:
            raise TypeError(f"{self.method} {self.path} takes no {sorted(unknown)}")
        return {name: text(value) for name, value in values.items() if value is not None}


#: Every operation the client calls, in declaration order.
OPERATIONS: list[Operation] = []


def operation(method: str, path: str, *query: str, rows: str | None = None) -> Operation:
    """Declare (and register) an operation of the API."""
    declared = Operation(method, path, query, rows)
    OPERATIONS.append(declared)
    return declared


def text(value: object) -> str:
    """A parameter as the API reads it: instants in UTC (RFC 3339), days ISO, enums by value,
    booleans lower case, sequences comma-separated."""
    if isinstance(value, dt.datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(text(item) for item in value)
    return str(value)


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the fields given (Nones left out, so the API's defaults apply); exact
    numbers (Decimal) as strings, times as :func:`text` writes them."""
    return {name: _json(value) for name, value in fields.items() if value is not None}


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | Enum):
        return text(value)
    return value


def _path_part(value: object) -> str:
    # Quoted so that an id with a slash or a space cannot reach another route.
    return quote(text(value), safe="")
