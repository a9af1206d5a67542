#!/usr/bin/env bash
# End to end: test certificates from `valkey-tls certs gen`, a TLS-only Valkey using exactly the
# valkey.conf lines it prints, the ACL users it prints, and a client certificate logging in as alice.
#
#   examples/standalone-mtls.sh [PORT]        (needs valkey-server >= 9.1 and valkey-cli;
#                                              VALKEY_SERVER / VALKEY_CLI override the commands)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
valkey_tls="$here/../bin/run.js"
server="${VALKEY_SERVER:-valkey-server}"
cli="${VALKEY_CLI:-valkey-cli}"
port="${1:-6390}"
work="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$valkey_tls" certs gen --out "$work/tls" --client alice --json >"$work/gen.json"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  const lines = r.config.filter((l) => !l.startsWith("#")).map((l) => l.replace(/^tls-port \d+$/, "tls-port " + process.argv[2]))
  require("fs").writeFileSync(process.argv[3], [...lines, "bind 127.0.0.1", "save \"\"", "appendonly no"].join("\n") + "\n")
  require("fs").writeFileSync(process.argv[4], r.acl.join("\n") + "\n")
' "$work/gen.json" "$port" "$work/valkey.conf" "$work/acl.txt"

"$server" "$work/valkey.conf" --dir "$work" --logfile "$work/valkey.log" &
pid=$!
tls=(--tls --cacert "$work/tls/ca.crt" -h 127.0.0.1 -p "$port")
for _ in $(seq 50); do
  "$cli" "${tls[@]}" --cert "$work/tls/client.crt" --key "$work/tls/client.key" PING >/dev/null 2>&1 && break
  sleep 0.1
done
while read -r line; do
  # shellcheck disable=SC2086 # the ACL line is split into words on purpose
  "$cli" "${tls[@]}" --cert "$work/tls/client.crt" --key "$work/tls/client.key" $line >/dev/null
done <"$work/acl.txt"
echo "alice.crt logs in as: $("$cli" "${tls[@]}" --cert "$work/tls/alice.crt" --key "$work/tls/alice.key" ACL WHOAMI)"
