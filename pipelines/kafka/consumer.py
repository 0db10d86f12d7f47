"""The consumer side of Kafka: a consumer-group member that commits offsets by hand, and only
after what it consumed is durably written.

The commit rule (Kafka Connect's exactly-once rule for sinks)
    Offsets (the next offset to read) are committed synchronously, and only through
    :meth:`GroupConsumer.commit_after`, which first runs the caller's durable write (bronze
    objects and dead letters, for the bronze lander) and commits when it returned. A consumer
    that dies anywhere between writing and committing reads the same records again on restart;
    the writer makes the rewrite a no-op (deterministic names, ``put_if_absent``).

Rebalances
    kafka-python reports revoked, assigned and lost partitions on its IO thread; the
    :class:`RebalanceListener` only records them and the consumer's own thread takes them after
    each poll (:meth:`GroupConsumer.reset_partitions`) to drop what it buffered for them: their
    offsets were not committed, so the next owner reads them again. A commit refused because
    the group moved on is harmless for the same reason: :meth:`GroupConsumer.commit_after`
    returns False and the caller drops the partition's buffer.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from kafka.structs import OffsetAndMetadata

from pipelines.core.settings import KafkaSettings
from pipelines.kafka.client import consumer_config

log = logging.getLogger(__name__)

#: Commit errors meaning "the group moved on": the partition's next owner replays the batch.
REBALANCED = (
    CommitFailedError,
    RebalanceInProgressError,
    IllegalGenerationError,
    UnknownMemberIdError,
)


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes partitions whose buffers must be dropped. kafka-python calls it on its IO thread,
    so it only records; the consumer's own thread acts on it after each poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset: set[TopicPartition] = set()

    def _note(self, partitions: Any) -> None:
        with self._lock:
            self._reset.update(partitions)

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._note(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        # A (re)assigned partition restarts at its committed offset: an old buffer is stale.
        self._note(assigned)

    def on_partitions_lost(self, lost: Any) -> None:
        self._note(lost)

    def take(self) -> set[TopicPartition]:
        with self._lock:
            taken, self._reset = self._reset, set()
        return taken


class GroupConsumer:
    """A member of consumer group ``group_id`` reading ``topics``; it never commits on its own.

    ``overrides`` are extra kafka-python consumer settings (group timeouts).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        group_id: str,
        topics: Sequence[str],
        *,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.group_id = group_id
        self.topics = list(topics)
        config = consumer_config(settings, group_id) | dict(overrides or {})
        self._consumer = KafkaConsumer(**config)
        self._listener = RebalanceListener()

    def subscribe(self) -> None:
        self._consumer.subscribe(self.topics, listener=self._listener)

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        """Records fetched within ``timeout_ms``, per partition, in offset order."""
        polled: dict[TopicPartition, list[Any]] = self._consumer.poll(timeout_ms=timeout_ms)
        return polled

    def assignment(self) -> set[TopicPartition]:
        """The partitions this member owns right now."""
        return set(self._consumer.assignment())

    def reset_partitions(self) -> set[TopicPartition]:
        """Partitions revoked, lost or (re)assigned since the last call: what was buffered for
        them is stale."""
        return self._listener.take()

    def commit_after(
        self, offsets: Mapping[TopicPartition, int], durable_write: Callable[[], None]
    ) -> bool:
        """Run ``durable_write`` (it returns only once everything before each partition's next
        offset in ``offsets`` is durable, and raises otherwise), then commit ``offsets`` in one
        request. False when the commit was refused because the group moved on (the next owner
        replays the records)."""
        durable_write()
        try:
            self._consumer.commit(
                {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}
            )
        except REBALANCED as error:
            log.warning(
                "commit of %s refused (%s); their next owner replays them", dict(offsets), error
            )
            return False
        return True

    def close(self) -> None:
        """Leave the group (nothing is committed here)."""
        with contextlib.suppress(KafkaError):
            self._consumer.close()
