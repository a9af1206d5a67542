import {join} from 'node:path'

/** valkey.conf lines that load the generated files: TLS only, client certificates required and mapped to users. */
export function valkeyConfLines(set: {out: string; clients: {uris: string[]}[]}, server = 'server'): string[] {
  const path = (name: string) => quote(join(set.out, name))
  const anyUri = set.clients.some((c) => c.uris.length > 0)
  return [
    'port 0',
    'tls-port 6379',
    `tls-cert-file ${path(`${server}.crt`)}`,
    `tls-key-file ${path(`${server}.key`)}`,
    `tls-ca-cert-file ${path('ca.crt')}`,
    'tls-auth-clients yes',
    `tls-auth-clients-user ${anyUri ? 'URI' : 'CN'}`,
    'tls-replication yes',
    '# for a cluster, also: tls-cluster yes',
  ]
}

/** Every node's lines, each block after a comment naming the node its files go to. */
export function nodeConfLines(nodes: {name: string; config: string[]}[]): string[] {
  return nodes.flatMap((node, i) => [...(i > 0 ? [''] : []), `# on ${node.name}: ${node.name}.crt, ${node.name}.key and ca.crt at these paths`, ...node.config])
}

/**
 * ACL users that the client certificates log in as. `resetpass` leaves the user without any password
 * (and not `nopass`): it can log in with its certificate only.
 */
export function aclLines(clients: {name: string; commonName: string; uris: string[]}[]): string[] {
  const anyUri = clients.some((c) => c.uris.length > 0)
  return clients
    .map((c) => (anyUri ? c.uris[0] : c.commonName))
    .filter((user): user is string => Boolean(user))
    .map((user) => `ACL SETUSER ${quote(user)} on resetpass ~* &* +@all`)
}

/** valkey.conf and valkey-cli arguments with spaces or quotes need double quotes. */
function quote(value: string): string {
  return /[\s"'\\]/.test(value) ? `"${value.replace(/(["\\])/g, '\\$1')}"` : value
}
