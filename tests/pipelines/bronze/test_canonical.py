"""Batch decoding lands exactly what one pydantic model per record lands: the same lines, folders
and dead-letter reasons, whatever the bytes; and canonical lines do take the fast path."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines.bronze.batches import ConsumedRecord, decode_record, decode_records
from pipelines.bronze.canonical import _float_text_may_differ, canonical_folders
from pipelines.bronze.decoding import DecoderError, FolderDecoder
from pipelines.contracts.envelope import DATASETS, RawEnvelope, canonical_json
from tests.fixtures.lake import lake_settings
from tests.pipelines.kafka.support import simulated_envelopes


class Polled(NamedTuple):
    """What the lander reads of a kafka-python record."""

    key: bytes | None
    value: bytes | None
    offset: int


def full_path(records: list[Polled]) -> list[ConsumedRecord]:
    return [decode_record(r.key, r.value, r.offset) for r in records]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)
).flatmap(
    lambda moment: st.sampled_from(
        [
            moment.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z"),  # canonical
            moment.replace(tzinfo=dt.UTC).isoformat(),  # +00:00
            moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=2))).isoformat(),
            moment.isoformat(),  # naive: invalid
        ]
    )
)


@st.composite
def envelope_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source": draw(st.sampled_from(["simulated", "coingecko", "../up", "a b", ""])),
        "dataset": draw(st.sampled_from([*DATASETS, "stocks"])),
        "endpoint": draw(st.sampled_from(["/v1/x", ""])),
        "params": draw(st.dictionaries(st.text(max_size=3), json_values, max_size=2)),
        "fetched_at": draw(timestamps),
        "ingest_id": draw(st.sampled_from(["1e-5a0", "abc"])),
        "schema_version": draw(st.sampled_from([1, 2, "1", 1.0, True])),
        "payload": draw(json_values),
    }
    dropped = draw(st.sets(st.sampled_from(sorted(fields)), max_size=1))
    extra = draw(st.dictionaries(st.sampled_from(["extra", "zzz"]), json_values, max_size=1))
    return {k: v for k, v in fields.items() if k not in dropped} | extra


def orjson_sorted(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


#: How a producer may have written an envelope: the canonical line, orjson (other float text),
#: Python's defaults (spaces, unsorted, ASCII escapes).
ENCODINGS: list[Callable[[Any], bytes]] = [
    lambda value: canonical_json(value).encode(),
    orjson_sorted,
    lambda value: json.dumps(value).encode(),
]


def encodable(encode: Callable[[Any], bytes], value: Any) -> bytes | None:
    try:
        return encode(value)
    except (TypeError, orjson.JSONEncodeError):  # orjson: integers beyond 64 bits
        return None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(envelope_fields(), min_size=1, max_size=4), st.data())
def test_batch_decoding_equals_one_model_per_record(
    batch: list[dict[str, Any]], data: st.DataObject
) -> None:
    values = [encodable(data.draw(st.sampled_from(ENCODINGS)), fields) for fields in batch]
    values += [None, b"not json", b"[1]", b'{"source": "x"}']  # tombstone and poison
    records = [Polled(b"k", value, offset) for offset, value in enumerate(values)]
    assert decode_records(records) == full_path(records)


@example(1e-5)
@example(9.999999999999999e-05)
@example(1e-4)
@example(1e16)
@example(1.5e16)
@example(5e-324)
@example(-0.0)
@example(-1.4921529887469867e-09)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_is_pythons_unless_flagged(number: float) -> None:
    for text in (orjson_sorted([number]), orjson_sorted({"a": number, "b": [1, number]})):
        if not _float_text_may_differ(text):
            assert text == canonical_json(json.loads(text)).encode()


@pytest.fixture(scope="module")
def canonical_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    root: Path = tmp_path_factory.mktemp("canonical")
    settings = lake_settings(root, sim_end=dt.date(2025, 1, 10), sim_days=2, sim_fault_rate=0.0)
    return [envelope.to_json_line().encode() for envelope in simulated_envelopes(settings)]


def test_canonical_lines_take_the_fast_path(canonical_lines: list[bytes]) -> None:
    folders = canonical_folders(canonical_lines)
    assert None not in folders
    datasets = {json.loads(line)["dataset"] for line in canonical_lines}
    assert datasets == set(DATASETS)  # every kind of payload the simulator makes


def test_non_canonical_values_are_landed_as_canonical_lines(canonical_lines: list[bytes]) -> None:
    envelope = RawEnvelope.model_validate_json(canonical_lines[0])
    fields = envelope.model_dump(mode="json")
    variants = [
        json.dumps(fields).encode(),  # spaces, unsorted keys
        canonical_json(fields | {"fetched_at": envelope.fetched_at.isoformat()}).encode(),
        canonical_json({k: v for k, v in fields.items() if k != "schema_version"}).encode(),
        canonical_json(fields | {"note": "ignored"}).encode(),
        canonical_json(fields | {"schema_version": 1.0}).encode(),  # equal to 1 in Python
        canonical_json(fields | {"schema_version": True}).encode(),
        orjson_sorted(fields | {"payload": {"tiny": 0.00001}}),  # orjson's 0.00001: not Python's
    ]
    records = [Polled(None, value, offset) for offset, value in enumerate(variants)]

    assert canonical_folders(variants) == [None] * len(variants)
    decoded = decode_records(records)
    assert decoded == full_path(records)
    assert all(r.line == canonical_lines[0] for r in decoded[:6])
    assert decoded[6].line is not None and b'"tiny":1e-05' in decoded[6].line


def test_one_bad_value_keeps_the_rest_of_its_batch_on_the_fast_path(
    canonical_lines: list[bytes],
) -> None:
    naive = canonical_lines[1].replace(b'Z","ingest_id"', b'","ingest_id"', 1)
    assert naive != canonical_lines[1]
    values = [canonical_lines[0], naive, canonical_lines[2]]
    records = [Polled(b"k", value, offset) for offset, value in enumerate(values)]

    folders = canonical_folders(values)
    decoded = decode_records(records)

    assert folders[0] is not None and folders[1] is None and folders[2] is not None
    assert decoded == full_path(records)
    assert decoded[1].dead_letter is not None
    assert "fetched_at" in decoded[1].dead_letter.reason


@pytest.mark.parametrize(
    "change",
    [
        lambda fields: {"schema_version": 1.0},  # equal to 1 in Python, not as JSON text
        lambda fields: {"fetched_at": fields["fetched_at"].replace("Z", "+00:00")},
    ],
)
def test_one_valid_but_rewritten_value_keeps_the_rest_of_its_batch_on_the_fast_path(
    canonical_lines: list[bytes], change: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Heads are compared as one list first: one that validates but serialises back otherwise
    must still be told apart from the canonical ones around it."""
    fields = RawEnvelope.model_validate_json(canonical_lines[1]).model_dump(mode="json")
    rewritten = canonical_json(fields | change(fields)).encode()
    values = [canonical_lines[0], rewritten, canonical_lines[2]]
    records = [Polled(b"k", value, offset) for offset, value in enumerate(values)]

    folders = canonical_folders(values)

    assert folders[0] is not None and folders[1] is None and folders[2] is not None
    assert decode_records(records) == full_path(records)
    assert decode_records(records)[1].line == canonical_lines[1]


