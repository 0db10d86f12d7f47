"""Translating GX's Python regexes for Spark's Java engine (no Spark needed): whitespace is
Python's Unicode set, and escapes whose meaning differs are refused rather than mistranslated."""

from __future__ import annotations

import re

import pytest

from pipelines.core.errors import ConfigurationError
from pipelines.quality.compiled import PYTHON_WHITESPACE
from pipelines.quality.spark_rules import WHITESPACE_CLASS, java_regex


def test_the_whitespace_set_is_what_python_re_calls_whitespace():
    matched = {chr(i) for i in range(0x110000) if re.fullmatch(r"\s", chr(i))}
    assert matched == set(PYTHON_WHITESPACE)
    # Java's Unicode White_Space lacks these; Python strips them.
    assert {"\x1c", "\x1d", "\x1e", "\x1f"} <= matched


@pytest.mark.parametrize(
    ("python", "java"),
    [
        (r"\S", f"[^{WHITESPACE_CLASS}]"),
        # Java's "$" and "." also know "\r", "\u0085"...: Python's spelled out.
        (r"^\s*$", f"^[{WHITESPACE_CLASS}]*(?=\\n?\\z)"),
        (r"a.b\Z", r"a[^\n]b\z"),
        (r"[\sx]", f"[{WHITESPACE_CLASS}x]"),
        (r"a\.b", r"a\.b"),
        (r"[\]\s]", f"[\\]{WHITESPACE_CLASS}]"),
    ],
)
def test_whitespace_escapes_are_spelled_out(python, java):
    assert java_regex(python) == java


@pytest.mark.parametrize("pattern", [r"\w+", r"\d", r"\bx", r"[^\S]", r"\v", r"(?m)a$", r"[[a]]"])
def test_escapes_that_differ_between_python_and_java_are_refused(pattern):
    with pytest.raises(ConfigurationError, match="differs between Python"):
        java_regex(pattern)
