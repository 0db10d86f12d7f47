"""Settings sections of the data platform: lake, Spark, quality, serving, sources, Kafka,
models and orchestration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from pipelines.core.settings.base import (
    DeltaBackend,
    Deployment,
    ForecastModel,
    Section,
    ServingBackend,
    SilverEngine,
    SilverExecutor,
    comma_separated,
)

#: A DuckDB memory size (``256MB``, ``1GB``, ``1.5GiB``).
DUCKDB_SIZE = r"^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"


class LakeSettings(Section):
    """Where the lake lives: a local folder or an S3 prefix, and how to reach S3."""

    root: str = Field(
        validation_alias="RWA_LAKE_ROOT",
        default="data/lake",
        description="Root of bronze/silver/gold: a local folder or s3://bucket/prefix.",
    )
    state_dir: Path = Field(
        validation_alias="RWA_STATE_DIR",
        default=Path("data/state"),
        description="Local folder for streaming checkpoints and step state.",
    )
    s3_endpoint_url: str | None = Field(
        validation_alias="RWA_S3_ENDPOINT_URL",
        default=None,
        description="S3 endpoint for a non-AWS server (MinIO, moto); unset = AWS.",
    )
    aws_region: str = Field(
        validation_alias="RWA_AWS_REGION",
        default="us-east-1",
        description="Region of the S3 bucket.",
    )
    aws_access_key_id: str | None = Field(
        validation_alias="RWA_AWS_ACCESS_KEY_ID",
        default=None,
        description="S3 access key; unset = the default AWS credential chain.",
    )
    aws_secret_access_key: SecretStr | None = Field(
        validation_alias="RWA_AWS_SECRET_ACCESS_KEY", default=None, description="S3 secret key."
    )

    delta_partitions_per_write: int = Field(
        validation_alias="RWA_DELTA_PARTITIONS_PER_WRITE",
        default=32,
        ge=1,
        description="Partitions one delta-rs write of a partitioned table holds open (each "
        "open partition costs the driver about 0.75 MB, whatever its rows): a gold replace of "
        "a table with more is written in groups of this many partitions and committed as one "
        "Delta transaction; a silver micro-batch MERGEs this many days at a time.",
    )

    @field_validator("root")
    @classmethod
    def _check_root(cls, value: str) -> str:
        if value.startswith("s3://") and not value.removeprefix("s3://").split("/", 1)[0]:
            raise ValueError("an S3 lake root needs a bucket: s3://bucket/prefix")
        return value.rstrip("/") or value

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def uri(self, *parts: str) -> str:
        """URI of a path under the lake root (``uri("silver", "prices")``)."""
        if self.is_s3:
            return "/".join([self.root, *parts])
        return str(Path(self.root).resolve().joinpath(*parts))

    def delta_storage_options(self) -> dict[str, str] | None:
        """Options for delta-rs' own object store client; None for local paths."""
        if not self.is_s3:
            return None
        options = {"AWS_REGION": self.aws_region}
        if self.s3_endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.s3_endpoint_url
            options["AWS_ALLOW_HTTP"] = str(self.s3_endpoint_url.startswith("http://")).lower()
        if self.aws_access_key_id and self.aws_secret_access_key:
            options["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
            options["AWS_SECRET_ACCESS_KEY"] = self.aws_secret_access_key.get_secret_value()
        return options


class SparkSettings(Section):
    """The Spark session and the Delta engine the silver and gold steps use."""

    master: str = Field(
        validation_alias="RWA_SPARK_MASTER", default="local[2]", description="Spark master URL."
    )
    driver_memory: str = Field(
        validation_alias="RWA_SPARK_DRIVER_MEMORY", default="2g", description="Spark driver memory."
    )
    shuffle_partitions: int = Field(
        validation_alias="RWA_SPARK_SHUFFLE_PARTITIONS",
        default=4,
        ge=1,
        description="spark.sql.shuffle.partitions.",
    )
    adaptive: bool = Field(
        validation_alias="RWA_SPARK_ADAPTIVE",
        default=False,
        description="spark.sql.adaptive.enabled: off on one machine (each shuffle stage would "
        "be a job of its own, for nothing to re-plan at these sizes); on for a cluster.",
    )
    driver_host: str = Field(
        validation_alias="RWA_SPARK_DRIVER_HOST",
        default="127.0.0.1",
        description="Address executors reach the driver at: loopback on one machine; the "
        "driver pod's IP on Kubernetes (infra/kubernetes sets it from the pod's status).",
    )
    driver_bind_address: str = Field(
        validation_alias="RWA_SPARK_DRIVER_BIND_ADDRESS",
        default="127.0.0.1",
        description="Address the driver listens on: loopback on one machine, 0.0.0.0 in a pod.",
    )
    driver_java_options: str | None = Field(
        validation_alias="RWA_SPARK_DRIVER_JAVA_OPTIONS",
        default=None,
        description="Extra JVM options of the Spark driver (spark.driver.extraJavaOptions). "
        "Unset: `-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m` on a local master "
        "(HotSpot's quick compiler only, with the usual room for compiled code: "
        "the demo and small runs finish about 10% sooner, a run over millions of records about "
        "20% later; set it empty for those), nothing on a cluster. Empty: no options.",
    )
    delta_backend: DeltaBackend = Field(
        validation_alias="RWA_DELTA_BACKEND",
        default="auto",
        description="Delta engine: auto (delta-spark if its JARs are present, else delta-rs).",
    )
    silver_engine: SilverEngine = Field(
        validation_alias="RWA_SILVER_ENGINE",
        default="auto",
        description="Engine of the silver step: `duckdb` (in process: the bronze objects "
        "listed and batched without Spark, each batch parsed, gated and staged by DuckDB; no "
        "JVM), `spark` (Structured Streaming, for a cluster and for delta-spark), or `auto` "
        "(`duckdb` when the Spark master is `local...` and the lake does not use delta-spark, "
        "else `spark`). The DuckDB engine migrates a Spark checkpoint; the Spark engine refuses "
        "a DuckDB one (docs/silver.md).",
    )
    silver_duckdb_memory_limit: str = Field(
        validation_alias="RWA_SILVER_DUCKDB_MEMORY_LIMIT",
        default="1GB",
        pattern=DUCKDB_SIZE,
        description="Memory of the DuckDB connection of one silver dataset's run (DuckDB's "
        "`memory_limit`): beyond it the batch's work spills to disk beside the checkpoints "
        "(`<state>/checkpoints/_duckdb_spill`).",
    )
    silver_max_files_per_trigger: int = Field(
        validation_alias="RWA_SILVER_MAX_FILES_PER_TRIGGER",
        default=256,
        ge=1,
        description="Bronze objects per silver micro-batch (each batch is staged as Parquet by "
        "its engine; only its counts, refusals and a stream of the rows to merge reach the "
        "driver).",
    )
    silver_max_bytes_per_trigger: int = Field(
        validation_alias="RWA_SILVER_MAX_BYTES_PER_TRIGGER",
        default=64 * 1024 * 1024,
        ge=1,
        description="Bronze bytes per micro-batch of the DuckDB engine (besides "
        "`RWA_SILVER_MAX_FILES_PER_TRIGGER`; a batch holds at least one object): that engine "
        "works a batch in this process, so the bytes, not the count of objects, bound its "
        "memory. The Spark engine's file source takes one limit only, the count; its batches "
        "are worked on the executors.",
    )
    silver_parallelism: int = Field(
        validation_alias="RWA_SILVER_PARALLELISM",
        default=3,
        ge=1,
        description="Silver datasets streamed at the same time by one silver run (`rwa silver`, "
        "the demo, a backfill): a small batch keeps about one core busy, so several overlap "
        "their fixed costs; 1 = one after another, in order.",
    )
    silver_executor: SilverExecutor = Field(
        validation_alias="RWA_SILVER_EXECUTOR",
        default="process",
        description="Where the DuckDB engine runs a silver run's datasets (`rwa silver`, the "
        "demo, a backfill): `process`, an executor process per run (the calling process only "
        "sends the settings and receives the reports, so its memory does not grow with the "
        "input, and the batches' memory is given back when the run ends), or `driver`, the "
        "calling process. The Spark engine runs batches on Spark's executors either way.",
    )
    gold_codegen: bool = Field(
        validation_alias="RWA_GOLD_CODEGEN",
        default=True,
        description="Whole-stage code generation (spark.sql.codegen.wholeStage) in the gold "
        "build. Off, the demo's gold took 51 s instead of 86 s on a loaded 2-core machine but the "
        "same 26 s idle, and interpreted plans grow worse with the input: on by default; off "
        "only for small inputs on a busy machine.",
    )


class QualitySettings(Section):
    """Thresholds of the silver quality gate."""

    max_failure_share: float = Field(
        validation_alias="RWA_QUALITY_MAX_FAILURE_SHARE",
        default=0.05,
        ge=0,
        le=1,
        description="Largest share of a bronze object's records that may be refused before "
        "the object is quarantined whole (docs/quality.md: when broken objects fail a batch).",
    )
    max_broken_objects: int = Field(
        validation_alias="RWA_QUALITY_MAX_BROKEN_OBJECTS",
        default=3,
        ge=0,
        description="Broken bronze objects of one silver dataset that may wait in quarantine "
        "(not set aside or replayed) before its silver step fails loudly.",
    )
    freshness_hours: float = Field(
        validation_alias="RWA_QUALITY_FRESHNESS_HOURS",
        default=36.0,
        gt=0,
        description="Freshness expectation: the newest record of a silver table is at most "
        "this old (hours) when checked.",
    )


class MaintenanceSettings(Section):
    """`rwa maintain`: vacuum and compaction of Delta tables."""

    vacuum_retention_hours: int = Field(
        validation_alias="RWA_MAINTAIN_VACUUM_RETENTION_HOURS",
        default=168,
        ge=0,
        description="`rwa maintain`: files removed from a Delta table more than this long ago "
        "are vacuumed; time travel works inside the window.",
    )
    target_file_mb: int = Field(
        validation_alias="RWA_MAINTAIN_TARGET_FILE_MB",
        default=128,
        ge=1,
        description="`rwa maintain`: target size of compacted files (MiB).",
    )


class ServingSettings(Section):
    """The analytics serving store the loaders write and the API reads."""

    backend: ServingBackend = Field(
        validation_alias="RWA_SERVING_BACKEND",
        default="duckdb",
        description="Serving store the loaders write and the API reads.",
    )
    duckdb_path: Path = Field(
        validation_alias="RWA_DUCKDB_PATH",
        default=Path("data/serving.duckdb"),
        description="DuckDB store: a link to its published snapshot (docs/serving.md).",
    )
    duckdb_writer_wait_s: float = Field(
        validation_alias="RWA_DUCKDB_WRITER_WAIT_S",
        default=900.0,
        gt=0,
        description="A DuckDB load waits this long for another load to finish, then fails.",
    )
    duckdb_memory_limit: str = Field(
        validation_alias="RWA_DUCKDB_MEMORY_LIMIT",
        default="256MB",
        pattern=DUCKDB_SIZE,
        description="Most memory a DuckDB load's buffer pool takes (DuckDB's default is 80% of "
        "RAM, in the pipeline's own process); larger work spills beside the store.",
    )
    timescale_dsn: str = Field(
        validation_alias="RWA_TIMESCALE_DSN",
        default="postgresql://postgres@127.0.0.1:55432/rwa",
        description="libpq DSN of the TimescaleDB serving store.",
    )
    timescale_pool_max: int = Field(
        validation_alias="RWA_TIMESCALE_POOL_MAX",
        default=10,
        ge=1,
        description="Max pooled connections.",
    )
    intraday_retention_days: int = Field(
        validation_alias="RWA_SERVING_INTRADAY_RETENTION_DAYS",
        default=90,
        ge=1,
        description="Serving store keeps 1m/5m bars this many days (retention policy or "
        "drop_chunks); 1h/1d bars are kept.",
    )


class SimulationSettings(Section):
    """The deterministic simulated source."""

    seed: int = Field(
        validation_alias="RWA_SIM_SEED", default=42, description="Seed of the simulated source."
    )
    days: int = Field(
        validation_alias="RWA_SIM_DAYS",
        default=90,
        ge=1,
        le=3650,
        description="Days of history to simulate.",
    )
    frequency: Literal["1m", "5m", "15m", "1h"] = Field(
        validation_alias="RWA_SIM_FREQUENCY",
        default="1h",
        description="Bar frequency of simulated prices.",
    )
    end: dt.date | None = Field(
        validation_alias="RWA_SIM_END",
        default=None,
        description="Last simulated day (exclusive end); unset = today (UTC).",
    )
    fault_rate: float = Field(
        validation_alias="RWA_SIM_FAULT_RATE",
        default=0.0005,
        ge=0,
        le=1,
        description="Share of simulated bars with a realistic defect.",
    )
    assets: Annotated[list[str], NoDecode] = Field(
        validation_alias="RWA_SIM_ASSETS",
        default_factory=list,
        description="Asset ids to simulate, comma-separated; empty = all.",
    )

    @field_validator("assets", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        return comma_separated(value)


class SourceSettings(Section):
    """The real HTTP sources: shared client behaviour, roots and keys."""

    http_timeout_s: float = Field(
        validation_alias="RWA_HTTP_TIMEOUT_S",
        default=20.0,
        gt=0,
        description="Per-request HTTP timeout.",
    )
    http_max_retries: int = Field(
        validation_alias="RWA_HTTP_MAX_RETRIES",
        default=5,
        ge=0,
        description="Retries on 429/5xx/timeouts before a fetch fails.",
    )
    http_backoff_base_s: float = Field(
        validation_alias="RWA_HTTP_BACKOFF_BASE_S",
        default=0.5,
        ge=0,
        description="First retry delay; doubles per retry, with jitter.",
    )
    http_backoff_max_s: float = Field(
        validation_alias="RWA_HTTP_BACKOFF_MAX_S",
        default=30.0,
        ge=0,
        description="Longest retry delay.",
    )
    coingecko_base_url: str = Field(
        validation_alias="RWA_COINGECKO_BASE_URL",
        default="https://api.coingecko.com/api/v3",
        description="CoinGecko API root.",
    )
    coingecko_api_key: SecretStr | None = Field(
        validation_alias="RWA_COINGECKO_API_KEY",
        default=None,
        description="CoinGecko demo/pro key (optional for the public API).",
    )
    defillama_base_url: str = Field(
        validation_alias="RWA_DEFILLAMA_BASE_URL",
        default="https://api.llama.fi",
        description="DefiLlama TVL API root.",
    )
    defillama_stablecoins_url: str = Field(
        validation_alias="RWA_DEFILLAMA_STABLECOINS_URL",
        default="https://stablecoins.llama.fi",
        description="DefiLlama stablecoins API root.",
    )
    fred_base_url: str = Field(
        validation_alias="RWA_FRED_BASE_URL",
        default="https://api.stlouisfed.org",
        description="FRED API root.",
    )
    fred_api_key: SecretStr | None = Field(
        validation_alias="RWA_FRED_API_KEY", default=None, description="FRED API key (required)."
    )
    worldbank_base_url: str = Field(
        validation_alias="RWA_WORLDBANK_BASE_URL",
        default="https://api.worldbank.org/v2",
        description="World Bank indicators API root.",
    )
    newsapi_base_url: str = Field(
        validation_alias="RWA_NEWSAPI_BASE_URL",
        default="https://newsapi.org",
        description="NewsAPI root.",
    )
    newsapi_key: SecretStr | None = Field(
        validation_alias="RWA_NEWSAPI_KEY", default=None, description="NewsAPI key (required)."
    )
    news_feeds: Annotated[list[str], NoDecode] = Field(
        validation_alias="RWA_NEWS_FEEDS",
        default_factory=list,
        description="RSS/Atom feed URLs for the news source, comma-separated.",
    )

    evm_rpc_urls: Annotated[dict[str, SecretStr], NoDecode] = Field(
        validation_alias="RWA_EVM_RPC_URLS",
        default_factory=dict,
        description="EVM JSON-RPC endpoint per chain, `chain=url` comma-separated "
        "(`ethereum=https://...,gnosis=https://...`); a key in a URL is never logged.",
    )
    evm_confirmations: int = Field(
        validation_alias="RWA_EVM_CONFIRMATIONS",
        default=12,
        ge=0,
        description="Blocks below the head left unread (reorg safety).",
    )
    evm_max_block_range: int = Field(
        validation_alias="RWA_EVM_MAX_BLOCK_RANGE",
        default=2000,
        ge=1,
        description="Widest eth_getLogs block range; halved on a node's refusal, regrown after.",
    )
    evm_start_blocks: Annotated[dict[str, int], NoDecode] = Field(
        validation_alias="RWA_EVM_START_BLOCKS",
        default_factory=dict,
        description="First block per chain before any checkpoint, `chain=block` comma-separated "
        "(default: the first block of the ingest window).",
    )
    evm_state_dir: Path = Field(
        validation_alias="RWA_EVM_STATE_DIR",
        default=Path("data/evm"),
        description="Folder of the EVM source's checkpoints (last block read per chain).",
    )
    evm_rate_per_s: float = Field(
        validation_alias="RWA_EVM_RATE_PER_S",
        default=10.0,
        gt=0,
        description="JSON-RPC requests per second per chain.",
    )

    @field_validator("news_feeds", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("evm_rpc_urls", "evm_start_blocks", mode="before")
    @classmethod
    def _split_mapping(cls, value: object) -> object:
        """``chain=value,chain=value`` as a mapping (a mapping is taken as it is)."""
        parts = comma_separated(value)
        if not isinstance(parts, list):
            return parts
        pairs = [part.partition("=") for part in parts]
        bad = [part for part, (_, sign, _) in zip(parts, pairs, strict=True) if not sign]
        if bad:
            raise ValueError(f"expected chain=value pairs, got {bad}")
        return {chain.strip(): text.strip() for chain, _, text in pairs}


class KafkaSettings(Section):
    """The Kafka cluster, the topics the project creates and the bronze lander."""

    bootstrap_servers: str = Field(
        validation_alias="RWA_KAFKA_BOOTSTRAP_SERVERS",
        default="127.0.0.1:9092",
        description="Kafka bootstrap servers, comma-separated.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        validation_alias="RWA_KAFKA_SECURITY_PROTOCOL",
        default="PLAINTEXT",
        description="Kafka security protocol.",
    )
    topic_partitions: int = Field(
        validation_alias="RWA_KAFKA_TOPIC_PARTITIONS",
        default=3,
        ge=1,
        description="Partitions of topics the project creates.",
    )
    replication_factor: int = Field(
        validation_alias="RWA_KAFKA_REPLICATION_FACTOR",
        default=1,
        ge=1,
        description="Replication factor of topics the project creates.",
    )
    dead_letter_topic: str = Field(
        validation_alias="RWA_KAFKA_DEAD_LETTER_TOPIC",
        default="ingest-dead-letter",
        description="Topic for records that cannot be landed.",
    )
    lander_group_id: str = Field(
        validation_alias="RWA_LANDER_GROUP_ID",
        default="rwa-bronze-lander",
        description="Consumer group of the bronze lander.",
    )
    lander_max_records: int = Field(
        validation_alias="RWA_LANDER_MAX_RECORDS",
        default=5_000,
        ge=1,
        description="Records a Kafka partition's batch holds before the lander lands it (with the "
        "other batches at least half full); a batch is split into one object per bronze folder.",
    )
    lander_max_bytes: int = Field(
        validation_alias="RWA_LANDER_MAX_BYTES",
        default=16 * 1024 * 1024,
        ge=1024,
        description="Bytes of envelope lines a Kafka partition's batch holds before the lander "
        "lands it (with the other batches at least half full).",
    )
    lander_max_interval_s: float = Field(
        validation_alias="RWA_LANDER_MAX_INTERVAL_S",
        default=60.0,
        gt=0,
        description="Seconds an open bronze object may wait before rotating.",
    )
    lander_decode_processes: int = Field(
        validation_alias="RWA_LANDER_DECODE_PROCESSES",
        default=1,
        description="1: the lander checks envelopes in a worker process while it fetches the "
        "next poll; 0: in its own process.",
        ge=0,
        le=1,
    )


class ModelSettings(Section):
    """Which forecasting and sentiment models run, and how."""

    forecast_model: ForecastModel = Field(
        validation_alias="RWA_FORECAST_MODEL",
        default="arima",
        description="Served forecaster: arima (auto-ordered ARIMA), lstm (quantile LSTM on gold "
        "features) or ensemble (both, averaged in log space).",
    )
    forecast_on_spark: bool = Field(
        validation_alias="RWA_FORECAST_ON_SPARK",
        default=False,
        description="Fit the ARIMA forecasts in Spark executors, a task group per asset "
        "(applyInPandas), instead of one asset after another in the driver: for a cluster (on "
        "one machine the executors' Python workers cost more than they save); the LSTM and the "
        "ensemble always run in the driver.",
    )
    forecast_processes: int = Field(
        validation_alias="RWA_FORECAST_PROCESSES",
        default=0,
        ge=0,
        description="Processes that fit the ARIMA forecasts side by side on this machine, the "
        "step's own included (the others are worker processes): 0 one per available core, 1 "
        "one asset after another in the step's process (faster where other work keeps every core "
        "busy). Ignored with RWA_FORECAST_ON_SPARK; the LSTM and the ensemble always run in the "
        "step's process.",
    )
    sentiment_model: str = Field(
        validation_alias="RWA_SENTIMENT_MODEL",
        default="ProsusAI/finbert",
        description="FinBERT-style classifier for news sentiment: a local folder or a Hugging "
        "Face id; when it cannot be loaded the Loughran-McDonald lexicon is used (recorded in "
        "the model version).",
    )
    sentiment_allow_download: bool = Field(
        validation_alias="RWA_SENTIMENT_ALLOW_DOWNLOAD",
        default=False,
        description="Let `RWA_SENTIMENT_MODEL` be downloaded from the Hugging Face hub when it "
        "is an id not in the local cache (off: offline machines never wait on the network).",
    )
    sentiment_batch_size: int = Field(
        validation_alias="RWA_SENTIMENT_BATCH_SIZE",
        default=32,
        ge=1,
        description="Texts per FinBERT inference batch.",
    )
    sentiment_max_tokens: int = Field(
        validation_alias="RWA_SENTIMENT_MAX_TOKENS",
        default=256,
        ge=8,
        le=512,
        description="Tokens kept per text (longer texts truncated).",
    )


class OrchestrationSettings(Section):
    """Dagster: the deployment's resources, partitions and alerts."""

    deployment: Deployment = Field(
        validation_alias="RWA_DEPLOYMENT",
        default="local",
        description="Dagster resources to use: local (embedded defaults), ci (TimescaleDB "
        "serving store) or production (S3 lake, TimescaleDB, Kafka).",
    )
    partitions_start: dt.date = Field(
        validation_alias="RWA_PARTITIONS_START",
        default=dt.date(2024, 1, 1),
        description="First daily partition (fetch day) of the Dagster assets.",
    )
    alert_webhook_url: str | None = Field(
        validation_alias="RWA_ALERT_WEBHOOK_URL",
        default=None,
        description="URL a failed Dagster run is POSTed to as JSON (Slack-compatible `text`); "
        "unset = logged only.",
    )
