"""The broker restarts while the producer is sending: nothing acknowledged is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pipelines.bronze.lander import BronzeLander
from pipelines.kafka.producer import EnvelopePublisher, PublishReport
from pipelines.kafka.topics import ensure_topics
from pipelines.lake.objects import open_object_store
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.lake import MakeSettings
from tests.pipelines.kafka.support import bronze_lines, ingest_id_counts, kafka_settings
from tests.pipelines.kafka.support import simulated_envelopes as simulate


def test_broker_restart_during_production_loses_nothing_acknowledged(
    kafka: KafkaBroker, make_settings: MakeSettings, tmp_path: Path
) -> None:
    """Every envelope is either acknowledged and then landed exactly once, or reported failed;
    the publisher stays usable, and sending the reported ones again lands them too.

    How the test is honest about the local broker: Tansu here keeps its log in memory, so a
    restart empties it, which a real Kafka (replicated, on disk) never does to acknowledged
    records. So the records acknowledged before the restart are landed (and committed) before
    it, into lake A. The rest of the stream is sent while the broker is down and restarting:
    the producer must hold and retry those sends, not drop them. When the broker is back (its
    topics recreated, as an operator would after losing a cluster), each of them is either
    acknowledged or reported failed: Tansu has also forgotten the idempotent producer's id and
    refuses the epoch bump, which kafka-python treats as fatal, so here they are reported
    failed; a real Kafka keeps producer state and acknowledges them. The caller sends the
    reported ones again through the same publisher. Everything then lands into lake B (a fresh
    lake, since the new log reuses offsets from 0), and the two lakes together must hold every
    envelope exactly once.
    """
    settings = kafka_settings(make_settings, kafka, sim_days=3)
    lake_a, lake_b = (settings.updated(lake_root=str(tmp_path / name)) for name in ("a", "b"))
    envelopes = simulate(settings)
    before, during = envelopes[:60], envelopes[60:]
    publisher = EnvelopePublisher(settings.kafka)
    try:
        first = publisher.publish_all(before)
        assert first.acknowledged == len(before)
        BronzeLander(
            lake_a.kafka,
            open_object_store(lake_a.lake),
            consumer_overrides=kafka.consumer_overrides,
        ).run(stop_after_idle_s=1)

        kafka.stop()
        reports: list[PublishReport] = []
        sender = threading.Thread(target=lambda: reports.append(publisher.publish_all(during)))
        sender.start()
        time.sleep(1.5)  # sends pile up while nothing listens
        assert sender.is_alive(), "the producer gave up while the broker was down"
        kafka.start()
        ensure_topics(settings.kafka)
        sender.join(120)
        assert not sender.is_alive()
        (second,) = reports
        assert second.attempted == len(during)  # each one is accounted for
        failed = {failure.ingest_id for failure in second.failed}
        resend = publisher.publish_all(e for e in during if e.ingest_id in failed)
        assert resend.acknowledged == len(failed)
    finally:
        publisher.close()

    BronzeLander(
        lake_b.kafka, open_object_store(lake_b.lake), consumer_overrides=kafka.consumer_overrides
    ).run(stop_after_idle_s=1)
    landed = ingest_id_counts(
        bronze_lines(open_object_store(lake_a.lake)) + bronze_lines(open_object_store(lake_b.lake))
    )
    assert set(landed) == {e.ingest_id for e in envelopes}
    assert set(landed.values()) == {1}
