# Sourced by the scripts that debootstrap a Debian root (infra/local/timescaledb.sh,
# infra/image/build.sh): they use the mirrors this host's apt is configured with rather than a
# hard-coded host that may be unreachable from a sandbox.

# host_mirror 0|1: the first apt URI of this host that is (1) or is not (0) a security mirror,
# from deb822 `URIs:` lines or one-line `deb [options] URI suite` entries; empty if none.
host_mirror() {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        2>/dev/null |
        awk -v want="$1" '$1 == "URIs:" || $1 == "deb" {
            for (i = 2; i <= NF; i++)
                if ($i ~ /^(https?|ftp|file):/ && ($i ~ /security/) == want) { print $i; exit }
        }' || true
}
