"""Fixtures for real services live in tests/fixtures/, one module per service."""

pytest_plugins = [
    "tests.fixtures.lake",
    "tests.fixtures.pipeline",
    "tests.fixtures.s3",
    "tests.fixtures.timescaledb",
    "tests.fixtures.serving",
    "tests.fixtures.http_replay",
    "tests.fixtures.evm_node",
    "tests.fixtures.kafka",
    "tests.fixtures.accounts",
    "tests.fixtures.redis",
    "tests.fixtures.browser",
]
