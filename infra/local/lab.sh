#!/usr/bin/env bash
# JupyterLab on the quants' notebooks (notebooks/), on loopback only; Jupyter prints the URL with
# its token. Installs the project (infra/local/install.sh) when .venv is missing, and the
# `notebooks` extra (JupyterLab, ipykernel) when it is not there yet. The kernel is .venv's
# Python, so `pipelines`, `models` and `api.client` import as they are in the repository.
#
# Usage: bash infra/local/lab.sh [more jupyter lab arguments]
# Environment: RWA_LAB_PORT (default 8888; a taken port moves to the next free one). The
# notebooks read the lake and store of the settings (RWA_* variables, else ./data/ as after
# `rwa demo`), and the API notebook RWA_API_URL and RWA_API_KEY.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ -x .venv/bin/python ] || bash infra/local/install.sh
if ! .venv/bin/python -c "import jupyterlab, ipykernel" 2>/dev/null; then
  echo "[lab] installing the notebooks extra into .venv (uv)"
  # pip's find-links folder holds the CPU build of torch (see install.sh)
  find_links=$(python3 -m pip config get global.find-links 2>/dev/null || true)
  find_links=${find_links:-${PIP_FIND_LINKS:-}}
  uv pip install -q --python .venv/bin/python ${find_links:+--find-links "$find_links"} \
    -e ".[notebooks]"
fi

# install.sh's machines run as root, which Jupyter refuses without --allow-root
as_root=()
[ "$(id -u)" -ne 0 ] || as_root=(--allow-root)
exec .venv/bin/jupyter lab "${as_root[@]}" --no-browser --ip 127.0.0.1 --port "${RWA_LAB_PORT:-8888}" \
  --ServerApp.root_dir=notebooks "$@"
