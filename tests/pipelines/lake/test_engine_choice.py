"""Which Delta engine the jobs use: native delta-spark only when its JARs are there."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.settings import Settings
from pipelines.lake.spark import wants_native_delta


def test_auto_uses_delta_rs_without_the_jars(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))
    monkeypatch.delenv("SPARK_DIST_CLASSPATH", raising=False)
    monkeypatch.delenv("SPARK_CLASSPATH", raising=False)
    assert wants_native_delta(Settings(delta_backend="auto").spark) is False


def test_auto_uses_native_delta_when_spark_home_has_the_jar(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "jars").mkdir()
    (tmp_path / "jars" / "delta-spark_2.13-4.0.0.jar").touch()
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))
    assert wants_native_delta(Settings(delta_backend="auto").spark) is True
    assert wants_native_delta(Settings(delta_backend="delta-rs").spark) is False


def test_explicit_native_is_honoured() -> None:
    assert wants_native_delta(Settings(delta_backend="native").spark) is True
