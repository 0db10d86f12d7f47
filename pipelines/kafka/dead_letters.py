"""Dead letters: consumed records a consumer cannot process, published to the dead-letter topic.

A dead letter keeps its original key and value and gets the headers ``dlq.reason``,
``dlq.topic``, ``dlq.partition``, ``dlq.offset`` and ``dlq.group``. :meth:`DeadLetterPublisher.send`
returns only once every letter is acknowledged (``acks=all``), so a consumer that commits after it
(:meth:`~pipelines.kafka.consumer.GroupConsumer.commit_after`) loses none; after a crash between
the two the letters are sent again (at least once).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from pipelines.core.errors import RwaError
from pipelines.core.settings import KafkaSettings
from pipelines.kafka.client import close_producer, flush_timeout_s, new_producer, producer_config


class DeadLetterError(RwaError):
    """Dead letters were not acknowledged by the dead-letter topic: nothing may be committed."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A consumed record that cannot be processed, and why."""

    offset: int
    key: bytes | None
    value: bytes | None
    reason: str


class DeadLetterPublisher:
    """Publishes dead letters of consumer group ``group_id`` to ``RWA_KAFKA_DEAD_LETTER_TOPIC``;
    the producer is created on the first letter."""

    def __init__(self, settings: KafkaSettings, group_id: str) -> None:
        self._settings = settings
        self.topic = settings.dead_letter_topic
        self.group_id = group_id
        self._producer: Any = None

    def send(self, tp: TopicPartition, letters: Sequence[DeadLetter]) -> int:
        """Publish the dead letters consumed from ``tp`` and wait for their acknowledgement;
        returns how many were sent. Raises :class:`DeadLetterError` when any is not
        acknowledged."""
        if not letters:
            return 0
        if self._producer is None:
            self._producer = new_producer(producer_config(self._settings))
        futures = [
            self._producer.send(
                self.topic,
                key=letter.key,
                value=letter.value,
                headers=[
                    ("dlq.reason", letter.reason.encode()),
                    ("dlq.topic", tp.topic.encode()),
                    ("dlq.partition", str(tp.partition).encode()),
                    ("dlq.offset", str(letter.offset).encode()),
                    ("dlq.group", self.group_id.encode()),
                ],
            )
            for letter in letters
        ]
        with contextlib.suppress(KafkaError):  # a flush timeout: counted as failures below
            self._producer.flush(timeout=flush_timeout_s(self._producer.config))
        failed = [f.exception or "not acknowledged in time" for f in futures if not f.succeeded()]
        if failed:
            raise DeadLetterError(
                f"{len(failed)} dead letters of {tp.topic}[{tp.partition}] were not acknowledged "
                f"by {self.topic}: {failed[0]}"
            )
        return len(letters)

    def close(self) -> None:
        if self._producer is not None:
            # Its sends were flushed with their batch: nothing is left worth waiting for.
            close_producer(self._producer, 0)
            self._producer = None
