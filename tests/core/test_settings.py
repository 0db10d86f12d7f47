from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.core.settings import Settings, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_is_current() -> None:
    text = README.read_text()
    start = text.index("<!-- settings-table:start")
    table = text[text.index("\n", start) + 1 : text.index("<!-- settings-table:end -->")]
    assert table.strip() == settings_table().strip(), (
        "README configuration table is stale: regenerate it with "
        "`python -m pipelines.core.settings`"
    )


def test_every_setting_reads_its_prefixed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RWA_SIM_DAYS", "7")
    monkeypatch.setenv("RWA_SIM_ASSETS", "btc, ousg")
    monkeypatch.setenv("RWA_SERVING_BACKEND", "timescaledb")
    settings = Settings()
    assert settings.sim_days == 7
    assert settings.sim_assets == ["btc", "ousg"]
    assert settings.serving_backend == "timescaledb"


def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RWA_SERVING_BACKEND", "oracle")
    with pytest.raises(ValidationError, match="serving_backend"):
        Settings()


def test_s3_storage_options_carry_endpoint_and_credentials() -> None:
    settings = Settings(
        lake_root="s3://bucket/lake/",
        s3_endpoint_url="http://127.0.0.1:9000",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
    )
    assert settings.lake_root == "s3://bucket/lake"
    assert settings.lake_uri("silver", "prices") == "s3://bucket/lake/silver/prices"
    assert settings.delta_storage_options() == {
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    assert Settings(lake_root="data/lake").delta_storage_options() is None
