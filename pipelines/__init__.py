"""The data platform: ingestion, bronze, silver, gold and serving (docs/architecture.md)."""

import os

# Arrow's allocator (mimalloc) holds on to memory it freed before giving it back to the system;
# a process that works batch after batch (the silver engine, the lander, a Dagster run) kept its
# peak 100-150 MB above what a batch needs (bench/scale.py, silver at 16x the demo: 840-880 MB,
# 705-745 MB giving it back at once; no slower). mimalloc reads its options when pyarrow is first
# loaded, so they are set here, before any module of the package imports it; a value in the
# environment wins.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
