#!/usr/bin/env bash
# Make a real Redis 7 server (Debian bookworm's redis-server, built with TLS)
# available for integration tests that compare against an older server.
#
# Prints exactly ONE line on stdout: the path of an executable `redis-server`
# command. Everything else goes to stderr.
#
# Order:
#   a) $REDIS7_SERVER if set (error if it is not Redis 7.x)
#   b) cached unpacked packages under <project>/.cache/redis7
#   c) Debian family, root, x86_64: fetch bookworm's `redis-tools` (it holds
#      the real binary; bookworm's `redis-server` package only adds the
#      /usr/bin/redis-server -> redis-check-rdb symlink) plus the whole shared
#      library closure including libc6 and its loader, unpack them under
#      <project>/.cache/redis7/root and run them through wrappers
#      (scripts/lib/debian-fetch.sh)
#   d) otherwise: fail with one message saying what to do
set -euo pipefail

WANT_MAJOR=7
SUITE=bookworm

LOG_NAME=ensure-redis7
# shellcheck source=lib/debian-fetch.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/debian-fetch.sh"
CACHE="${REDIS7_CACHE_DIR:-$PROJECT_DIR/.cache/redis7}"
WRAPPER="$CACHE/bin/redis-server"
# Only real Redis counts ("Redis server v=7.0.15 sha=... malloc=jemalloc-5.3.0 bits=64 build=...").
VERSION_PREFIX='^Redis server v='

version_ok() {
  local v="$1"
  [[ "$v" =~ ^([0-9]+)\.[0-9]+ ]] || return 1
  (( BASH_REMATCH[1] == WANT_MAJOR ))
}

# TLS must be compiled in. With TLS, pointing tls-cert-file at a missing file
# makes startup fail at once with "Failed to load certificate"; a build
# without TLS would not read the file at all. No port is opened either way
# (the timeout only matters for a non-TLS build that starts up).
tls_ok() {
  local cmd="$1" out d
  d="$(mktemp -d)"
  out="$(cd "$d" && timeout 10 "$cmd" --port 0 --bind 127.0.0.1 --tls-port 1 --save '' --appendonly no \
    --dir "$d" --tls-cert-file "$d/missing.crt" --tls-key-file "$d/missing.key" \
    --tls-ca-cert-file "$d/missing-ca.crt" 2>&1 || true)"
  rm -rf "$d"
  grep -q 'Failed to load certificate' <<<"$out"
}

# ---- a) explicit override -------------------------------------------------
if override REDIS7_SERVER "Redis $WANT_MAJOR.x"; then
  tls_ok "$cmd" || die "REDIS7_SERVER=$REDIS7_SERVER (v$v) has no TLS support (build it with BUILD_TLS=yes)"
  found "$cmd" "using REDIS7_SERVER=$cmd (v$v)"
fi

# ---- b) cache ---------------------------------------------------------------
use_cached

# ---- c) fetch from Debian ----------------------------------------------------
# ---- d) ... unless this machine cannot: give up clearly
prepare_fetch "no cached Redis $WANT_MAJOR" redis-tools \
  "or set REDIS7_SERVER=/path/to/redis-server (Redis $WANT_MAJOR.x built with TLS)"
lock_cache

# redis-server (= redis-check-rdb) NEEDED closure on bookworm, plus libc6's own deps.
apt_download "$SUITE" 1 redis-tools libc6 libgcc-s1 libssl3 libjemalloc2 liblzf1 libatomic1 libstdc++6 libsystemd0 \
  libcap2 libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1
# bookworm is not merged-/usr inside its packages: libc lives in /lib, the
# rest in /usr/lib. redis-server is the same binary as redis-check-rdb,
# chosen by argv0.
install_tree lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu:usr/lib/x86_64-linux-gnu \
  redis-server=usr/bin/redis-check-rdb redis-cli=usr/bin/redis-cli

v="$(server_version "$WRAPPER")"
if ! version_ok "$v" || ! tls_ok "$WRAPPER"; then
  bad="fetched $WRAPPER reports version '${v:-unknown}'"
  rm -f "$WRAPPER" # do not let a broken result count as cached
  version_ok "$v" && die "fetched redis-server v$v has no working TLS support"
  die "$bad, need Redis $WANT_MAJOR.x"
fi
found "$WRAPPER" "ready: $WRAPPER (v$v, TLS built in)"
