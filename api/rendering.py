"""JSON bodies built from the store's Arrow columns, for the routes that serve many rows.

Validating each row into a response schema (pydantic from attributes, a Python after-validator
per timestamp) and letting FastAPI check the result again cost milliseconds per thousand rows:
most of an hourly read's time. Here each column is checked once, vectorised, against what the
row schema's JSON schema promises (the OpenAPI document's own words), the rows become plain dicts
in the schema's field order and orjson writes them. The bytes equal those of the validated path
(``tests/api/test_rendering.py``): orjson and pydantic print floats alike (shortest round-trip),
UTC instants end in ``Z``, integers in number fields become floats, and what validation would
refuse (a NaN, an infinity, a null where a value is required, a value out of its range) is
refused here too, as a 500, never served.

Routes answer with the :class:`~starlette.responses.Response` this builds; FastAPI passes a
Response through without validating it again, while the route's ``response_model`` still
documents the body in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Response
from pydantic import BaseModel

#: Timestamps as the response schemas serve them: UTC (pydantic prints a zero offset as ``Z``).
_UTC_TS = pa.timestamp("us", tz="UTC")
_NAIVE_TS = pa.timestamp("us")
#: UTC as ``Z``, naive datetimes (UTC wall-clock times, see :func:`_column`) as UTC.
_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


class UnservableValueError(ValueError):
    """A stored value the response schema does not allow (validation would refuse it too)."""


def json_response(content: object, status_code: int = 200) -> Response:
    """``content`` (dicts, lists, str, numbers, UTC datetimes, dates) as a JSON response."""
    return Response(dump_json(content), status_code=status_code, media_type="application/json")


def dump_json(content: object) -> bytes:
    """``content`` as the JSON bytes :func:`json_response` sends."""
    return orjson.dumps(content, option=_ORJSON_OPTIONS)


def envelope(
    head: BaseModel, field: str, rows: Sequence[dict[str, Any]] | orjson.Fragment
) -> dict[str, Any]:
    """``head`` (validated, with ``field`` empty) as a JSON-ready dict in field order, with
    ``rows`` (or their JSON, as a fragment) in ``field``: the cheap validation of one
    object, none of the rows again."""
    body = {name: _big_int_as_json(value) for name, value in head.model_dump(mode="json").items()}
    if field not in body:
        raise KeyError(f"{type(head).__name__} has no field {field!r}")
    body[field] = rows
    return body


def _big_int_as_json(value: object) -> object:
    """An integer orjson cannot write (beyond 64 bits, e.g. a client's absurd ``offset``) as
    the JSON literal pydantic writes for it; any other value as it is."""
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value).encode())
    return value


@dataclass(frozen=True, slots=True)
class _Field:
    """What the JSON schema of a row schema says about one of its fields."""

    name: str
    kind: str  # number, integer, date-time, date, plain
    nullable: bool
    default: Any
    minimum: float | None
    maximum: float | None


#: A column of an Arrow table, or an array.
Column: TypeAlias = "pa.ChunkedArray[Any] | pa.Array[Any]"

_KINDS = {"number", "integer", "string", "boolean"}
_CONSTRAINTS_HANDLED = {
    "type",
    "format",
    "title",
    "description",
    "examples",
    "deprecated",
    "default",
}


def _field(name: str, prop: dict[str, Any], required: bool, default: Any) -> _Field:
    options = prop.get("anyOf", [prop])
    values = [option for option in options if option.get("type") != "null"]
    if len(values) != 1:
        raise TypeError(f"field {name!r}: only one non-null type can be rendered, got {options}")
    value = values[0]
    unknown = set(value) - _CONSTRAINTS_HANDLED - {"minimum", "maximum"}
    if value.get("type") not in _KINDS or unknown:
        raise TypeError(f"field {name!r}: cannot render {value} (constraints {unknown or '-'})")
    kind = value.get("format") if value.get("format") in ("date-time", "date") else value["type"]
    return _Field(
        name=name,
        kind=kind if kind in ("number", "integer", "date-time", "date") else "plain",
        nullable=len(values) < len(options),
        default=None if required else default,
        minimum=value.get("minimum"),
        maximum=value.get("maximum"),
    )


@cache
def _fields(schema: type[BaseModel]) -> tuple[_Field, ...]:
    """The renderable fields of ``schema``, in its field (and so serialisation) order."""
    json_schema = schema.model_json_schema(mode="serialization")
    props: dict[str, Any] = json_schema["properties"]
    required = set(json_schema.get("required", []))
    return tuple(
        _field(name, props[name], name in required, info.default)
        for name, info in schema.model_fields.items()
    )


def _column(field: _Field, column: Column) -> list[Any]:
    """The values of ``column`` as ``field`` serves them, checked as validation checks them."""
    if field.kind == "number":
        column = column.cast(pa.float64())
        if pc.all(pc.is_finite(column)).as_py() is False:  # nulls are skipped
            raise UnservableValueError(f"{field.name!r} holds a NaN or an infinity")
    elif field.kind == "integer":
        column = column.cast(pa.int64())
    elif field.kind == "date-time":
        # UTC wall-clock times without a zone, through numpy: pyarrow makes a zoned datetime
        # in ~20 us, numpy a naive one in ~50 ns; orjson writes naive ones as UTC, with Z.
        column = column.cast(_UTC_TS).cast(_NAIVE_TS)
    elif field.kind == "date":
        column = column.cast(pa.date32())
    if column.null_count and not field.nullable:
        raise UnservableValueError(f"{field.name!r} is required but holds nulls")
    _check_range(field, column)
    if field.kind == "date-time":
        return _through_numpy(column, np.int64, "datetime64[us]")
    if field.kind == "date":
        return _through_numpy(column, np.int32, "datetime64[D]")
    return column.to_pylist()


def _through_numpy(column: Column, stored: type[np.integer[Any]], unit: str) -> list[Any]:
    """Temporal values as Python ones, made by numpy from Arrow's buffers (nulls None).
    By hand, because pyarrow's ``to_numpy`` and null filling import pandas: seconds on the
    first request a server answers."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    count, offset = len(array), array.offset
    if count == 0:
        return []
    validity, data = array.buffers()[:2]
    assert data is not None  # a fixed-width array of at least one value has its data buffer
    values = np.frombuffer(data.to_pybytes(), stored, count=offset + count)[offset:].astype(unit)
    if validity is not None and array.null_count:
        bitmap = np.frombuffer(validity.to_pybytes(), np.uint8)
        valid = np.unpackbits(bitmap, axis=0, bitorder="little")[offset : offset + count]
        values[valid == 0] = np.datetime64("NaT")
    result: list[Any] = values.tolist()  # NaT becomes None
    return result


def _check_range(field: _Field, column: Column) -> None:
    if field.minimum is None and field.maximum is None:
        return
    low, high = pc.min(column).as_py(), pc.max(column).as_py()
    if low is None:  # no values
        return
    if field.minimum is not None and low < field.minimum:
        raise UnservableValueError(f"{field.name!r} holds {low} < {field.minimum}")
    if field.maximum is not None and high > field.maximum:
        raise UnservableValueError(f"{field.name!r} holds {high} > {field.maximum}")


def rows_from_arrow(schema: type[BaseModel], table: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``table`` as JSON-ready dicts of ``schema`` (a flat response schema):
    its fields in its order, columns it lacks at their defaults, other columns ignored.
    Raises UnservableValueError where validating into ``schema`` would fail."""
    columns = []
    for field in _fields(schema):
        if field.name in table.column_names:
            columns.append(_column(field, table.column(field.name)))
        else:
            columns.append([field.default] * table.num_rows)
    return _row_builder(schema)(columns)


RowBuilder = Callable[[list[list[Any]]], list[dict[str, Any]]]


@cache
def _row_builder(schema: type[BaseModel]) -> RowBuilder:
    """A function making the row dicts of ``schema`` from its columns: a comprehension with
    a dict display, written for the schema's field names (as ``dataclasses`` writes
    ``__init__``), builds rows twice as fast as ``dict(zip(names, values))``."""
    names = [field.name for field in _fields(schema)]
    if not all(name.isidentifier() for name in names):
        raise TypeError(f"{schema.__name__}: field names must be identifiers, got {names}")
    values = ", ".join(f"v{i}" for i in range(len(names)))
    display = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(names))
    source = f"lambda columns: [{{{display}}} for {values}, in zip(*columns)]"
    builder: RowBuilder = eval(source, {})  # our own field names, checked above
    return builder
