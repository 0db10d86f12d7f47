#!/usr/bin/env bash
# Installs the dashboard's browser libraries (Apache ECharts) from npm, idempotently, bundles the
# charts and components the pages use (infra/local/web/charts.js, with esbuild) and copies the
# bundle into the API's static files (api/web/static/vendor/, not in git). Pinned by
# infra/local/web/package-lock.json (versions and sha512 integrity, checked by `npm ci`);
# cached under ~/.cache/rwa-web/<hash of the lock and the entry>/ so a second run copies only.
# The machines that serve the dashboard are offline: the pages load nothing from a CDN.
set -euo pipefail
cd "$(dirname "$0")/../.."

lock=infra/local/web/package-lock.json
entry=infra/local/web/charts.js
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rwa-web/$(cat "$lock" "$entry" | sha256sum | cut -c1-16)"
bundle="$cache/echarts.min.js"
vendor=api/web/static/vendor

if [ ! -f "$bundle" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "[web] npm not found: installing Debian's npm"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm
  fi
  echo "[web] installing and bundling the pinned chart library into $cache (npm ci, esbuild)"
  rm -rf "$cache.partial" && mkdir -p "$cache.partial"
  cp infra/local/web/package.json "$lock" "$cache.partial/"
  # --ignore-scripts: nothing the registry sends runs here; the cache appears only when complete.
  npm ci --prefix "$cache.partial" --ignore-scripts --no-audit --no-fund --loglevel=error
  cp "$entry" "$cache.partial/"
  # esbuild's own launcher finds its platform binary (no install script needed).
  (cd "$cache.partial" && node_modules/.bin/esbuild charts.js --bundle --minify --format=iife \
    --target=es2020 --legal-comments=eof --log-level=warning --outfile=echarts.min.js)
  rm -rf "$cache" && mv "$cache.partial" "$cache"
fi
mkdir -p "$vendor"
cp "$bundle" "$vendor/echarts.min.js.tmp" && mv "$vendor/echarts.min.js.tmp" "$vendor/echarts.min.js"
echo "[web] echarts $(node -p "require('$cache/node_modules/echarts/package.json').version" 2>/dev/null || echo '?') at $vendor/echarts.min.js"
