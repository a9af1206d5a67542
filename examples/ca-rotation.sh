#!/usr/bin/env bash
# End to end: a primary and its replica on test certificates from `valkey-tls certs gen`, moved to a
# second CA with `valkey-tls ca rotate` while running, without a restart and without breaking the
# replication link; then both restarted from their files, which must work too.
#
#   examples/ca-rotation.sh [PORT [REPLICA_PORT]]   (default 6390 and PORT+1; needs valkey-server >= 9.1 and valkey-cli;
#                                              VALKEY_SERVER / VALKEY_CLI override the commands)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
valkey_tls="$here/../bin/run.js"
server="${VALKEY_SERVER:-valkey-server}"
cli="${VALKEY_CLI:-valkey-cli}"
port="${1:-6390}"
replica_port="${2:-$((port + 1))}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[[ -n "${KEEP:-}" ]] && trap - EXIT && echo "work: $work"

# Today's PKI, and the CA to move to (certs gen also makes a client certificate from it, for the end).
"$valkey_tls" certs gen --out "$work/tls" >/dev/null
"$valkey_tls" certs gen --out "$work/tls-new" >/dev/null

start() { # port [replicaof-port]
  "$server" --port 0 --tls-port "$1" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no --dbfilename "dump-$1.rdb" \
    --tls-cert-file "$work/tls/server.crt" --tls-key-file "$work/tls/server.key" --tls-ca-cert-file "$work/tls/ca.crt" \
    --tls-auth-clients yes --tls-auth-clients-user CN --tls-replication yes --user client on nopass "~*" "&*" "+@all" \
    ${2:+--replicaof 127.0.0.1 "$2"} --logfile "$work/valkey-$1.log" &
  pids+=($!)
}
start "$port"
start "$replica_port" "$port"
old=(--cacert "$work/tls/ca.crt" --cert "$work/tls/client.crt" --key "$work/tls/client.key")
new=(--cacert "$work/tls-new/ca.crt" --cert "$work/tls-new/client.crt" --key "$work/tls-new/client.key")
linked() { "$cli" --tls "${@:2}" -h 127.0.0.1 -p "$1" INFO replication 2>/dev/null | grep -q 'master_link_status:up'; }
for _ in $(seq 100); do linked "$replica_port" "${old[@]}" && break; sleep 0.1; done

rotate=("$valkey_tls" ca rotate --new-ca-cert "$work/tls-new/ca.crt" --new-ca-key "$work/tls-new/ca.key" -p "$port" --lock-file "$work/rotate.lock")
"${rotate[@]}" "${old[@]}"                     # where it stands: trust the old CA only
"${rotate[@]}" "${old[@]}" --apply             # phases 1 and 2: trust both, then certificates from the new CA
"${rotate[@]}" "${new[@]}" --apply --finish    # phase 3: the new CA alone (this tool now presents a new-CA certificate)

# Both restarted from their files: every link handshakes again, with the new CA only.
for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
pids=()
start "$port"
start "$replica_port" "$port"
for _ in $(seq 100); do linked "$replica_port" "${new[@]}" && break; sleep 0.1; done
linked "$replica_port" "${new[@]}" && echo "replica linked to its primary after the rotation and a restart"
"$cli" --tls "${old[@]}" -h 127.0.0.1 -p "$port" PING >/dev/null 2>&1 || echo "an old-CA client is refused"
