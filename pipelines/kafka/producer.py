"""Publishing raw envelopes to Kafka: one record per envelope, keyed per asset or series.

Record layout
    * topic: ``TOPIC_BY_DATASET[envelope.dataset]`` (``price-data-raw``, ...);
    * key: :func:`envelope_key`, ``<source>|<dataset>|<identity>`` in UTF-8, where identity is
      the first of the request params in :data:`IDENTITY_PARAMS` that is present (the asset,
      symbol or series the response is about), else the endpoint. Kafka's default partitioner
      hashes the key, so every response about one asset or series goes to one partition, and
      the idempotent producer keeps them in send order there: per-asset order holds end to end.
      A source whose params name no identity keeps all its responses of one endpoint together,
      which is still ordered, only less parallel;
    * value: ``envelope.to_json_line()`` in UTF-8 (the very line bronze stores);
    * headers: ``source``, ``dataset`` and ``ingest_id``, so tools can route or trace records
      without parsing the value.

Delivery
    Sends are asynchronous; :meth:`EnvelopePublisher.flush` waits for every outstanding send and
    returns a :class:`PublishReport`: how many envelopes the brokers acknowledged (``acks=all``)
    and each one that failed, with the reason. A send is retried inside the producer until
    ``delivery_timeout_ms`` (a broker restart within it is ridden out); nothing is dropped
    without being reported, and an acknowledged record is in every in-sync replica's log.
    Publishing failed envelopes again is safe for bronze's contract but at-least-once: a send
    that timed out may have been written after all, and silver deduplicates by ``ingest_id``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaError

from pipelines.contracts.envelope import RawEnvelope
from pipelines.core.errors import RwaError
from pipelines.core.resources import Closeable
from pipelines.core.settings import KafkaSettings
from pipelines.kafka.client import (
    close_producer,
    flush_timeout_s,
    new_producer,
    producer_config,
)
from pipelines.kafka.topics import TOPIC_BY_DATASET, ensure_topics, raw_topics

log = logging.getLogger(__name__)

#: Request params that name what a response is about, in order of preference.
IDENTITY_PARAMS: tuple[str, ...] = (
    "asset_id",
    "asset",
    "symbol_id",
    "symbol",
    "coin_id",
    "id",
    "ids",
    "protocol",
    "stablecoin",
    "chain",
    "series_id",
    "indicator",
    "country",
    "feed",
    "url",
)


class DeliveryError(RwaError):
    """Some envelopes were not acknowledged by Kafka; the message says how many and why."""


def delivery_failure_message(failed: list[DeliveryFailure], attempted: int) -> str:
    first = failed[0]
    return (
        f"{len(failed):,} of {attempted:,} envelopes were not acknowledged by Kafka "
        f"(first: {first.ingest_id} on {first.topic}: {first.reason})"
    )


def envelope_key(envelope: RawEnvelope) -> str:
    """The record key of ``envelope``: ``<source>|<dataset>|<identity>`` (see the module doc)."""
    for name in IDENTITY_PARAMS:
        value = envelope.params.get(name)
        if value not in (None, "", [], {}):
            return f"{envelope.source}|{envelope.dataset}|{value}"
    return f"{envelope.source}|{envelope.dataset}|{envelope.endpoint}"


@dataclass(frozen=True)
class DeliveryFailure:
    ingest_id: str
    topic: str
    reason: str


@dataclass
class PublishReport:
    """Outcome of the sends since the previous flush."""

    acknowledged: int = 0
    failed: list[DeliveryFailure] = field(default_factory=list)
    by_topic: Counter[str] = field(default_factory=Counter)

    @property
    def attempted(self) -> int:
        return self.acknowledged + len(self.failed)

    def raise_for_failures(self) -> None:
        """Raise :class:`DeliveryError` naming the first reason when any send failed."""
        if self.failed:
            raise DeliveryError(delivery_failure_message(self.failed, self.attempted))


class EnvelopePublisher(Closeable):
    """Sends envelopes to their dataset topics and accounts for every send.

    ``overrides`` are extra kafka-python producer settings (tests shorten timeouts with them).
    With ``create_topics`` (the default) the raw topics are created first, idempotently.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        overrides: Mapping[str, Any] | None = None,
        create_topics: bool = True,
    ) -> None:
        if create_topics:
            ensure_topics(settings, raw_topics())
        self._config = producer_config(settings) | dict(overrides or {})
        self._producer = new_producer(self._config)
        self._renew = False
        # Delivery callbacks run on kafka-python's IO thread: the bookkeeping is under a lock.
        self._lock = threading.Lock()
        self._report = PublishReport()
        self._pending: dict[int, tuple[str, str]] = {}  # send token -> (ingest_id, topic)
        self._tokens = itertools.count()

    @property
    def idempotent(self) -> bool:
        """Whether the producer runs idempotently (the broker supports it)."""
        return bool(self._producer.config["enable_idempotence"])

    @property
    def compression(self) -> str:
        return str(self._producer.config["compression_type"])

    def publish(self, envelope: RawEnvelope) -> None:
        """Send one envelope asynchronously; its outcome is in the next :meth:`flush` report."""
        topic = TOPIC_BY_DATASET[envelope.dataset]
        headers = [
            ("source", envelope.source.encode()),
            ("dataset", envelope.dataset.encode()),
            ("ingest_id", envelope.ingest_id.encode()),
        ]
        if self._renew:
            self._renew_producer()
        token = next(self._tokens)
        with self._lock:
            self._pending[token] = (envelope.ingest_id, topic)
        try:
            future = self._producer.send(
                topic,
                key=envelope_key(envelope).encode(),
                value=envelope.to_json_line().encode(),
                headers=headers,
            )
        except KafkaError as error:  # refused before it was queued (buffer full, too large)
            self._settle(token, error)
            return
        future.add_callback(lambda _: self._settle(token, None))
        future.add_errback(lambda error: self._settle(token, error))

    def _settle(self, token: int, error: BaseException | None) -> None:
        with self._lock:
            sent = self._pending.pop(token, None)
            if sent is None:
                return  # given up on at a flush timeout, and already reported as failed
            ingest_id, topic = sent
            if error is None:
                self._report.acknowledged += 1
                self._report.by_topic[topic] += 1
            else:
                self._report.failed.append(DeliveryFailure(ingest_id, topic, _reason(error)))

    def flush(self, timeout_s: float | None = None) -> PublishReport:
        """Wait for every outstanding send and return the report of the sends since the previous
        flush. The wait is bounded (default: :func:`flush_timeout_s`) because a send should
        resolve within ``delivery_timeout_ms``, yet kafka-python 3.0 can hold batches forever
        when the broker vanished before the idempotent producer got its id. A send unresolved
        at the timeout is reported as failed: it may still arrive, so a caller that retries it
        delivers it at least once."""
        wait = flush_timeout_s(self._producer.config) if timeout_s is None else timeout_s
        with contextlib.suppress(KafkaError):  # a flush timeout: the rest is reported below
            self._producer.flush(timeout=wait)
        with self._lock:
            report, self._report = self._report, PublishReport()
            for ingest_id, topic in self._pending.values():
                reason = f"not acknowledged within {wait:.0f} s"
                report.failed.append(DeliveryFailure(ingest_id, topic, reason))
            self._pending.clear()
        # After failed sends kafka-python's idempotent producer may be stuck in a fatal state
        # (e.g. a broker that lost its producer ids refuses the epoch bump): every later send
        # would fail. The next publish starts a fresh producer instead.
        self._renew = self._renew or bool(report.failed)
        return report

    def _renew_producer(self) -> None:
        log.warning("replacing the Kafka producer after failed sends")
        self._close_producer()
        self._producer = new_producer(self._config)
        self._renew = False

    def _close_producer(self) -> None:
        # After failed sends nothing is worth waiting for (the flush already waited).
        wait = 0.0 if self._renew else flush_timeout_s(self._producer.config)
        close_producer(self._producer, wait)

    def publish_all(self, envelopes: Iterable[RawEnvelope]) -> PublishReport:
        """Publish every envelope, then flush: the report covers all of them."""
        for envelope in envelopes:
            self.publish(envelope)
        return self.flush()

    def close(self) -> None:
        """Close the producer; call :meth:`flush` first to learn the outcome of every send."""
        self._close_producer()


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
