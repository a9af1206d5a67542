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
#   d) otherwise: fail with a message saying what to install
set -euo pipefail

MIN_MAJOR=9
MIN_MINOR=1
MIN_VERSION="${MIN_MAJOR}.${MIN_MINOR}"

log() { printf 'ensure-valkey: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
CACHE="${VALKEY_CACHE_DIR:-$PROJECT_DIR/.cache/valkey}"
BIN_DIR="$CACHE/bin"
WRAPPER="$BIN_DIR/valkey-server"

# Print the "x.y.z" version of a valkey-server command, or nothing.
server_version() {
  local out
  out="$("$1" --version 2>/dev/null)" || return 0
  # "Valkey server v=9.1.2 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=..."
  sed -n 's/.*[Vv]alkey server v=\([0-9][0-9.]*\).*/\1/p' <<<"$out" | head -n1
}

version_ok() {
  local v="$1" major minor
  [[ -n "$v" ]] || return 1
  major="${v%%.*}"
  minor="${v#*.}"; minor="${minor%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  (( major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR) ))
}

# ---- a) explicit override -------------------------------------------------
if [[ -n "${VALKEY_SERVER:-}" ]]; then
  cmd="$VALKEY_SERVER"
  if [[ "$cmd" != */* ]]; then
    cmd="$(command -v -- "$cmd" || true)"
    [[ -n "$cmd" ]] || die "VALKEY_SERVER=$VALKEY_SERVER is not found on PATH"
  fi
  [[ -x "$cmd" ]] || die "VALKEY_SERVER=$VALKEY_SERVER is not an executable file"
  v="$(server_version "$cmd")"
  version_ok "$v" || die "VALKEY_SERVER=$VALKEY_SERVER reports version '${v:-unknown}', need valkey >= $MIN_VERSION"
  log "using VALKEY_SERVER=$cmd (v$v)"
  printf '%s\n' "$cmd"
  exit 0
fi

# ---- b) PATH ----------------------------------------------------------------
if cmd="$(command -v valkey-server 2>/dev/null)" && [[ -n "$cmd" ]]; then
  v="$(server_version "$cmd")"
  if version_ok "$v"; then
    log "using $cmd from PATH (v$v)"
    printf '%s\n' "$cmd"
    exit 0
  fi
  log "ignoring $cmd on PATH: version '${v:-unknown}' < $MIN_VERSION"
fi

# ---- c) cached Debian package ------------------------------------------------
cached_ok() {
  [[ -x "$WRAPPER" ]] || return 1
  local v
  v="$(server_version "$WRAPPER")"
  version_ok "$v"
}

if cached_ok; then
  log "using cached $WRAPPER"
  printf '%s\n' "$WRAPPER"
  exit 0
fi

# ---- d) nothing usable and not Debian: give up clearly ---------------------------
is_debian_family() {
  [[ -r /etc/os-release ]] || return 1
  local id id_like
  id="$(. /etc/os-release && printf '%s' "${ID:-}")"
  id_like="$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")"
  [[ "$id" == debian || " $id_like " == *" debian "* ]] || return 1
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null
}

if ! is_debian_family; then
  die "no valkey-server >= $MIN_VERSION found. Install Valkey >= $MIN_VERSION (https://valkey.io/download/) so that valkey-server is on PATH, or set VALKEY_SERVER=/path/to/valkey-server."
fi
if [[ "$(id -u)" != 0 ]]; then
  die "no valkey-server >= $MIN_VERSION found, and fetching Debian's valkey-tools needs root (apt-get download with a private state dir). Run once as root, install Valkey >= $MIN_VERSION, or set VALKEY_SERVER=/path/to/valkey-server."
fi
case "$(uname -m)" in
  x86_64) ;;
  *) die "automatic fetch only supports x86_64 (this is $(uname -m)). Install Valkey >= $MIN_VERSION or set VALKEY_SERVER." ;;
esac
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r "$KEYRING" ]] || die "$KEYRING missing (package debian-archive-keyring); install Valkey >= $MIN_VERSION or set VALKEY_SERVER."

# Find the machine's existing Debian mirror (main archive, not -security).
find_mirror() {
  local f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    # deb822: paragraphs separated by blank lines.
    awk '
      function flush() {
        if (uris != "" && suites != "" && types ~ /(^|[ \t])deb([ \t]|$)/) {
          n = split(suites, s, /[ \t]+/)
          main = 0
          for (i = 1; i <= n; i++) if (s[i] != "" && s[i] !~ /-(security|updates|backports|proposed-updates)$/ && s[i] !~ /\//) main = 1
          if (main && enabled !~ /^[ \t]*no/) { m = split(uris, u, /[ \t]+/); for (i = 1; i <= m; i++) if (u[i] != "") { print u[i]; exit } }
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
    # deb [opts] URI suite components...
    awk '
      /^[ \t]*deb[ \t]/ {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        uri = $i; suite = $(i + 1)
        if (uri ~ /debian/ && suite !~ /-(security|updates|backports)$/ && suite !~ /\//) { print uri; exit }
      }
    ' "$f" | head -n1 | grep . && return 0
  done
  return 1
}

MIRROR="$(find_mirror || true)"
MIRROR="${MIRROR%/}"
[[ -n "$MIRROR" ]] || die "could not find a Debian mirror in /etc/apt/sources.list{,.d}; install Valkey >= $MIN_VERSION or set VALKEY_SERVER."

mkdir -p "$CACHE"

# Lock: flock if available, else a mkdir lock. Another process may be fetching.
LOCKFILE="$CACHE/.lock"
if command -v flock >/dev/null; then
  exec 9>"$LOCKFILE"
  if ! flock -w 600 9; then die "timed out waiting for $LOCKFILE"; fi
else
  LOCKDIR="$CACHE/.lock.d"
  for _ in $(seq 1 1200); do
    if mkdir "$LOCKDIR" 2>/dev/null; then break; fi
    sleep 0.5
  done
  [[ -d "$LOCKDIR" ]] || die "timed out waiting for $LOCKDIR"
  trap 'rmdir "$LOCKDIR" 2>/dev/null || true' EXIT
fi

# Somebody else may have finished while we waited.
if cached_ok; then
  log "using cached $WRAPPER (fetched concurrently)"
  printf '%s\n' "$WRAPPER"
  exit 0
fi

log "fetching valkey-tools from Debian sid via $MIRROR (one-time, cached in $CACHE)"
S="$CACHE/aptstate"
rm -rf "$S"
mkdir -p "$S/apt/lists/partial" "$S/apt/cache/archives/partial" "$S/debs"
printf 'deb [signed-by=%s] %s sid main\n' "$KEYRING" "$MIRROR" >"$S/sources.list"
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
PKGS=(valkey-tools libc6 libssl3t64 libjemalloc2 liblzf1 libatomic1 libsystemd0 libzstd1 zlib1g
      libgcc-s1 libstdc++6 openssl-provider-legacy liblz4-1 liblzma5 libcap2)

apt-get "${A[@]}" update >&2 || die "apt-get update against $MIRROR sid failed"
(cd "$S/debs" && apt-get "${A[@]}" download "${PKGS[@]}" >&2) || die "apt-get download failed"

TMP="$(mktemp -d "$CACHE/.root.XXXXXX")"
for deb in "$S/debs"/*.deb; do
  dpkg-deb -x "$deb" "$TMP" || die "dpkg-deb -x $deb failed"
done
ROOT="$CACHE/root"

LIBDIR="$ROOT/usr/lib/x86_64-linux-gnu"
[[ -e "$TMP/usr/lib64/ld-linux-x86-64.so.2" ]] || die "unpacked tree lacks usr/lib64/ld-linux-x86-64.so.2"
[[ -x "$TMP/usr/bin/valkey-check-rdb" ]] || die "unpacked tree lacks usr/bin/valkey-check-rdb"
[[ -x "$TMP/usr/bin/valkey-cli" ]] || die "unpacked tree lacks usr/bin/valkey-cli"

# Loader aliases: exec'ing the dynamic loader through a symlink named after the
# program makes the kernel's process name (comm) "valkey-server"/"valkey-cli"
# instead of "ld-linux-x86-64", so `pgrep valkey` and `ps` show them properly.
mkdir -p "$TMP/loader"
ln -s ../usr/lib64/ld-linux-x86-64.so.2 "$TMP/loader/valkey-server"
ln -s ../usr/lib64/ld-linux-x86-64.so.2 "$TMP/loader/valkey-cli"

# Atomic-ish swap: old tree aside, new tree in, old tree removed.
if [[ -e "$ROOT" ]]; then mv "$ROOT" "$CACHE/.root.old.$$"; fi
mv "$TMP" "$ROOT"
rm -rf "$CACHE/.root.old.$$"

mkdir -p "$BIN_DIR"
write_wrapper() { # name target
  local name="$1" target="$2" tmpw
  tmpw="$(mktemp "$BIN_DIR/.$name.XXXXXX")"
  cat >"$tmpw" <<EOF
#!/bin/sh
# Generated by scripts/ensure-valkey.sh: runs Debian's $name via its own loader
# and libraries. exec keeps the PID: signals reach the real process.
exec '$ROOT/loader/$name' --library-path '$LIBDIR' --argv0 $name '$target' "\$@"
EOF
  chmod 755 "$tmpw"
  mv -f "$tmpw" "$BIN_DIR/$name"
}
# valkey-server is the same binary as valkey-check-rdb, chosen by argv0.
write_wrapper valkey-server "$ROOT/usr/bin/valkey-check-rdb"
write_wrapper valkey-cli "$ROOT/usr/bin/valkey-cli"

rm -rf "$S"

v="$(server_version "$WRAPPER")"
version_ok "$v" || die "fetched $WRAPPER reports version '${v:-unknown}', need >= $MIN_VERSION"
log "ready: $WRAPPER (v$v)"
printf '%s\n' "$WRAPPER"
