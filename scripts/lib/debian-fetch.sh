# shellcheck shell=bash
# Shared by scripts/ensure-valkey.sh and scripts/ensure-redis7.sh (sourced,
# not run): find a usable server command, or fetch Debian packages with a
# private apt state and unpack them, with their whole library closure
# including libc6 and its loader, under a cache folder, run through wrappers
# that use the bundled loader with --library-path (nothing is installed
# system-wide, and the host's own libraries are never mixed in).
#
# Contract of the calling scripts: exactly ONE line on stdout (the server
# path), everything else on stderr. Only found() writes to stdout.
#
# Before sourcing, the caller sets:
#   LOG_NAME   prefix of log lines ("ensure-valkey")
# and, before calling the functions below:
#   CACHE           cache folder; WRAPPER ($CACHE/bin/<server>) is the server wrapper
#   VERSION_PREFIX  sed regex for what precedes the version in `<server> --version`
#   version_ok V    a function that succeeds when version V is acceptable

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '%s: %s\n' "$LOG_NAME" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# server_version CMD: the "x.y.z" version CMD reports, or nothing.
server_version() {
  local out
  out="$("$1" --version 2>/dev/null)" || return 0
  sed -n "s/${VERSION_PREFIX}\([0-9][0-9.]*\).*/\1/p" <<<"$out" | head -n1
}

# found PATH MESSAGE: log MESSAGE, print PATH (the script's one stdout line), exit 0.
found() {
  log "$2"
  printf '%s\n' "$1"
  exit 0
}

