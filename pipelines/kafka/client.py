"""The one home of kafka-python client configuration: every client the project builds starts
from :func:`client_config` and adds only what its role needs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaProducer
from kafka.codec import has_lz4, has_zstd
from kafka.errors import KafkaError

from pipelines.core.errors import ConfigurationError, RwaError
from pipelines.core.settings import KafkaSettings

log = logging.getLogger(__name__)

CLIENT_ID = "rwa"

#: Group membership defaults for the lander. Kafka's own defaults (45 s session) make a crashed
#: lander's partitions wait that long before another member takes over; 10 s with a heartbeat
#: every 3 s is the classic kafka-python setting and well inside any broker's allowed range.
DEFAULT_SESSION_TIMEOUT_MS = 10_000
DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000


def bootstrap_servers(settings: KafkaSettings) -> list[str]:
    """``host:port`` entries of ``RWA_KAFKA_BOOTSTRAP_SERVERS``; at least one is required."""
    servers = [part.strip() for part in settings.bootstrap_servers.split(",")]
    servers = [server for server in servers if server]
    if not servers:
        raise ConfigurationError("RWA_KAFKA_BOOTSTRAP_SERVERS is empty")
    return servers


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """Connection settings shared by producers, consumers and the admin client."""
    return {
        "bootstrap_servers": bootstrap_servers(settings),
        "security_protocol": settings.security_protocol,
        "client_id": CLIENT_ID,
    }


def compression_codec() -> str:
    """The best codec this interpreter can produce: zstd or lz4 when their libraries are
    installed, else gzip (standard library; every Kafka version reads it). zstd needs brokers
    >= 2.1: :func:`new_producer` falls back to gzip on older ones."""
    if has_zstd():
        return "zstd"
    if has_lz4():
        return "lz4"
    return "gzip"


def producer_config(settings: KafkaSettings) -> dict[str, Any]:
    """A durable producer: acks from every in-sync replica, idempotent where the broker supports
    it (kafka-python turns idempotence on by default and off, with a warning, for brokers older
    than 0.11), unlimited retries bounded by ``delivery_timeout_ms``, and compressed batches."""
    return client_config(settings) | {
        "acks": "all",
        "compression_type": compression_codec(),
        "linger_ms": 10,
        "batch_size": 256 * 1024,
        # Topics are created by the admin API with the configured partitions, never implicitly
        # by a produce request with the broker's defaults.
        "allow_auto_create_topics": False,
    }


def flush_timeout_s(config: Mapping[str, Any]) -> float:
    """How long a flush may wait: every send resolves within ``delivery_timeout_ms``; the margin
    covers the last in-flight request."""
    return float(config.get("delivery_timeout_ms", 120_000)) / 1000 + 5.0


def new_producer(config: Mapping[str, Any]) -> Any:
    """A ``KafkaProducer`` for ``config``; with gzip instead of zstd on brokers older than 2.1
    (kafka-python refuses zstd there once it knows the broker's version)."""
    try:
        return KafkaProducer(**config)
    except ValueError as error:
        if config.get("compression_type") != "zstd":
            raise
        log.warning("%s; compressing with gzip instead", error)
        return KafkaProducer(**(dict(config) | {"compression_type": "gzip"}))


def close_producer(producer: Any, timeout_s: float) -> None:
    """Close a kafka-python producer, waiting at most ``timeout_s`` for unsent records.

    kafka-python 3.0 cannot close a producer whose batches are stuck (``close`` flushes first
    and raises on the timeout; batches waiting for an idempotent producer id never expire), and
    such a producer would deliver them whenever a broker comes back, after they were reported
    failed. Its sender thread is then stopped by force, aborting what is left: there is no
    public API for that.
    """
    try:
        producer.close(timeout=timeout_s)
    except KafkaError:
        log.warning("Kafka producer stuck with unsent records: closing it by force")
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
            sender.join(5)


def consumer_config(settings: KafkaSettings, group_id: str) -> dict[str, Any]:
    """A consumer-group member that commits by hand and starts a new group at the beginning."""
    return client_config(settings) | {
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "allow_auto_create_topics": False,
        # Aborted transactional writes never reach bronze.
        "isolation_level": "read_committed",
        "session_timeout_ms": DEFAULT_SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": DEFAULT_HEARTBEAT_INTERVAL_MS,
    }


class KafkaUnavailableError(RwaError):
    """Kafka could not be reached or refused a request; the message names the brokers."""


@contextlib.contextmanager
def kafka_errors(settings: KafkaSettings) -> Iterator[None]:
    """Turn kafka-python's exceptions into :class:`KafkaUnavailableError` (one-line CLI errors)."""
    try:
        yield
    except KafkaError as error:
        detail = str(error).strip() or type(error).__name__
        if type(error).__name__ not in detail:
            detail = f"{type(error).__name__}: {detail}"
        raise KafkaUnavailableError(f"Kafka at {settings.bootstrap_servers}: {detail}") from error