def test_worker_process_gives_the_inline_folders_and_a_dead_worker_is_an_error(
    canonical_lines: list[bytes],
) -> None:
    values = [*canonical_lines, None, b"not json", canonical_lines[0].replace(b"Z", b"", 1)]
    records = [Polled(None, value, offset) for offset, value in enumerate(values)]
    worker, inline = FolderDecoder(1), FolderDecoder(0)
    try:
        for decoder in (worker, inline):
            decoder.submit(records)
        assert worker.folders() == inline.folders() == canonical_folders(values)
        assert worker._worker is not None
        worker._worker.process.kill()
        worker._worker.process.wait()
        with pytest.raises(DecoderError, match="is gone"):
            worker.submit(records)
    finally:
        worker.close()
        inline.close()


def test_worker_reads_a_poll_larger_than_its_shared_buffer(canonical_lines: list[bytes]) -> None:
    """The values of a poll travel through memory shared with the worker, which grows (and the
    worker maps again) when a poll needs more; tombstones stay None."""
    small = [Polled(None, value, offset) for offset, value in enumerate(canonical_lines)]
    values = [*canonical_lines * (12_000_000 // sum(map(len, canonical_lines)) + 1), None]
    large = [Polled(None, value, offset) for offset, value in enumerate(values)]
    assert sum(len(v) for v in values if v is not None) > 8 * 1024 * 1024
    worker = FolderDecoder(1)
    try:
        assert worker._shared is not None
        for records in (small, large, small):
            worker.submit(records)
            assert worker.folders() == canonical_folders([r.value for r in records])
    finally:
        worker.close()
