#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine (as root), idempotently:
# Java 17 for Spark and poppler's pdftoppm for the report tests (apt, each only if missing), uv,
# the dashboard's chart library (npm, pinned: infra/local/web.sh), .venv with the project
# and its dev tools, and .venv-checkov (the security scanner, kept apart for its pins).
# A second run with an unchanged pyproject.toml returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v java >/dev/null 2>&1; then
  echo "[install] Java not found: installing openjdk-17-jre-headless"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless
fi

# The report tests draw every page of the PDFs with poppler's pdftoppm (WeasyPrint itself needs
# only Pango, which Debian's base image has).
if ! command -v pdftoppm >/dev/null 2>&1; then
  echo "[install] pdftoppm not found: installing poppler-utils"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q poppler-utils
fi

command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv

# The dashboard's chart library (npm, pinned), copied into the API's static files.
bash infra/local/web.sh

# Every install (worktrees, fresh clones) adds to uv's cache, which is never trimmed by itself:
# it once filled the disk (70 GB) and the suite failed writing its temporary files. Below
# 10 GB free, drop the entries no environment uses any more.
free_kb=$(df -Pk "$HOME" | awk 'NR == 2 {print $4}')
if [ "${free_kb:-0}" -lt $((10 * 1024 * 1024)) ]; then
  echo "[install] under 10 GB free: pruning uv's cache"
  uv cache prune -q || true
fi

# checkov (the security scan of infra/, tests/infra/test_security_scan.py) in a venv of its own:
# its pins would downgrade boto3, packaging and networkx in .venv. Pinned; cached by uv.
CHECKOV_VERSION=3.3.30
if [ ! -x .venv-checkov/bin/checkov ] || [ ! -f ".venv-checkov/.checkov-$CHECKOV_VERSION-bytecode" ]; then
  echo "[install] checkov $CHECKOV_VERSION into .venv-checkov"
  rm -rf .venv-checkov
  uv venv -q --python "$(command -v python3)" .venv-checkov
  uv pip install -q --compile-bytecode --python .venv-checkov/bin/python "checkov==$CHECKOV_VERSION"
  touch ".venv-checkov/.checkov-$CHECKOV_VERSION-bytecode"
fi

# The project's own packages as bytecode too (only files changed since are compiled again).
# Python reads bytecode it finds even where PYTHONDONTWRITEBYTECODE forbids writing it.
# Bytecode is only a speed-up: a file that does not compile (work in progress) or a folder
# that cannot be written warns and the install goes on.
compile_project() {
  .venv/bin/python -m compileall -q -j 0 api dagster_project models pipelines ||
    echo "[install] warning: some of the project's modules were not compiled to bytecode"
}

# "bytecode": environments installed before the install compiled bytecode are installed again.
stamp=".venv/.installed-$( (cat pyproject.toml; echo bytecode) | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  compile_project
  echo "[install] .venv is up to date"
  exit 0
fi

# uv ignores pip's configuration, so hand it pip's find-links folder: that is where the CPU
# build of torch 2.13.0 lies (without it uv would resolve the CUDA build, gigabytes of it).
find_links=$(python3 -m pip config get global.find-links 2>/dev/null || true)
find_links=${find_links:-${PIP_FIND_LINKS:-}}
[ -d .venv ] || uv venv -q --python "$(command -v python3)" .venv
echo "[install] installing the project into .venv (uv, cached under ~/.cache/uv)"
# Bytecode at install time, as pip makes it (uv does not by default): where the environment
# sets PYTHONDONTWRITEBYTECODE (as this workplace's does), every Python process would otherwise
# compile each module it imports from source, every time: about 9 s of CPU for the modules of
# `rwa demo`, again in each worker process (docs/benchmarks.md, session 14).
uv pip install -q --compile-bytecode --python .venv/bin/python ${find_links:+--find-links "$find_links"} -e ".[dev]"
compile_project
rm -f .venv/.installed-*
touch "$stamp"
echo "[install] done: $(.venv/bin/python --version), rwa at .venv/bin/rwa"
