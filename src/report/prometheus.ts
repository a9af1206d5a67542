import type {CheckReport} from '../check/run.js'
import type {NodeResult, PortResult} from '../check/probe.js'

/**
 * The Prometheus text exposition format of a check run: what `check --format prometheus` writes for
 * node_exporter's textfile collector and what `exporter` answers on /probe. Built so that a failure cannot
 * hide: `valkey_tls_probe_success` is 1 only when discovery worked and every node passed; certificate
 * expiry is exported whenever a certificate was served (verified or not, expired or not); every failure
 * has a reason; labels are the node and the port type only (the role, which changes at failover, is an
 * info metric of its own).
 */
export function renderPrometheus(report: CheckReport): string {
  const m = {
    probe: family('valkey_tls_probe_success', 'Whether discovery worked and every node passed every TLS check (1) or not (0).'),
    discovery: family('valkey_tls_discovery_success', 'Whether the nodes could be listed from the seed (1) or not (0); --nodes counts as listed.'),
    duration: family('valkey_tls_probe_duration_seconds', 'Wall time of the whole check.'),
    nodes: family('valkey_tls_nodes', 'Nodes checked, by status.'),
    findings: family('valkey_tls_findings', 'Cross-node inconsistencies found (different CAs, settings, early expiry).'),
    info: family('valkey_tls_node_info', 'A node, with its role (primary, replica, standalone, sentinel) and cluster node id.'),
    success: family('valkey_tls_port_success', 'Whether the node\'s port passed every TLS check (1) or not (0).'),
    failure: family('valkey_tls_port_failure_info', 'Why the port failed, as a short reason (refused, timeout, untrusted, expired, cert-required, ...).'),
    handshake: family('valkey_tls_handshake_duration_seconds', 'Duration of the TLS handshake (after TCP connect).'),
    notAfter: family('valkey_tls_cert_not_after_timestamp_seconds', 'Expiry of the served certificate, as a Unix time (also when it does not verify, also after it expired).'),
    required: family('valkey_tls_client_cert_required', 'Whether the node refuses clients without a certificate.'),
    warnings: family('valkey_tls_node_warnings', 'Warnings about the node (certificate expiring within --warn-days, ...).'),
    loaded: family('valkey_tls_loaded_cert_not_after_timestamp_seconds', 'Expiry of the certificates the node says it loaded (INFO tls, Valkey 9.1+): server, client, ca (the first CA to expire).'),
    denied: family('valkey_tls_acl_access_denied_tls_cert_total', 'Client certificates that mapped to no usable user (INFO stats acl_access_denied_tls_cert, Valkey 9.0+; a counter since the node started).', 'counter'),
  }
  const discovered = report.discovery.error === null
  const failed = report.nodes.some((n) => n.status === 'failed')
  m.probe.samples.push(sample({}, discovered && !failed ? 1 : 0))
  m.discovery.samples.push(sample({}, discovered ? 1 : 0))
  m.duration.samples.push(sample({}, report.summary.durationMs / 1000))
  for (const status of ['ok', 'warning', 'failed'] as const) m.nodes.samples.push(sample({status}, report.summary[status]))
  m.findings.samples.push(sample({}, report.summary.findings))
  for (const node of report.nodes) {
    const id = {node: node.address}
    m.info.samples.push(sample({...id, role: node.role, id: node.id ?? ''}, 1))
    // A failed bus port also fails the node (its error then names the bus): the client port itself passed.
    const busOnly = node.bus !== null && !node.bus.ok && node.error === `cluster bus port ${node.bus.port}: ${node.bus.error}`
    addPort(m, node, {...node, reason: busOnly ? null : node.reason}, 'client', node.error === null || busOnly)
    if (node.bus) addPort(m, node, node.bus, 'bus', node.bus.ok)
    if (node.clientCertRequired !== null) m.required.samples.push(sample(id, node.clientCertRequired ? 1 : 0))
    m.warnings.samples.push(sample(id, node.warnings.length))
    for (const cert of ['server', 'client', 'ca'] as const) {
      const expiry = node.loaded?.[cert]
      if (expiry) m.loaded.samples.push(sample({...id, cert}, Date.parse(expiry) / 1000))
    }
    if (node.aclDeniedTlsCert !== null) m.denied.samples.push(sample(id, node.aclDeniedTlsCert))
  }
  return Object.values(m).filter((f) => f.samples.length > 0).map(render).join('')
}

interface Family {
  name: string
  help: string
  type: 'gauge' | 'counter'
  samples: string[]
}

const family = (name: string, help: string, type: Family['type'] = 'gauge'): Family => ({name, help, type, samples: []})

type PortFamilies = Record<'success' | 'failure' | 'handshake' | 'notAfter', Family>

function addPort(m: PortFamilies, node: NodeResult, port: PortResult, kind: 'client' | 'bus', ok: boolean): void {
  const l = {node: node.address, port_type: kind}
  m.success.samples.push(sample(l, ok ? 1 : 0))
  if (!ok) m.failure.samples.push(sample({...l, reason: port.reason ?? (port.error ? 'error' : 'bus')}, 1))
  if (port.handshakeMs !== null) m.handshake.samples.push(sample(l, Number((port.handshakeMs / 1000).toFixed(6))))
  if (port.notAfter !== null) m.notAfter.samples.push(sample(l, Date.parse(port.notAfter) / 1000))
}

function sample(labelSet: Record<string, string>, value: number): string {
  const text = Object.entries(labelSet).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')
  return `${text ? `{${text}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`
}

function render(f: Family): string {
  return `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${f.samples.map((s) => `${f.name}${s}`).join('\n')}\n`
}
