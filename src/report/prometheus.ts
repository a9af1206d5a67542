import type {CheckReport} from '../check/run.js'
import {formatAddress} from '../transport/options.js'
import type {NodeResult, PortResult} from '../check/probe.js'

/**
 * Prometheus text exposition format, for node_exporter's textfile collector: per node and port
 * (client / bus), handshake success and duration and the certificate's not-after; plus run totals.
 */
export function renderPrometheus(report: CheckReport): string {
  const metrics = {
    success: family('valkey_tls_check_success', 'Whether the node and port passed every TLS check (1) or not (0).'),
    handshake: family('valkey_tls_handshake_duration_seconds', 'Duration of the TLS handshake (after TCP connect).'),
    notAfter: family('valkey_tls_cert_not_after_timestamp_seconds', 'Expiry of the served certificate, as a Unix time.'),
    required: family('valkey_tls_client_cert_required', 'Whether the node refuses clients without a certificate.'),
  }
  for (const node of report.nodes) {
    addPort(metrics, node, node, 'client', node.ok && node.error === null)
    if (node.bus) addPort(metrics, node, node.bus, 'bus', node.bus.ok)
    if (node.clientCertRequired !== null) metrics.required.samples.push(sample(labels(node, node, 'client'), node.clientCertRequired ? 1 : 0))
  }
  const s = report.summary
  const nodes = family('valkey_tls_check_nodes', 'Nodes checked, by status.')
  for (const status of ['ok', 'warning', 'failed'] as const) nodes.samples.push(sample({status}, s[status]))
  const findings = family('valkey_tls_check_findings', 'Cross-node inconsistencies found (different CAs, settings, early expiry).')
  findings.samples.push(sample({}, s.findings))
  const duration = family('valkey_tls_check_duration_seconds', 'Wall time of the whole check run.')
  duration.samples.push(sample({}, s.durationMs / 1000))
  return [...Object.values(metrics), nodes, findings, duration].filter((f) => f.samples.length > 0).map(render).join('')
}

interface Family {
  name: string
  help: string
  samples: string[]
}

const family = (name: string, help: string): Family => ({name, help, samples: []})

function addPort(m: Record<'success' | 'handshake' | 'notAfter', Family>, node: NodeResult, port: PortResult, kind: 'client' | 'bus', ok: boolean): void {
  const l = labels(node, port, kind)
  m.success.samples.push(sample(l, ok ? 1 : 0))
  if (port.handshakeMs !== null) m.handshake.samples.push(sample(l, Number((port.handshakeMs / 1000).toFixed(6))))
  if (port.notAfter !== null) m.notAfter.samples.push(sample(l, Date.parse(port.notAfter) / 1000))
}

function labels(node: NodeResult, port: PortResult, kind: string): Record<string, string> {
  return {address: formatAddress({host: node.host, port: port.port}), node: node.address, role: node.role, port_type: kind}
}

function sample(labelSet: Record<string, string>, value: number): string {
  const text = Object.entries(labelSet).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')
  return `${text ? `{${text}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`
}

function render(f: Family): string {
  return `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} gauge\n${f.samples.map((s) => `${f.name}${s}`).join('\n')}\n`
}
