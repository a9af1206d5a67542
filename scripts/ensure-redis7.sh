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
#      <project>/.cache/redis7/root and run them through wrappers that use the
#      bundled loader with --library-path (nothing is installed system-wide,
#      and the host's own libraries are never mixed in)
#   d) otherwise: fail with one message saying what to do
set -euo pipefail

WANT_MAJOR=7
SUITE=bookworm

log() { printf 'ensure-redis7: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
CACHE="${REDIS7_CACHE_DIR:-$PROJECT_DIR/.cache/redis7}"
BIN_DIR="$CACHE/bin"
WRAPPER="$BIN_DIR/redis-server"

# Print the "x.y.z" version of a redis-server command, or nothing.
# Only real Redis counts ("Redis server v=7.0.15 sha=... malloc=jemalloc-5.3.0 bits=64 build=...").
server_version() {
  local out
  out="$("$1" --version 2>/dev/null)" || return 0
  sed -n 's/^Redis server v=\([0-9][0-9.]*\).*/\1/p' <<<"$out" | head -n1
}

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
if [[ -n "${REDIS7_SERVER:-}" ]]; then
  cmd="$REDIS7_SERVER"
  if [[ "$cmd" != */* ]]; then
    cmd="$(command -v -- "$cmd" || true)"
    [[ -n "$cmd" ]] || die "REDIS7_SERVER=$REDIS7_SERVER is not found on PATH"
  fi
  [[ -x "$cmd" ]] || die "REDIS7_SERVER=$REDIS7_SERVER is not an executable file"
  v="$(server_version "$cmd")"
  version_ok "$v" || die "REDIS7_SERVER=$REDIS7_SERVER reports version '${v:-unknown}', need Redis $WANT_MAJOR.x"
  tls_ok "$cmd" || die "REDIS7_SERVER=$REDIS7_SERVER (v$v) has no TLS support (build it with BUILD_TLS=yes)"
  log "using REDIS7_SERVER=$cmd (v$v)"
  printf '%s\n' "$cmd"
  exit 0
fi

# ---- b) cache ---------------------------------------------------------------
cached_ok() {
  [[ -x "$WRAPPER" ]] || return 1
  version_ok "$(server_version "$WRAPPER")"
}

if cached_ok; then
  log "using cached $WRAPPER"
  printf '%s\n' "$WRAPPER"
  exit 0
fi

# ---- c) fetch from Debian ----------------------------------------------------
HOW="or set REDIS7_SERVER=/path/to/redis-server (Redis $WANT_MAJOR.x built with TLS)"
is_debian_family() {
  [[ -r /etc/os-release ]] || return 1
  local id id_like
  id="$(. /etc/os-release && printf '%s' "${ID:-}")"
  id_like="$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")"
  [[ "$id" == debian || " $id_like " == *" debian "* ]] || return 1
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null
}

is_debian_family || die "no cached Redis $WANT_MAJOR and this is not a Debian-family machine with apt-get/dpkg-deb; $HOW."
[[ "$(id -u)" == 0 ]] || die "no cached Redis $WANT_MAJOR, and fetching Debian's redis-tools needs root (apt-get download with a private state dir). Run once as root, $HOW."
[[ "$(uname -m)" == x86_64 ]] || die "automatic fetch only supports x86_64 (this is $(uname -m)); $HOW."
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r "$KEYRING" ]] || die "$KEYRING missing (package debian-archive-keyring); $HOW."

# URI of the machine's Debian archive entries. $1 = main | security.
find_mirror() {
  local want="$1" f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    awk -v want="$want" '
      function flush() {
        if (uris != "" && suites != "" && types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*no/) {
          n = split(suites, s, /[ \t]+/)
          hit = 0
          for (i = 1; i <= n; i++) {
            if (s[i] == "" || s[i] ~ /\//) continue
            if (want == "security" && s[i] ~ /-security$/) hit = 1
            if (want == "main" && s[i] !~ /-(security|updates|backports|proposed-updates)$/) hit = 1
          }
          if (hit) { m = split(uris, u, /[ \t]+/); for (i = 1; i <= m; i++) if (u[i] != "") { print u[i]; exit } }
        }
        uris = ""; suites = ""; types = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($0) ~ /^uris:/    { sub(/^[^:]*:[ \t]*/, ""); uris = $0; next }
      tolower($0) ~ /^suites:/  { sub(/^[^:]*:[ \t]*/, ""); suites = $0; next }
      tolower($0) ~ /^types:/   { sub(/^[^:]*:[ \t]*/, ""); types = $0; next }
      tolower($0) ~ /^enabled:/ { sub(/^[^:]*:[ \t]*/, ""); enabled = tolower($0); next }
      END { flush() }
    ' "$f" | head -n1 | grep . && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    awk -v want="$want" '
      /^[ \t]*deb[ \t]/ {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        uri = $i; suite = $(i + 1)
        if (uri !~ /debian/ || suite ~ /\//) next
        if (want == "security" && suite ~ /-security$/) { print uri; exit }
        if (want == "main" && suite !~ /-(security|updates|backports)$/) { print uri; exit }
      }
    ' "$f" | head -n1 | grep . && return 0
  done
  return 1
}

MIRROR="$(find_mirror main || true)"
MIRROR="${MIRROR%/}"
[[ -n "$MIRROR" ]] || die "could not find a Debian mirror in /etc/apt/sources.list{,.d}; $HOW."
SECURITY="$(find_mirror security || true)"
SECURITY="${SECURITY%/}"

mkdir -p "$CACHE"

# Lock: another process may be fetching right now.
LOCKFILE="$CACHE/.lock"
if command -v flock >/dev/null; then
  exec 9>"$LOCKFILE"
  flock -w 600 9 || die "timed out waiting for $LOCKFILE"
else
  LOCKDIR="$CACHE/.lock.d"
  for _ in $(seq 1 1200); do
    if mkdir "$LOCKDIR" 2>/dev/null; then break; fi
    sleep 0.5
  done
  [[ -d "$LOCKDIR" ]] || die "timed out waiting for $LOCKDIR"
  trap 'rmdir "$LOCKDIR" 2>/dev/null || true' EXIT
fi

if cached_ok; then
  log "using cached $WRAPPER (fetched concurrently)"
  printf '%s\n' "$WRAPPER"
  exit 0
fi

log "fetching redis-tools from Debian $SUITE via $MIRROR${SECURITY:+ and $SECURITY} (one-time, cached in $CACHE)"
S="$CACHE/aptstate"
rm -rf "$S"
mkdir -p "$S/apt/lists/partial" "$S/apt/cache/archives/partial" "$S/debs"
A=(
  -o "Dir::Etc::SourceList=$S/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State=$S/apt"
  -o "Dir::State::Lists=$S/apt/lists"
  -o "Dir::Cache=$S/apt/cache"
  -o "Dir::State::status=/dev/null"
  -o "APT::Sandbox::User=root"
  -q
)
write_sources() { # with_security(0|1)
  printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$S/sources.list"
  if [[ "$1" == 1 && -n "$SECURITY" ]]; then
    printf 'deb [signed-by=%s] %s %s-security main\n' "$KEYRING" "$SECURITY" "$SUITE" >>"$S/sources.list"
  fi
}
# Security updates are welcome but optional (an unreachable security host must not block tests).
write_sources 1
if ! apt-get "${A[@]}" -o APT::Update::Error-Mode=any update >&2; then
  [[ -n "$SECURITY" ]] || die "apt-get update against $MIRROR $SUITE failed"
  log "update with $SUITE-security failed; retrying with $SUITE only"
  rm -rf "$S/apt/lists"; mkdir -p "$S/apt/lists/partial"
  write_sources 0
  apt-get "${A[@]}" -o APT::Update::Error-Mode=any update >&2 || die "apt-get update against $MIRROR $SUITE failed"
fi

# redis-server (= redis-check-rdb) NEEDED closure on bookworm, plus libc6's own deps.
PKGS=(redis-tools libc6 libgcc-s1 libssl3 libjemalloc2 liblzf1 libatomic1 libstdc++6 libsystemd0
      libcap2 libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1)
(cd "$S/debs" && apt-get "${A[@]}" download "${PKGS[@]}" >&2) || die "apt-get download ${PKGS[*]} failed"

TMP="$(mktemp -d "$CACHE/.root.XXXXXX")"
for deb in "$S/debs"/*.deb; do
  dpkg-deb -x "$deb" "$TMP" || die "dpkg-deb -x $deb failed"
done
ROOT="$CACHE/root"
# bookworm is not merged-/usr inside its packages: libc lives in /lib, the rest in /usr/lib.
LIBPATH="$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu"
LOADER_REL=lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
[[ -f "$TMP/$LOADER_REL" ]] || die "unpacked tree lacks $LOADER_REL"
[[ -x "$TMP/usr/bin/redis-check-rdb" ]] || die "unpacked tree lacks usr/bin/redis-check-rdb"
[[ -x "$TMP/usr/bin/redis-cli" ]] || die "unpacked tree lacks usr/bin/redis-cli"

# Loader aliases: exec'ing the loader through a symlink named after the program
# makes the process name (comm) "redis-server"/"redis-cli" instead of "ld-linux-x86-64".
mkdir -p "$TMP/loader"
ln -s "../$LOADER_REL" "$TMP/loader/redis-server"
ln -s "../$LOADER_REL" "$TMP/loader/redis-cli"

# Check the library closure with the tree at its final path (the loader prints "not found").
if [[ -e "$ROOT" ]]; then mv "$ROOT" "$CACHE/.root.old.$$"; fi
mv "$TMP" "$ROOT"
rm -rf "$CACHE/.root.old.$$"
for b in redis-check-rdb redis-cli; do
  out="$("$ROOT/$LOADER_REL" --library-path "$LIBPATH" --list "$ROOT/usr/bin/$b" 2>&1)" \
    || die "bundled loader cannot resolve $b's libraries: $(tr '\n' ' ' <<<"$out")"
  ! grep -q 'not found' <<<"$out" || die "missing libraries for $b: $(grep 'not found' <<<"$out" | tr '\n' ' ')"
done

mkdir -p "$BIN_DIR"
write_wrapper() { # name target
  local name="$1" target="$2" tmpw
  tmpw="$(mktemp "$BIN_DIR/.$name.XXXXXX")"
  cat >"$tmpw" <<EOF
#!/bin/sh
# Generated by scripts/ensure-redis7.sh: runs Debian $SUITE's $name via its own
# loader and libraries (like LD_LIBRARY_PATH, but only for this program, and
# never mixed with the host's libc). exec keeps the PID: signals reach the real process.
exec '$ROOT/loader/$name' --library-path '$LIBPATH' --argv0 $name '$target' "\$@"
EOF
  chmod 755 "$tmpw"
  mv -f "$tmpw" "$BIN_DIR/$name"
}
# redis-server is the same binary as redis-check-rdb, chosen by argv0.
write_wrapper redis-server "$ROOT/usr/bin/redis-check-rdb"
write_wrapper redis-cli "$ROOT/usr/bin/redis-cli"

rm -rf "$S"

v="$(server_version "$WRAPPER")"
if ! version_ok "$v" || ! tls_ok "$WRAPPER"; then
  bad="fetched $WRAPPER reports version '${v:-unknown}'"
  rm -f "$WRAPPER" # do not let a broken result count as cached
  version_ok "$v" && die "fetched redis-server v$v has no working TLS support"
  die "$bad, need Redis $WANT_MAJOR.x"
fi
log "ready: $WRAPPER (v$v, TLS built in)"
printf '%s\n' "$WRAPPER"
