"""What every settings section shares: the base class, the variable prefix, value types."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

ServingBackend = Literal["duckdb", "timescaledb"]
DeltaBackend = Literal["auto", "delta-rs", "native"]
SilverEngine = Literal["auto", "duckdb", "spark"]
SilverExecutor = Literal["process", "driver"]
Deployment = Literal["local", "ci", "production"]
ForecastModel = Literal["arima", "lstm", "ensemble"]
ENV_PREFIX = "RWA_"


def comma_separated(value: object) -> object:
    """A comma-separated variable as a list of its non-empty, stripped parts."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Section(BaseSettings):
    """One section of the settings; each field is read from the variable its alias names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    @classmethod
    def variable_names(cls) -> dict[str, str]:
        """Field name -> environment variable, for every field of the section."""
        return {name: str(field.validation_alias) for name, field in cls.model_fields.items()}
