#!/usr/bin/env bash
# Builds the project's container image with podman (no Docker, no registry pulls):
#
#   bash infra/image/build.sh     # -> localhost/rwa-lakehouse:<git short hash>, :<version>, :latest
#
# 1. podman + buildah from Debian's packages (installed when missing; as root).
# 2. A Debian 12 root from `debootstrap --variant=minbase bookworm`, cached under
#    ${XDG_CACHE_HOME:-~/.cache}/rwa-image/ (like infra/local/timescaledb.sh's trixie root),
#    imported once as localhost/rwa-base:bookworm (`tar -C root -c . | podman import - NAME`).
# 3. The build context, staged in build/image/: the runtime requirements pinned to the versions
#    .venv was tested with (no dev extras), the project's wheel, the entrypoint.
# 4. `podman build --isolation chroot` of infra/image/Containerfile, with uv, uv's cache and
#    pip's find-links folder (the CPU build of torch) mounted into the build.
#
# Needs .venv (bash infra/local/install.sh). Times: see docs/deployment.md (cold ~10 min,
# an unchanged rebuild seconds). Environment (optional):
#   RWA_IMAGE         image name               (default localhost/rwa-lakehouse)
#   RWA_IMAGE_TAG     tag                      (default: git short hash, + -dirty when modified)
#   RWA_IMAGE_ROOT    the debootstrap root     (default ~/.cache/rwa-image/bookworm-minbase)
#   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR      (default: the mirrors this host's apt uses)
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${RWA_IMAGE:-localhost/rwa-lakehouse}
BASE_IMAGE=localhost/rwa-base:bookworm
ROOT=${RWA_IMAGE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/rwa-image/bookworm-minbase}
READY=$ROOT.ready
LOG=$ROOT.setup.log
STAGE=build/image
start_all=$SECONDS

log() { printf 'image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
timed() {
    local step=$1 start=$SECONDS
    shift
    "$@" || return
    log "$step done in $((SECONDS - start))s"
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, and podman's root storage)"
[ -x .venv/bin/python ] || die ".venv missing: run bash infra/local/install.sh first"

install_tools() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v buildah >/dev/null || missing+=(buildah)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return
    log "installing ${missing[*]} (apt)"
    apt-get update -q >>"$LOG" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$LOG" 2>&1
}

# host_mirror: the Debian mirrors of this host (shared with infra/local/timescaledb.sh).
# shellcheck source=infra/local/host-mirror.sh
source infra/local/host-mirror.sh

build_root() {
    # A killed debootstrap can leave proc/sys mounted inside: unmount before removing.
    awk -v r="$ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf --one-file-system "$ROOT" "$READY"
    mkdir -p "$(dirname "$ROOT")"
    local mirror=${DEBIAN_MIRROR:-$(host_mirror 0)}
    local security=${DEBIAN_SECURITY_MIRROR:-$(host_mirror 1)}
    [ -n "$mirror" ] || die "no Debian mirror found; set DEBIAN_MIRROR"
    debootstrap --variant=minbase bookworm "$ROOT" "$mirror" >>"$LOG" 2>&1 ||
        { tail -n 20 "$LOG" >&2; die "debootstrap failed (log: $LOG)"; }
    {
        echo "deb $mirror bookworm main"
        echo "deb $mirror bookworm-updates main"
        [ -z "$security" ] || echo "deb $security bookworm-security main"
    } >"$ROOT/etc/apt/sources.list"
    # No services start in an image build; no apt caches or docs kept in the layers.
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n' \
        >"$ROOT/etc/dpkg/dpkg.cfg.d/01-rwa-nodoc"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$ROOT/etc/apt/apt.conf.d/01-rwa-norecommends"
    rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
    date -u +%FT%TZ >"$READY"
}

import_base() {
    # The base is re-imported when the root was rebuilt after the last import.
    local stamp
    stamp=$(cat "$READY")
    if [ "$(podman image inspect --format '{{index .Labels "rwa.root"}}' "$BASE_IMAGE" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    tar -C "$ROOT" --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . |
        podman import --change "LABEL rwa.root=$stamp" --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
}

stage_context() {
    rm -rf "$STAGE"
    mkdir -p "$STAGE/dist"
    cp infra/image/entrypoint.sh infra/image/spark_main.py "$STAGE/"
    # The runtime requirements, pinned to what .venv was tested with.
    uv pip freeze --python .venv/bin/python | grep -v -e '^-e ' -e '^rwa-lakehouse' >"$STAGE/tested.txt"
    uv pip compile -q pyproject.toml --constraint "$STAGE/tested.txt" \
        ${FIND_LINKS:+--find-links "$FIND_LINKS"} --python-version 3.11 \
        --python-platform x86_64-manylinux_2_28 --no-header --no-annotate \
        -o "$STAGE/requirements.txt"
    rm "$STAGE/tested.txt"
    # The dashboard's vendored chart library is git-ignored but part of the package.
    [ -n "$(ls api/web/static/vendor 2>/dev/null)" ] || bash infra/local/web.sh
    uv build -q --wheel --out-dir "$STAGE/dist" .
}

FIND_LINKS=$(python3 -m pip config get global.find-links 2>/dev/null || true)
FIND_LINKS=${FIND_LINKS:-${PIP_FIND_LINKS:-}}
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -w 1800 9 || die "another build holds $ROOT.lock"

timed "tools" install_tools
if [ ! -f "$READY" ]; then timed "debootstrap bookworm (minbase)" build_root; fi
timed "base import" import_base
timed "context" stage_context

# Tags: the commit (what the release pins), the project's version (what the overlays name), latest.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)
tag=${RWA_IMAGE_TAG:-$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo -dirty)}
uv_bin=$(readlink -f "$(dirname "$(python3 -c 'import shutil; print(shutil.which("uv"))')")/uv")
[ -x "$uv_bin" ] || die "uv not found"
uv_cache=$(uv cache dir)
ca_file=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
volumes=(--volume "$uv_bin:/usr/local/bin/uv:ro" --volume "$uv_cache:/uv-cache"
    --volume "$(readlink -f "$ca_file"):/uv-ca.pem:ro")
[ -z "$FIND_LINKS" ] || volumes+=(--volume "$FIND_LINKS:/wheels:ro")
[ -n "$FIND_LINKS" ] || volumes+=(--volume "$STAGE/dist:/wheels:ro")

timed "podman build" podman build --isolation chroot --layers \
    --build-arg BASE_IMAGE="$BASE_IMAGE" "${volumes[@]}" \
    --label org.opencontainers.image.revision="$(git rev-parse HEAD)" \
    --label org.opencontainers.image.source=rwa-lakehouse \
    -f infra/image/Containerfile -t "$IMAGE:$tag" -t "$IMAGE:$version" -t "$IMAGE:latest" "$STAGE"

size=$(podman image inspect --format '{{.Size}}' "$IMAGE:$tag")
log "built $IMAGE:$tag ($((size / 1024 / 1024)) MiB) in $((SECONDS - start_all))s"
echo "$IMAGE:$tag"
