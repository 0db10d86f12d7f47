#!/usr/bin/env bash
# The test command: install, start the services the tests need, run the whole suite.
# Services: TimescaleDB (chroot, cached under ~/.cache), Redis (Debian's redis-server on a
# fixed loopback port, for the rate-limit tests), a local S3 server (moto) and a Kafka
# broker (Tansu, its binary cached under ~/.cache), the last two started by the test fixtures on
# free loopback ports; Debian's chromium for the dashboard's browser tests. Extra arguments go
# to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash infra/local/install.sh
bash infra/local/timescaledb.sh start
bash infra/local/redis.sh start >/dev/null
bash infra/local/kafka.sh install >/dev/null  # the test fixture starts it on a free port
# The dashboard's browser tests drive Debian's chromium (Playwright cannot download one here).
if ! command -v chromium >/dev/null 2>&1; then
  echo "[test] chromium not found: installing it (apt)"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

# Services must be there: a test that cannot reach one fails instead of skipping.
export RWA_TEST_REQUIRE_SERVICES=1
# Tiny matrices (ARIMA fits) beside Spark on 2 cores: BLAS threads only contend with each other.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
# The suite starts dozens of Python processes (`rwa` commands, API servers, Spark's Python
# workers, Dagster's UI), each importing much the same ~1,500 modules (Spark, Great
# Expectations, Dagster, scipy). uv installs no bytecode, so with PYTHONDONTWRITEBYTECODE set
# (container images often set it) every process compiled all of them from source again: the
# full import took 47-55 s instead of 15-23 s at load 8. Let the first process write the cache.
unset PYTHONDONTWRITEBYTECODE
# Two pytest processes (RWA_TEST_WORKERS): the suite spends much of its time in one Python
# thread (Spark's driver, process start-ups, servers' readiness) while the second core idles.
# Whole modules go to one process (--dist loadfile), so module fixtures are built once; each
# process has its own Spark session, TimescaleDB database and Redis database (the fixtures
# never share state between pytest processes). 0 runs in this process alone.
workers="${RWA_TEST_WORKERS:-2}"
if [ "$workers" = "0" ]; then
  exec .venv/bin/pytest "$@"
fi
exec .venv/bin/pytest -n "$workers" --dist loadfile "$@"
