"""Reading a CSV file of transactions, all or nothing.

The columns are the fields of ``POST /portfolios/{id}/transactions`` (docs/api.md):
``executed_at, kind, asset_id, quantity`` required, ``price, fee, wallet_address, chain, note``
optional, in any order, one header line first. An empty cell is an absent value (a fee of 0,
no price for a transfer out). Every row is checked as that endpoint checks one body; any error
in any row refuses the whole file with a report naming each bad row (counting the header as
row 1), column and message, and nothing is imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from pydantic import ValidationError

from api.portfolios.schemas import TransactionIn

#: Most rows one import takes (the request's size is capped too: ``RWA_API_MAX_BODY_BYTES``).
MAX_ROWS = 5000
REQUIRED = ("executed_at", "kind", "asset_id", "quantity")
OPTIONAL = ("price", "fee", "wallet_address", "chain", "note")
COLUMNS = REQUIRED + OPTIONAL
#: The form field a multipart upload carries the file in.
FILE_FIELD = "file"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of the file: its row (the header is row 1; 0 for the file as a whole),
    the column (None for the row or file as a whole) and what is wrong."""

    row: int
    column: str | None
    message: str
    kind: str = "csv_row"
    value: Any = None

    def as_detail(self) -> dict[str, Any]:
        """The error in FastAPI's 422 shape: ``loc`` is ``["body", row, column]``."""
        loc: list[str | int] = ["body", self.row]
        if self.column:
            loc.append(self.column)
        return {"loc": loc, "msg": self.message, "type": self.kind, "input": self.value}


class ImportRefusedError(Exception):
    """The file cannot be imported; :attr:`errors` says where and why."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} errors in the file")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ParsedRow:
    row: int
    transaction: TransactionIn


def file_of(content_type: str, body: bytes) -> bytes:
    """The CSV bytes of a request: its body (``text/csv``), or the ``file`` field of a
    ``multipart/form-data`` body (read with the standard library's MIME parser)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if isinstance(message, EmailMessage) and message.is_multipart():
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == FILE_FIELD:
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else b""
    raise ImportRefusedError([RowError(0, None, f"no {FILE_FIELD!r} field in the form")])


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        message = f"not UTF-8 text (byte {error.start})"
        raise ImportRefusedError([RowError(0, None, message)]) from None


def _header_errors(header: list[str] | None) -> list[RowError]:
    if not header:
        return [RowError(1, None, f"no header: expected columns {', '.join(COLUMNS)}")]
    errors = [
        RowError(1, name, f"unknown column {name!r}: the columns are {', '.join(COLUMNS)}")
        for name in header
        if name not in COLUMNS
    ]
    errors += [RowError(1, name, "column missing") for name in REQUIRED if name not in header]
    duplicated = {name for name in header if header.count(name) > 1}
    errors += [RowError(1, name, "column repeated") for name in sorted(duplicated)]
    return errors


def _row_errors(row: int, error: ValidationError) -> list[RowError]:
    found = []
    for problem in error.errors(include_url=False):
        column = str(problem["loc"][0]) if problem["loc"] else None
        message = problem["msg"].removeprefix("Value error, ")
        found.append(RowError(row, column, message, problem["type"], problem.get("input")))
    return found


def _cells(record: dict[Any, Any]) -> int:
    extra = record.get(None)
    present = [v for k, v in record.items() if k is not None and v is not None]
    return len(present) + (len(extra) if isinstance(extra, list) else 0)


def parse(data: bytes) -> list[ParsedRow]:
    """Every row of the file as a transaction; :class:`ImportRefusedError` listing every
    problem when any row (or the header) is bad."""
    reader = csv.DictReader(io.StringIO(_text(data), newline=""), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as error:
        raise ImportRefusedError([RowError(1, None, f"not CSV: {error}")]) from None
    columns = list(header) if header else []
    errors = _header_errors(columns or None)
    if errors:
        raise ImportRefusedError(errors)
    parsed: list[ParsedRow] = []
    row = 1
    try:
        for record in reader:
            row = reader.line_num  # where the record ends: the row a spreadsheet shows
            if len(parsed) + len(errors) >= MAX_ROWS:
                raise ImportRefusedError([RowError(0, None, f"more than {MAX_ROWS} rows")])
            if None in record or None in record.values():
                errors.append(
                    RowError(row, None, f"{_cells(record)} cells: expected {len(columns)}")
                )
                continue
            values = {name: value for name, value in record.items() if value != ""}
            try:
                parsed.append(ParsedRow(row, TransactionIn.model_validate(values)))
            except ValidationError as error:
                errors.extend(_row_errors(row, error))
    except csv.Error as error:
        errors.append(RowError(row + 1, None, f"not CSV: {error}"))
    if errors:
        raise ImportRefusedError(errors)
    if not parsed:
        raise ImportRefusedError([RowError(0, None, "no rows after the header")])
    return parsed
