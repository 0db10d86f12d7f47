"""The one typed settings object of the project.

Every setting is read from an environment variable with the ``RWA_`` prefix (or a ``.env`` file
in the working directory); nothing else in the code base reads the environment. The README's
configuration table lists each field below.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ServingBackend = Literal["duckdb", "timescaledb"]
DeltaBackend = Literal["auto", "delta-rs", "native"]
Deployment = Literal["local", "ci", "production"]
ForecastModel = Literal["arima", "lstm", "ensemble"]


class Settings(BaseSettings):
    """Configuration for every component; env var = ``RWA_`` + field name in upper case."""

    model_config = SettingsConfigDict(
        env_prefix="RWA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- lake -------------------------------------------------------------------------------
    lake_root: str = Field(
        default="data/lake",
        description="Root of bronze/silver/gold: a local folder or s3://bucket/prefix.",
    )
    state_dir: Path = Field(
        default=Path("data/state"),
        description="Local folder for streaming checkpoints and job state.",
    )

    # --- object store (S3) ------------------------------------------------------------------
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint for a non-AWS server (MinIO, moto); unset = AWS."
    )
    aws_region: str = Field(default="us-east-1", description="Region of the S3 bucket.")
    aws_access_key_id: str | None = Field(
        default=None, description="S3 access key; unset = the default AWS credential chain."
    )
    aws_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret key.")

    # --- Spark / Delta ----------------------------------------------------------------------
    spark_master: str = Field(default="local[2]", description="Spark master URL.")
    spark_driver_memory: str = Field(default="2g", description="Spark driver memory.")
    spark_shuffle_partitions: int = Field(
        default=4, ge=1, description="spark.sql.shuffle.partitions."
    )
    delta_backend: DeltaBackend = Field(
        default="auto",
        description="Delta engine: auto (delta-spark if its JARs are present, else delta-rs).",
    )
    silver_max_files_per_trigger: int = Field(
        default=256,
        ge=1,
        description="Bronze objects per silver micro-batch (lower it for minute bars: a batch "
        "is collected on the driver).",
    )

    # --- data quality -----------------------------------------------------------------------
    quality_max_failure_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest share of a bronze object's records that may be refused before "
        "the object is quarantined whole (docs/quality.md: when broken objects fail a batch).",
    )
    quality_max_broken_objects: int = Field(
        default=3,
        ge=0,
        description="Broken bronze objects of one silver dataset that may wait in quarantine "
        "(not set aside or replayed) before its silver job fails loudly.",
    )
    quality_freshness_hours: float = Field(
        default=36.0,
        gt=0,
        description="Freshness expectation: the newest record of a silver table is at most "
        "this old (hours) when checked.",
    )

    # --- Delta maintenance ------------------------------------------------------------------
    maintain_vacuum_retention_hours: int = Field(
        default=168,
        ge=0,
        description="`rwa maintain`: files removed from a Delta table more than this long ago "
        "are vacuumed; time travel works inside the window.",
    )
    maintain_target_file_mb: int = Field(
        default=128, ge=1, description="`rwa maintain`: target size of compacted files (MiB)."
    )

    # --- serving store ----------------------------------------------------------------------
    serving_backend: ServingBackend = Field(
        default="duckdb", description="Serving store the loaders write and the API reads."
    )
    duckdb_path: Path = Field(
        default=Path("data/serving.duckdb"),
        description="DuckDB store: a link to its published snapshot (docs/serving.md).",
    )
    duckdb_writer_wait_s: float = Field(
        default=900.0,
        gt=0,
        description="A DuckDB load waits this long for another load to finish, then fails.",
    )
    timescale_dsn: str = Field(
        default="postgresql://postgres@127.0.0.1:55432/rwa",
        description="libpq DSN of the TimescaleDB serving store.",
    )
    timescale_pool_max: int = Field(default=10, ge=1, description="Max pooled connections.")
    serving_intraday_retention_days: int = Field(
        default=90,
        ge=1,
        description="Serving store keeps 1m/5m bars this many days (retention policy or "
        "drop_chunks); 1h/1d bars are kept.",
    )

    # --- simulated source -------------------------------------------------------------------
    sim_seed: int = Field(default=42, description="Seed of the simulated source.")
    sim_days: int = Field(default=90, ge=1, le=3650, description="Days of history to simulate.")
    sim_frequency: Literal["1m", "5m", "15m", "1h"] = Field(
        default="1h", description="Bar frequency of simulated prices."
    )
    sim_end: dt.date | None = Field(
        default=None, description="Last simulated day (exclusive end); unset = today (UTC)."
    )
    sim_fault_rate: float = Field(
        default=0.0005, ge=0, le=1, description="Share of simulated bars with a realistic defect."
    )
    sim_assets: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Asset ids to simulate, comma-separated; empty = all."
    )

    # --- real data sources (HTTP) ------------------------------------------------------------
    http_timeout_s: float = Field(default=20.0, gt=0, description="Per-request HTTP timeout.")
    http_max_retries: int = Field(
        default=5, ge=0, description="Retries on 429/5xx/timeouts before a fetch fails."
    )
    http_backoff_base_s: float = Field(
        default=0.5, ge=0, description="First retry delay; doubles per retry, with jitter."
    )
    http_backoff_max_s: float = Field(default=30.0, ge=0, description="Longest retry delay.")
    coingecko_base_url: str = Field(
        default="https://api.coingecko.com/api/v3", description="CoinGecko API root."
    )
    coingecko_api_key: SecretStr | None = Field(
        default=None, description="CoinGecko demo/pro key (optional for the public API)."
    )
    defillama_base_url: str = Field(
        default="https://api.llama.fi", description="DefiLlama TVL API root."
    )
    defillama_stablecoins_url: str = Field(
        default="https://stablecoins.llama.fi", description="DefiLlama stablecoins API root."
    )
    fred_base_url: str = Field(default="https://api.stlouisfed.org", description="FRED API root.")
    fred_api_key: SecretStr | None = Field(default=None, description="FRED API key (required).")
    worldbank_base_url: str = Field(
        default="https://api.worldbank.org/v2", description="World Bank indicators API root."
    )
    newsapi_base_url: str = Field(default="https://newsapi.org", description="NewsAPI root.")
    newsapi_key: SecretStr | None = Field(default=None, description="NewsAPI key (required).")
    news_feeds: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="RSS/Atom feed URLs for the news source, comma-separated."
    )

    # --- Kafka ------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security protocol."
    )
    kafka_topic_partitions: int = Field(
        default=3, ge=1, description="Partitions of topics the project creates."
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor of topics the project creates."
    )
    kafka_dead_letter_topic: str = Field(
        default="ingest-dead-letter", description="Topic for records that cannot be landed."
    )
    lander_group_id: str = Field(
        default="rwa-bronze-lander", description="Consumer group of the bronze lander."
    )
    lander_max_records: int = Field(
        default=5_000, ge=1, description="Records per bronze object before the lander rotates."
    )
    lander_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Bytes per bronze object before rotating."
    )
    lander_max_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds an open bronze object may wait before rotating."
    )

    # --- models -----------------------------------------------------------------------------
    forecast_model: ForecastModel = Field(
        default="arima",
        description="Served forecaster: arima (auto-ordered ARIMA), lstm (quantile LSTM on gold "
        "features) or ensemble (both, averaged in log space).",
    )
    sentiment_model: str = Field(
        default="ProsusAI/finbert",
        description="FinBERT-style classifier for news sentiment: a local folder or a Hugging "
        "Face id; when it cannot be loaded the Loughran-McDonald lexicon is used (recorded in "
        "the model version).",
    )
    sentiment_allow_download: bool = Field(
        default=False,
        description="Let `RWA_SENTIMENT_MODEL` be downloaded from the Hugging Face hub when it "
        "is an id not in the local cache (off: offline machines never wait on the network).",
    )
    sentiment_batch_size: int = Field(
        default=32, ge=1, description="Texts per FinBERT inference batch."
    )
    sentiment_max_tokens: int = Field(
        default=256, ge=8, le=512, description="Tokens kept per text (longer texts truncated)."
    )

    # --- orchestration (Dagster) -------------------------------------------------------------
    deployment: Deployment = Field(
        default="local",
        description="Dagster resources to use: local (embedded defaults), ci (TimescaleDB "
        "serving store) or production (S3 lake, TimescaleDB, Kafka).",
    )
    partitions_start: dt.date = Field(
        default=dt.date(2024, 1, 1),
        description="First daily partition (fetch day) of the Dagster assets.",
    )
    alert_webhook_url: str | None = Field(
        default=None,
        description="URL a failed Dagster run is POSTed to as JSON (Slack-compatible `text`); "
        "unset = logged only.",
    )

    # --- API --------------------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Host `rwa serve` binds.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port `rwa serve` binds.")

    @field_validator("sim_assets", "news_feeds", mode="before")
    @classmethod
    def _split_asset_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("lake_root")
    @classmethod
    def _check_lake_root(cls, value: str) -> str:
        if value.startswith("s3://") and not value.removeprefix("s3://").split("/", 1)[0]:
            raise ValueError("an S3 lake root needs a bucket: s3://bucket/prefix")
        return value.rstrip("/") or value

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_root.startswith("s3://")

    def lake_uri(self, *parts: str) -> str:
        """URI of a path under the lake root (``lake_uri("silver", "prices")``)."""
        if self.lake_is_s3:
            return "/".join([self.lake_root, *parts])
        return str(Path(self.lake_root).resolve().joinpath(*parts))

    def delta_storage_options(self) -> dict[str, str] | None:
        """Options for delta-rs' own object store client; None for local paths."""
        if not self.lake_is_s3:
            return None
        options = {"AWS_REGION": self.aws_region}
        if self.s3_endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.s3_endpoint_url
            options["AWS_ALLOW_HTTP"] = str(self.s3_endpoint_url.startswith("http://")).lower()
        if self.aws_access_key_id and self.aws_secret_access_key:
            options["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
            options["AWS_SECRET_ACCESS_KEY"] = self.aws_secret_access_key.get_secret_value()
        return options


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()


def settings_table() -> str:
    """The README's configuration table, generated from the fields above."""
    rows = ["| Variable | Default | Description |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "(unset)" if default in (None, []) else f"`{default}`"
        rows.append(f"| `RWA_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