# override VAR NEED: when $VAR is set, resolve it (a bare name via PATH) into
# $cmd, its version into $v, and succeed; die when it is unusable ("need
# NEED"). Fails (returns 1) when VAR is unset.
override() {
  local var="$1" need="$2" val="${!1:-}"
  [[ -n "$val" ]] || return 1
  cmd="$val"
  if [[ "$cmd" != */* ]]; then
    cmd="$(command -v -- "$cmd" || true)"
    [[ -n "$cmd" ]] || die "$var=$val is not found on PATH"
  fi
  [[ -x "$cmd" ]] || die "$var=$val is not an executable file"
  v="$(server_version "$cmd")"
  version_ok "$v" || die "$var=$val reports version '${v:-unknown}', need $need"
}

cached_ok() {
  [[ -x "$WRAPPER" ]] || return 1
  version_ok "$(server_version "$WRAPPER")"
}

# use_cached [NOTE]: print the cached wrapper and exit when it is usable.
use_cached() {
  if cached_ok; then found "$WRAPPER" "using cached $WRAPPER${1:+ $1}"; fi
}

is_debian_family() {
  [[ -r /etc/os-release ]] || return 1
  local id id_like
  id="$(. /etc/os-release && printf '%s' "${ID:-}")"
  id_like="$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")"
  [[ "$id" == debian || " $id_like " == *" debian "* ]] || return 1
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null
}

# URI of the machine's Debian archive entries. $1 = main | security.
find_mirror() {
  local want="$1" f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    # deb822: paragraphs separated by blank lines.
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
    # deb [opts] URI suite components...
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

# prepare_fetch MISSING PACKAGE HOW: check that a fetch can work here (Debian
# family, root, x86_64, archive keyring, a Debian mirror in the apt sources)
# and set MIRROR; die otherwise. MISSING starts the message ("no cached Redis
# 7"), PACKAGE is what would be fetched, HOW says what to do instead.
prepare_fetch() {
  local missing="$1" pkg="$2" how="$3"
  is_debian_family || die "$missing and this is not a Debian-family machine with apt-get/dpkg-deb; $how."
  [[ "$(id -u)" == 0 ]] || die "$missing, and fetching Debian's $pkg needs root (apt-get download with a private state dir). Run once as root, $how."
  [[ "$(uname -m)" == x86_64 ]] || die "automatic fetch only supports x86_64 (this is $(uname -m)); $how."
  [[ -r "$KEYRING" ]] || die "$KEYRING missing (package debian-archive-keyring); $how."
  MIRROR="$(find_mirror main || true)"
  MIRROR="${MIRROR%/}"
  [[ -n "$MIRROR" ]] || die "could not find a Debian mirror in /etc/apt/sources.list{,.d}; $how."
}

# Lock the cache: another process may be fetching right now. flock if
# available, else a mkdir lock. Then use the cache if that process filled it.
lock_cache() {
  mkdir -p "$CACHE"
  local lockfile="$CACHE/.lock"
  if command -v flock >/dev/null; then
    exec 9>"$lockfile"
    flock -w 600 9 || die "timed out waiting for $lockfile"
  else
    LOCKDIR="$CACHE/.lock.d"
    for _ in $(seq 1 1200); do
      if mkdir "$LOCKDIR" 2>/dev/null; then break; fi
      sleep 0.5
    done
    [[ -d "$LOCKDIR" ]] || die "timed out waiting for $LOCKDIR"
    trap 'rmdir "$LOCKDIR" 2>/dev/null || true' EXIT
  fi
  use_cached "(fetched concurrently)"
}

# apt_download SUITE WITH_SECURITY PACKAGES...: download the .debs of
# PACKAGES from Debian SUITE on $MIRROR into $S/debs, using a private apt
# state in $S = $CACHE/aptstate (removed by install_tree). With WITH_SECURITY
# = 1, SUITE-security from the machine's security mirror is added when there
# is one; it is welcome but optional (an unreachable security host must not
# block tests).
apt_download() {
  local suite="$1" with_security="$2" security=""
  shift 2
  FETCHED_SUITE="$suite"
  if [[ "$with_security" == 1 ]]; then security="$(find_mirror security || true)"; fi
  security="${security%/}"
  log "fetching $1 from Debian $suite via $MIRROR${security:+ and $security} (one-time, cached in $CACHE)"
  S="$CACHE/aptstate"
  rm -rf "$S"
  mkdir -p "$S/apt/lists/partial" "$S/apt/cache/archives/partial" "$S/debs"
  local A=(
    -o "Dir::Etc::SourceList=$S/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State=$S/apt"
    -o "Dir::State::Lists=$S/apt/lists"
    -o "Dir::Cache=$S/apt/cache"
    -o "Dir::State::status=/dev/null"
    -o "APT::Sandbox::User=root"
    -q
  )
  printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$suite" >"$S/sources.list"
  if [[ -n "$security" ]]; then
    printf 'deb [signed-by=%s] %s %s-security main\n' "$KEYRING" "$security" "$suite" >>"$S/sources.list"
  fi
  if ! apt-get "${A[@]}" -o APT::Update::Error-Mode=any update >&2; then
    [[ -n "$security" ]] || die "apt-get update against $MIRROR $suite failed"
    log "update with $suite-security failed; retrying with $suite only"
    rm -rf "$S/apt/lists"; mkdir -p "$S/apt/lists/partial"
    printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$suite" >"$S/sources.list"
    apt-get "${A[@]}" -o APT::Update::Error-Mode=any update >&2 || die "apt-get update against $MIRROR $suite failed"
  fi
  (cd "$S/debs" && apt-get "${A[@]}" download "$@" >&2) || die "apt-get download $* failed"
}

# install_tree LOADER LIBPATH NAME=BINARY...: unpack every .deb apt_download got
# into a fresh tree, swap it in as ROOT=$CACHE/root, and write one wrapper
# $CACHE/bin/NAME per pair that runs ROOT/BINARY through the bundled LOADER
# (a path inside the tree) with --library-path LIBPATH (':'-separated
# folders inside the tree). Dies when the tree lacks the loader or a binary,
# or when a binary's libraries do not all resolve.
install_tree() {
  local loader="$1" libpath="" dirs dir deb pair name bin tmp out tmpw
  IFS=: read -r -a dirs <<<"$2"
  shift 2
  tmp="$(mktemp -d "$CACHE/.root.XXXXXX")"
  for deb in "$S/debs"/*.deb; do
    dpkg-deb -x "$deb" "$tmp" || die "dpkg-deb -x $deb failed"
  done
  ROOT="$CACHE/root"
  for dir in "${dirs[@]}"; do libpath="${libpath:+$libpath:}$ROOT/$dir"; done
  [[ -f "$tmp/$loader" ]] || die "unpacked tree lacks $loader"
  for pair in "$@"; do
    [[ -x "$tmp/${pair#*=}" ]] || die "unpacked tree lacks ${pair#*=}"
  done

  # Loader aliases: exec'ing the loader through a symlink named after the
  # program makes the kernel's process name (comm) e.g. "valkey-server"
  # instead of "ld-linux-x86-64", so `pgrep` and `ps` show them properly.
  mkdir -p "$tmp/loader"
  for pair in "$@"; do ln -s "../$loader" "$tmp/loader/${pair%%=*}"; done

  # Atomic-ish swap: old tree aside, new tree in, old tree removed. The
  # library closure is checked with the tree at its final path (the loader
  # prints "not found").
  if [[ -e "$ROOT" ]]; then mv "$ROOT" "$CACHE/.root.old.$$"; fi
  mv "$tmp" "$ROOT"
  rm -rf "$CACHE/.root.old.$$"
  for pair in "$@"; do
    bin="${pair#*=}"
    out="$("$ROOT/$loader" --library-path "$libpath" --list "$ROOT/$bin" 2>&1)" \
      || die "bundled loader cannot resolve $bin's libraries: $(tr '\n' ' ' <<<"$out")"
    ! grep -q 'not found' <<<"$out" || die "missing libraries for $bin: $(grep 'not found' <<<"$out" | tr '\n' ' ')"
  done

  mkdir -p "$CACHE/bin"
  for pair in "$@"; do
    name="${pair%%=*}" bin="${pair#*=}"
    tmpw="$(mktemp "$CACHE/bin/.$name.XXXXXX")"
    cat >"$tmpw" <<EOF
#!/bin/sh
# Generated by scripts/$LOG_NAME.sh: runs Debian $FETCHED_SUITE's $name via its own
# loader and libraries (like LD_LIBRARY_PATH, but only for this program, and
# never mixed with the host's libc). exec keeps the PID: signals reach the real process.
exec '$ROOT/loader/$name' --library-path '$libpath' --argv0 $name '$ROOT/$bin' "\$@"
EOF
    chmod 755 "$tmpw"
    mv -f "$tmpw" "$CACHE/bin/$name"
  done

  rm -rf "$S"
}

# version_ok V: whether version V ("9.1.2") is at least MIN_MAJOR.MIN_MINOR, which the sourcing script sets.
# (ensure-redis7.sh defines its own: it wants one major version exactly.)
version_ok() {
  local v="$1" major minor
  [[ -n "$v" ]] || return 1
  major="${v%%.*}"
  minor="${v#*.}"; minor="${minor%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  (( major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR) ))
}
