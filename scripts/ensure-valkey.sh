#!/usr/bin/env bash
# Make a real valkey-server >= 9.1 available for the integration tests.
#
# Prints exactly ONE line on stdout: the path of an executable `valkey-server`
# command. Everything else goes to stderr.
#
# Order:
#   a) $VALKEY_SERVER if set (error if its version is too old / unusable)
#   b) valkey-server on PATH, if >= 9.1
#   c) Debian family: cached or freshly fetched Debian `valkey-tools` from sid,
#      unpacked under <project>/.cache/valkey and run through wrappers
#      (scripts/lib/debian-fetch.sh)
#   d) otherwise: fail with a message saying what to install
set -euo pipefail

MIN_MAJOR=9
MIN_MINOR=1
MIN_VERSION="${MIN_MAJOR}.${MIN_MINOR}"

LOG_NAME=ensure-valkey
# shellcheck source=lib/debian-fetch.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/debian-fetch.sh"
CACHE="${VALKEY_CACHE_DIR:-$PROJECT_DIR/.cache/valkey}"
WRAPPER="$CACHE/bin/valkey-server"
# "Valkey server v=9.1.2 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=..."
VERSION_PREFIX='.*[Vv]alkey server v='

# ---- a) explicit override -------------------------------------------------
if override VALKEY_SERVER "valkey >= $MIN_VERSION"; then
  found "$cmd" "using VALKEY_SERVER=$cmd (v$v)"
fi

# ---- b) PATH ----------------------------------------------------------------
if cmd="$(command -v valkey-server 2>/dev/null)" && [[ -n "$cmd" ]]; then
  v="$(server_version "$cmd")"
  if version_ok "$v"; then found "$cmd" "using $cmd from PATH (v$v)"; fi
  log "ignoring $cmd on PATH: version '${v:-unknown}' < $MIN_VERSION"
fi

# ---- c) cached or fetched Debian package -------------------------------------
use_cached
# ---- d) ... unless this machine cannot fetch it: give up clearly
prepare_fetch "no valkey-server >= $MIN_VERSION found" valkey-tools \
  "install Valkey >= $MIN_VERSION (https://valkey.io/download/) so that valkey-server is on PATH, or set VALKEY_SERVER=/path/to/valkey-server"
lock_cache

# sid has no -security suite.
apt_download sid 0 valkey-tools libc6 libssl3t64 libjemalloc2 liblzf1 libatomic1 libsystemd0 libzstd1 zlib1g \
  libgcc-s1 libstdc++6 openssl-provider-legacy liblz4-1 liblzma5 libcap2
# sid is merged-/usr inside its packages. valkey-server is the same binary as
# valkey-check-rdb, chosen by argv0.
install_tree usr/lib64/ld-linux-x86-64.so.2 usr/lib/x86_64-linux-gnu \
  valkey-server=usr/bin/valkey-check-rdb valkey-cli=usr/bin/valkey-cli

v="$(server_version "$WRAPPER")"
version_ok "$v" || die "fetched $WRAPPER reports version '${v:-unknown}', need >= $MIN_VERSION"
found "$WRAPPER" "ready: $WRAPPER (v$v)"
