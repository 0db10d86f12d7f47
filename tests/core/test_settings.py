from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.core.settings import ApiSettings, Settings, settings_table

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
    assert settings.simulation.days == 7
    assert settings.simulation.assets == ["btc", "ousg"]
    assert settings.serving.backend == "timescaledb"


def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RWA_SERVING_BACKEND", "oracle")
    with pytest.raises(ValidationError, match="RWA_SERVING_BACKEND"):
        Settings()


def test_s3_storage_options_carry_endpoint_and_credentials() -> None:
    settings = Settings(
        lake_root="s3://bucket/lake/",
        s3_endpoint_url="http://127.0.0.1:9000",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
    )
    assert settings.lake.root == "s3://bucket/lake"
    assert settings.lake.uri("silver", "prices") == "s3://bucket/lake/silver/prices"
    assert settings.lake.delta_storage_options() == {
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    assert Settings(lake_root="data/lake").lake.delta_storage_options() is None


def test_sections_read_their_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RWA_KAFKA_BOOTSTRAP_SERVERS", "broker:9093")
    monkeypatch.setenv("RWA_API_PORT", "8123")
    settings = Settings()
    assert settings.kafka.bootstrap_servers == "broker:9093"
    assert settings.api.port == 8123
    assert ApiSettings().port == 8123


def test_variable_names_route_to_their_section_and_unknown_names_are_refused() -> None:
    settings = Settings(_env_file=None, lake_root="/tmp/lake", sim_days=2)
    assert (settings.lake.root, settings.simulation.days) == ("/tmp/lake", 2)
    with pytest.raises(ValidationError, match="RWA_LAKE_ROTO"):
        Settings(lake_roto="/tmp/lake")


def test_updated_replaces_named_settings_and_keeps_the_rest() -> None:
    settings = Settings(_env_file=None, lake_root="/tmp/lake", sim_days=2, sim_seed=9)
    changed = settings.updated(sim_days=1)
    assert (changed.simulation.days, changed.simulation.seed) == (1, 9)
    assert changed.lake == settings.lake
    assert settings.simulation.days == 2


def test_every_variable_is_prefixed_and_owned_by_one_section() -> None:
    variables = [
        v
        for section in Settings.model_fields.values()
        for v in section.annotation.variable_names().values()
    ]  # type: ignore[union-attr]
    assert all(v.startswith("RWA_") for v in variables)
    assert len(variables) == len(set(variables))
