"""From a silver record's lineage columns to its bronze line and payload element.

Silver keeps, per record, the bronze object (``bronze_file``) and the envelope's ``ingest_id``,
a hash of the envelope's content. Bronze objects are immutable and one object never holds the
same envelope twice, so the line of an object whose envelope has that id is the record's line:
found by reading the object, not stored (Spark's streaming text source has no line numbers).

Within the envelope, the record is the payload element that names the record's time: every
source writes an element's time as an ISO text (``2026-02-26T00:00:00.0000000Z``), a date, or
epoch seconds or milliseconds. The payload is an array, or an object holding arrays
(FRED's ``observations``). A record whose time no single element names (a one-object answer)
is traced to its line only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

from pipelines.lake.objects import ObjectStore
from pipelines.lineage.answer import BronzeRef, Envelope

_INSTANT = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
#: Epoch numbers below this are not times (prices, counts): 2001-09-09 in seconds.
_EPOCH_FLOOR = 1_000_000_000


def parse_instant(text: str) -> dt.datetime | None:
    """An ISO date or time stamp as a UTC instant (no offset: UTC; any number of fraction
    digits, cut to microseconds), or None when ``text`` is not one."""
    match = _INSTANT.fullmatch(text.strip())
    if match is None:
        return None
    day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        stamp = dt.datetime.fromisoformat(day).replace(
            hour=int(hour or 0),
            minute=int(minute or 0),
            second=int(second or 0),
            microsecond=micros,
        )
    except ValueError:
        return None
    offset = dt.timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp.replace(tzinfo=dt.timezone(offset)).astimezone(dt.UTC)


def _scalars(item: Any, depth: int = 2) -> Iterator[Any]:
    if isinstance(item, dict):
        values: list[Any] = list(item.values())
    elif isinstance(item, list):
        values = item
    else:
        yield item
        return
    for value in values:
        if depth > 0:
            yield from _scalars(value, depth - 1)


def instants(item: Any) -> list[dt.datetime]:
    """The instants ``item`` (a payload element, or a raw record) names: ISO texts, and epoch
    seconds or milliseconds (numbers past 2001, in seconds, are taken as times)."""
    found = []
    for value in _scalars(item):
        if isinstance(value, str):
            instant = parse_instant(value)
            if instant is not None:
                found.append(instant)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value >= _EPOCH_FLOOR * 1000 else value
            if _EPOCH_FLOOR <= seconds < _EPOCH_FLOOR * 10:
                found.append(dt.datetime.fromtimestamp(seconds, dt.UTC))
    return found


def names_instant(item: Any, ts: dt.datetime) -> bool:
    """Whether ``item`` names the instant ``ts``."""
    return ts in instants(item)


def _arrays(payload: Any) -> Iterator[tuple[str, list[Any]]]:
    if isinstance(payload, list):
        yield "payload", payload
    elif isinstance(payload, dict):
        for key, value in payload.items():
            if isinstance(value, list):
                yield f"payload.{key}", value


def locate(payload: Any, ts: dt.datetime) -> tuple[str, Any] | None:
    """The payload element about ``ts`` (its path and value), or None: the one element naming
    ``ts``, or of several (a bar names the next one's start as its end), the one whose earliest
    instant ``ts`` is."""
    found = [
        (f"{name}[{index}]", item, times)
        for name, items in _arrays(payload)
        for index, item in enumerate(items)
        if ts in (times := instants(item))
    ]
    if len(found) > 1:
        found = [entry for entry in found if min(entry[2]) == ts]
    return (found[0][0], found[0][1]) if len(found) == 1 else None


class BronzeReader:
    """Reads bronze objects once per lineage answer and finds envelopes in them."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self._lines: dict[str, list[str]] = {}

    def envelope(self, key: str, ingest_id: str) -> Envelope | None:
        """The envelope with ``ingest_id`` in the object at ``key`` (None when absent)."""
        if key not in self._lines:
            # An object set aside or never landed here (a copied lake) has no lines to give.
            exists = self.objects.exists(key)
            self._lines[key] = self.objects.get(key).decode().splitlines() if exists else []
        # Bronze lines are canonical JSON: the id is matched as text, then confirmed parsed.
        needle = f'"ingest_id":"{ingest_id}"'
        for number, text in enumerate(self._lines[key], start=1):
            if needle in text:
                body = json.loads(text)
                if isinstance(body, dict) and body.get("ingest_id") == ingest_id:
                    return Envelope(key, number, body)
        return None

    def reference(self, key: str, ingest_id: str, ts: dt.datetime | None) -> BronzeRef:
        """Where a record about ``ts`` is in the envelope ``ingest_id`` of object ``key``."""
        found = self.envelope(key, ingest_id)
        if found is None:
            return BronzeRef(key, None, ingest_id)
        spot = None if ts is None else locate(found.envelope.get("payload"), ts)
        if spot is None:
            return BronzeRef(key, found.line, ingest_id)
        return BronzeRef(key, found.line, ingest_id, spot[0], spot[1])

    def envelopes(self, refs: list[BronzeRef]) -> list[Envelope]:
        """The distinct envelopes ``refs`` point to, in the order first named."""
        seen: dict[tuple[str, int], Envelope] = {}
        for ref in refs:
            if ref.line is None or (ref.object_key, ref.line) in seen:
                continue
            envelope = self.envelope(ref.object_key, ref.ingest_id)
            if envelope is not None:
                seen[(ref.object_key, ref.line)] = envelope
        return list(seen.values())
