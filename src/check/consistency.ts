import type {NodeResult, TlsSettings} from './probe.js'

/** Nodes whose certificate expires this many days before the cluster's median are called out. */
export const EARLY_EXPIRY_DAYS = 30

/**
 * What differs across nodes that an operator would want to know: a different CA or issuer on some
 * nodes (a CA change half done breaks the cluster bus), different TLS settings, a certificate that
 * expires much earlier than the others (a renewal that missed a node).
 */
export function findInconsistencies(nodes: NodeResult[]): string[] {
  const findings: string[] = []
  const reached = nodes.filter((n) => n.fingerprint256 !== null)
  // A CA is its key, not its name (certs gen, like most tools, names every test CA alike): compare the
  // key identifier that signed the chain (the same whether or not the node sends its root), else the
  // root's fingerprint, else the name.
  differing(findings, 'CAs', reached, caIdentity)
  differing(findings, 'issuers', reached, (n) => n.issuer)
  const withSettings = nodes.filter((n) => n.settings !== null)
  const settingNames: Array<[keyof TlsSettings, string]> = [['tlsAuthClients', 'tls-auth-clients'], ['tlsAuthClientsUser', 'tls-auth-clients-user'], ['tlsProtocols', 'tls-protocols'], ['tlsCluster', 'tls-cluster']]
  for (const [key, name] of settingNames) differing(findings, `${name} settings`, withSettings, (n) => n.settings![key] ?? '(not supported)')
  const days = reached.map((n) => n.daysLeft).filter((d): d is number => d !== null).sort((a, b) => a - b)
  if (days.length >= 2) {
    const median = days[Math.floor(days.length / 2)]!
    const early = reached.filter((n) => n.daysLeft !== null && n.daysLeft <= median - EARLY_EXPIRY_DAYS)
    if (early.length > 0) {
      findings.push(`certificates expiring much earlier than the others (median ${median} days): ${early.map((n) => `${n.address} in ${n.daysLeft} days`).join(', ')}`)
    }
  }
  return findings
}

/** How a CA is told apart: "CN=x" alone when the name is all there is, else the name with its key. */
function caIdentity(n: NodeResult): string | null {
  if (n.ca === null) return null
  const key = n.caKeyId ? `key id ${n.caKeyId.slice(0, 23)}…` : n.caFingerprint256 ? `SHA-256 ${n.caFingerprint256.slice(0, 23)}…` : null
  return key ? `${n.ca} (${key})` : n.ca
}

function differing(findings: string[], what: string, nodes: NodeResult[], value: (n: NodeResult) => string | null): void {
  const groups = new Map<string, string[]>()
  for (const node of nodes) {
    const v = value(node)
    if (v === null) continue
    groups.set(v, [...(groups.get(v) ?? []), node.address])
  }
  if (groups.size < 2) return
  const parts = [...groups.entries()].sort((a, b) => b[1].length - a[1].length).map(([v, addresses]) => `"${v}" on ${addresses.length <= 3 ? addresses.join(', ') : `${addresses.length} nodes`}`)
  findings.push(`different ${what}: ${parts.join('; ')}`)
}
