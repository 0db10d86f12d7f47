"""Which consumed values are already canonical envelope lines, checked a batch at a time.

Bronze stores every envelope as its canonical line (``RawEnvelope.to_json_line``: sorted keys,
no spaces, Python's float text) and the project's producer publishes exactly that line, so the
lander can land such a value as it is instead of validating it into a model and serialising
it again (the two cost over a third of the lander's time). :func:`canonical_folders` accepts
a value only when landing it as it is gives the very bytes the full path would:

* it is a JSON object with exactly the envelope's fields (no default filled in, nothing
  dropped) and its bytes are orjson's sorted, compact serialisation of what it parses to;
* it has no number below 1e-4 (a negative exponent, or a decimal ``0.0000...``): the only
  numbers orjson writes differently from Python's ``json`` (``1e-6`` / ``1e-06``, ``0.00001`` /
  ``1e-05``; ``tests/pipelines/bronze/test_canonical.py`` checks this), found by two searches
  for what such a number looks like in orjson's text (``e-`` and a digit from 1, ``0.0000`` and
  a digit from 1) before the slower search for where it may start a number; a string that
  merely looks like one sends its record down the full path, which is only slower;
* its fields other than the payload pass ``RawEnvelope``'s validation, for the whole batch in
  one ``TypeAdapter(list[RawEnvelope])`` call, and serialise back to the same values (a
  ``fetched_at`` with a ``+00:00`` offset does not: the canonical line says ``Z``), compared
  as one JSON text per batch and record by record only when that differs;
* its source is usable as a partition folder name.

Any other value, valid or not, takes the full path (:func:`pipelines.bronze.batches.decode_record`),
which re-serialises it or gives the dead-letter reason, so the reasons are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from pipelines.contracts.envelope import RawEnvelope, partition_prefix

#: A source name becomes a folder name: no separators, no hidden or relative names.
SAFE_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_FIELDS = frozenset(RawEnvelope.model_fields)
_ENVELOPES = TypeAdapter(list[RawEnvelope])
#: Where orjson's number text and Python's may differ (numbers below 1e-4), as (text, bytes that
#: may precede it in a number): a negative exponent after a digit, or a decimal ``0.0000...`` at
#: the start of a number token (after ``:``, ``,``, ``[`` or a minus sign in compact JSON).
_FLOAT_TEXT_MAY_DIFFER = ((b"e-", b"0123456789"), (b"0.0000", b":,[-"))
#: What such a number looks like in orjson's text (which the value is, by then): a negative
#: exponent (never ``e-0``), or ``0.0000`` and a digit that is not 0 (below 1e-5 orjson writes an
#: exponent). A value with neither has no such number: one search for each pattern, where the
#: substring search above stops on every ``0.0000`` of a timestamp's fraction (the regular
#: expressions' literal-prefix scan is also faster than ``bytes.find`` on these values).
_NEGATIVE_EXPONENT = re.compile(rb"e-[1-9]")
_BELOW_1E_4 = re.compile(rb"0\.0000[1-9]")


def canonical_folders(values: Sequence[bytes | None]) -> list[str | None]:
    """For each value, the bronze partition folder of its envelope when the value is already
    its canonical line (land it as it is), else None (take the full path)."""
    parsed = [_canonical_head(value) for value in values]
    indices = [i for i, head in enumerate(parsed) if head is not None]
    heads = [head for head in parsed if head is not None]
    valid = [
        (i, head, envelope)
        for i, head, envelope in zip(indices, heads, _validate(heads), strict=True)
        if envelope is not None
    ]
    # Serialised back in one call too: the same JSON means it was written canonically (compared
    # as JSON text: as Python values 1 == 1.0 == True).
    dumped = _ENVELOPES.dump_python([envelope for _, _, envelope in valid], mode="json")
    same = _same_json_text(dumped, [head for _, head, _ in valid])
    folders: list[str | None] = [None] * len(values)
    for (i, _, envelope), canonical in zip(valid, same, strict=True):
        if canonical and SAFE_SOURCE.fullmatch(envelope.source):
            day = envelope.fetched_date.isoformat()
            folders[i] = partition_prefix(envelope.source, envelope.dataset, day)
    return folders


def _same_json_text(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> list[bool]:
    """Whether each pair has the same JSON text. The whole lists are compared first, in one
    orjson call a side (two lists with the same text have the same text element by element):
    they nearly always agree, so a poll usually costs two calls instead of two per record."""
    if _json_text(left) == _json_text(right):
        return [True] * len(left)
    return [_json_text(a) == _json_text(b) for a, b in zip(left, right, strict=True)]


def _json_text(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _canonical_head(value: bytes | None) -> dict[str, Any] | None:
    """The value's fields with the payload set to None, when it is a JSON object with the
    envelope's fields written the canonical way; None otherwise. The payload is any JSON
    (checked here) and only the other fields are validated; it is dropped at once, so a
    batch's parsed payloads never pile up (the garbage collector walks every live container:
    holding them cost more than validating)."""
    if value is None:
        return None
    try:
        parsed = orjson.loads(value)
        if type(parsed) is not dict or parsed.keys() != _FIELDS:
            return None
        if _json_text(parsed) != value:
            return None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return None
    if _float_text_may_differ(value):
        return None
    parsed["payload"] = None
    return parsed


def _float_text_may_differ(value: bytes) -> bool:
    """Whether ``value`` (orjson's compact text) may hold a number Python writes otherwise; a
    string that looks like one counts too (only slower). Two searches for what such a number
    looks like in orjson's text, and only where one finds something, the substring searches
    for where it may be a number (a regular expression over every number costs more than
    validating the record the full way)."""
    if _NEGATIVE_EXPONENT.search(value) is None and _BELOW_1E_4.search(value) is None:
        return False
    for text, preceding in _FLOAT_TEXT_MAY_DIFFER:
        at = value.find(text, 1)
        while at > 0:
            if value[at - 1] in preceding:
                return True
            at = value.find(text, at + 1)
    return False


def _validate(heads: list[dict[str, Any]]) -> list[RawEnvelope | None]:
    """Each head validated as an envelope, in one call for the batch; None where it fails."""
    try:
        return list(_ENVELOPES.validate_python(heads))
    except ValidationError as error:
        failed = {problem["loc"][0] for problem in error.errors(include_url=False)}
    valid = iter(_ENVELOPES.validate_python([h for i, h in enumerate(heads) if i not in failed]))
    return [None if i in failed else next(valid) for i in range(len(heads))]
