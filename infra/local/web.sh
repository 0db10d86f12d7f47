#!/usr/bin/env bash
# Installs the dashboard's browser libraries (Apache ECharts) from npm, idempotently, and copies
# them into the API's static files (api/web/static/vendor/, not in git). Pinned by
# infra/local/web/package-lock.json (versions and sha512 integrity, checked by `npm ci`);
# cached under ~/.cache/rwa-web/<lock hash>/ so a second run copies only. The machines that
# serve the dashboard are offline: the pages load nothing from a CDN.
set -euo pipefail
cd "$(dirname "$0")/../.."

lock=infra/local/web/package-lock.json
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rwa-web/$(sha256sum "$lock" | cut -c1-16)"
bundle="$cache/node_modules/echarts/dist/echarts.min.js"
vendor=api/web/static/vendor

if [ ! -f "$bundle" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "[web] npm not found: installing Debian's npm"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm
  fi
  echo "[web] installing the pinned chart library into $cache (npm ci)"
  rm -rf "$cache.partial" && mkdir -p "$cache.partial"
  cp infra/local/web/package.json "$lock" "$cache.partial/"
  # --ignore-scripts: nothing the registry sends runs here; the cache appears only when complete.
  npm ci --prefix "$cache.partial" --ignore-scripts --no-audit --no-fund --loglevel=error
  rm -rf "$cache" && mv "$cache.partial" "$cache"
fi
mkdir -p "$vendor"
cp "$bundle" "$vendor/echarts.min.js.tmp" && mv "$vendor/echarts.min.js.tmp" "$vendor/echarts.min.js"
echo "[web] echarts $(node -p "require('$cache/node_modules/echarts/package.json').version" 2>/dev/null || echo '?') at $vendor/echarts.min.js"
