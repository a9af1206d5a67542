#!/usr/bin/env bash
# Make a real Prometheus server and promtool available for the exporter's integration test.
#
# Prints exactly ONE line on stdout: the path of an executable `prometheus`
# command with an executable `promtool` beside it. Everything else goes to stderr.
# Nothing is installed as a service: Debian's package, when fetched, is only
# unpacked (installing it would start a Prometheus on port 9090).
#
# Order:
#   a) $PROMETHEUS if set (error if unusable or older than 2.40); promtool beside it
#   b) prometheus and promtool side by side on PATH, if >= 2.40
#   c) Debian family: cached or freshly fetched Debian sid `prometheus` and
#      `promtool`, unpacked under <project>/.cache/prometheus and run through
#      wrappers (scripts/lib/debian-fetch.sh)
#   d) otherwise: fail with a message saying what to install
set -euo pipefail

MIN_MAJOR=2
MIN_MINOR=40
MIN_VERSION="${MIN_MAJOR}.${MIN_MINOR}"

LOG_NAME=ensure-prometheus
# shellcheck source=lib/debian-fetch.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/debian-fetch.sh"
CACHE="${PROMETHEUS_CACHE_DIR:-$PROJECT_DIR/.cache/prometheus}"
WRAPPER="$CACHE/bin/prometheus"
# "prometheus, version 3.5.3+ds1 (branch: debian/sid, revision: 3.5.3+ds1-6)"
VERSION_PREFIX='^prometheus, version '

# promtool_beside CMD: succeed when an executable promtool sits next to CMD.
promtool_beside() {
  [[ -x "$(dirname "$1")/promtool" ]]
}

# ---- a) explicit override -------------------------------------------------
if override PROMETHEUS "Prometheus >= $MIN_VERSION"; then
  promtool_beside "$cmd" || die "PROMETHEUS=$PROMETHEUS has no executable promtool beside it"
  found "$cmd" "using PROMETHEUS=$cmd (v$v)"
fi

# ---- b) PATH ----------------------------------------------------------------
if cmd="$(command -v prometheus 2>/dev/null)" && [[ -n "$cmd" ]]; then
  v="$(server_version "$cmd")"
  if version_ok "$v" && promtool_beside "$cmd"; then found "$cmd" "using $cmd from PATH (v$v)"; fi
  log "ignoring $cmd on PATH: version '${v:-unknown}' (need >= $MIN_VERSION) or no promtool beside it"
fi

# ---- c) cached or fetched Debian packages -------------------------------------
if [[ -x "$CACHE/bin/promtool" ]]; then use_cached; fi
# ---- d) ... unless this machine cannot fetch them: give up clearly
prepare_fetch "no prometheus >= $MIN_VERSION found" prometheus \
  "install Prometheus >= $MIN_VERSION (https://prometheus.io/download/) so that prometheus and promtool are on PATH side by side, or set PROMETHEUS=/path/to/prometheus"
lock_cache

# sid has no -security suite. Since trixie, promtool is a package of its own; both are Go programs linked
# against libc only (the web UI's JavaScript packages they depend on are not needed for the API).
apt_download sid 0 prometheus promtool libc6
install_tree usr/lib64/ld-linux-x86-64.so.2 usr/lib/x86_64-linux-gnu \
  prometheus=usr/bin/prometheus promtool=usr/bin/promtool

v="$(server_version "$WRAPPER")"
version_ok "$v" || die "fetched $WRAPPER reports version '${v:-unknown}', need >= $MIN_VERSION"
found "$WRAPPER" "ready: $WRAPPER (v$v, promtool beside it)"
