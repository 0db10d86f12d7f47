"""The quarantine reason registry names every reason, once, with where it is decided."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import inspect
import re
from pathlib import Path

import pytest

from pipelines.contracts import quarantine
from pipelines.contracts.quarantine import (
    QUALITY_CHECK,
    QUALITY_SEPARATOR,
    REASONS,
    QuarantineReason,
    reason_for,
)
from pipelines.quality.objects import ObjectVerdict
from pipelines.quality.suites import SUITES, table_checks

PIPELINES = Path(quarantine.__file__).parents[1]


def _entries() -> dict[str, QuarantineReason]:
    return {
        name: value
        for name, value in vars(quarantine).items()
        if isinstance(value, QuarantineReason)
    }


def test_codes_and_texts_are_unique_and_codes_name_the_entries() -> None:
    entries = _entries()
    assert set(entries.values()) == set(REASONS)
    assert [reason.code for reason in REASONS] == [name.lower() for name in entries]
    assert len({reason.template for reason in REASONS}) == len(REASONS)


@pytest.mark.parametrize("name", sorted(_entries()))
def test_the_deciding_module_names_the_entry(name: str) -> None:
    """``decided_in`` is true: that module uses the entry (so it declares no text of its own)."""
    reason = _entries()[name]
    source = inspect.getsource(importlib.import_module(reason.decided_in))
    assert re.search(rf"\b{name}\b", source), (name, reason.decided_in)


def _literal_texts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal of a module, f-strings with their fields as ``x``."""
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            parts = [part.value if isinstance(part, ast.Constant) else "x" for part in node.values]
            texts.append((node.lineno, "".join(str(part) for part in parts)))
    return texts


def test_no_reason_text_is_written_outside_the_registry() -> None:
    registry = Path(quarantine.__file__)
    found = []
    for path in sorted(PIPELINES.rglob("*.py")):
        if path == registry:
            continue
        for line, text in _literal_texts(ast.parse(path.read_text())):
            reason = reason_for(text)
            if reason is not None:
                found.append(f"{path.relative_to(PIPELINES.parent)}:{line}: {reason.code}")
    assert found == []


def test_every_quality_rule_reason_is_a_quality_check() -> None:
    checks = [check for suite in SUITES.values() for check in suite.checks]
    checks += [c for s in SUITES.values() for c in table_checks(s, now=_now(), freshness_hours=1)]
    for check in checks:
        assert reason_for(check.reason) is QUALITY_CHECK, check.reason
    joined = QUALITY_SEPARATOR.join(check.reason for check in checks[:3])
    assert reason_for(joined) is QUALITY_CHECK


def test_object_reasons_are_registered() -> None:
    verdict = ObjectVerdict("bronze/x.jsonl.gz", records_in=4, refused=3, reasons="blank line (3)")
    described = verdict.describe(0.5)
    assert described == (
        "3 of 4 records refused (75.0%), above RWA_QUALITY_MAX_FAILURE_SHARE (50.0%); "
        "top reasons: blank line (3)"
    )
    assert reason_for(described) is quarantine.OBJECT_BROKEN
    whole = quarantine.QUARANTINED_WHOLE.text(broken=described)
    assert reason_for(whole) is quarantine.QUARANTINED_WHOLE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("blank line", quarantine.BLANK_LINE),
        ("field 'price_close' is not a finite number", quarantine.FIELD_NOT_FINITE),
        ("field 'price_close' is not a number", quarantine.FIELD_NOT_A),
        ("field '[4] (close)' is out of range (beyond ±1e+12)", quarantine.FIELD_BEYOND_LIMIT),
        ("feed refused: it could not be read (ParseError)", quarantine.FEED_UNREADABLE),
        ("feed refused: it is not well-formed XML (x)", quarantine.FEED_REFUSED),
        (
            "unsupported envelope schema_version '2' (silver reads major version 1)",
            quarantine.UNSUPPORTED_SCHEMA_VERSION,
        ),
        ("a reason nobody declared", None),
    ],
)
def test_texts_are_attributed_to_their_entry(text: str, expected: QuarantineReason | None) -> None:
    assert reason_for(text) is expected


def _now() -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
