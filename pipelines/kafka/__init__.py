"""Kafka transport: client configuration, topics, the envelope publisher and the consumer side.

* :mod:`~pipelines.kafka.client`: every client's configuration (one home);
* :mod:`~pipelines.kafka.topics`: the topic names (one raw topic per dataset,
  ``TOPIC_BY_DATASET``; the dead-letter topic) and their creation;
* :mod:`~pipelines.kafka.producer`: publishing raw envelopes;
* :mod:`~pipelines.kafka.consumer`: a consumer-group member and where offsets are committed
  (only after the caller's durable write);
* :mod:`~pipelines.kafka.dead_letters`: publishing records a consumer cannot process.

The bronze lander (:mod:`pipelines.bronze.lander`) builds on the consumer side. Everything here
speaks the plain Kafka protocol through kafka-python and targets any Kafka >= 2.x (MSK in
production); the local broker (``infra/local/kafka.sh``) is only a stand-in.
"""
