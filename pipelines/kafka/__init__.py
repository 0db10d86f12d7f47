"""Kafka transport: client configuration, topic administration and the envelope publisher.

Raw envelopes travel on one topic per dataset (``TOPIC_BY_DATASET``); the bronze lander
(:mod:`pipelines.bronze.lander`) consumes them. Everything here speaks the plain Kafka protocol
through kafka-python and targets any Kafka >= 2.x (MSK in production); the local broker
(``infra/local/kafka.sh``) is only a stand-in.
"""
