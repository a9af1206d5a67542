import type {CheckReport} from '../../../src/check/run.js'
import type {NodeResult, PortResult, TlsSettings} from '../../../src/check/probe.js'
import {formatAddress} from '../../../src/transport/options.js'

/** A port that passed: TLS 1.3, a certificate from "Test CA" expiring 2030-01-01. */
export function makePort(overrides: Partial<PortResult> = {}): PortResult {
  return {
    port: 6379,
    ok: true,
    error: null,
    protocol: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    tcpMs: 0.5,
    handshakeMs: 3.25,
    subject: 'CN=valkey',
    issuer: 'CN=Test CA',
    ca: 'CN=Test CA',
    caFingerprint256: null,
    caKeyId: null,
    notAfter: '2030-01-01T00:00:00.000Z',
    daysLeft: 365,
    fingerprint256: 'AA:BB',
    reason: null,
    ...overrides,
  }
}

export const makeSettings = (overrides: Partial<TlsSettings> = {}): TlsSettings => ({
  tlsAuthClients: 'yes',
  tlsAuthClientsUser: 'off',
  tlsProtocols: 'TLSv1.2 TLSv1.3',
  tlsCluster: 'yes',
  ...overrides,
})

/** A node that passed every check; `address` follows host and port unless given. */
export function makeNode(overrides: Partial<NodeResult> = {}): NodeResult {
  const host = overrides.host ?? '10.0.0.1'
  const port = overrides.port ?? 6379
  return {
    address: formatAddress({host, port}),
    host,
    role: 'primary',
    id: null,
    health: 'online',
    status: 'ok',
    ...makePort({port, fingerprint256: `FP:${host}:${port}`}),
    warnings: [],
    notes: [],
    clientCertRequired: true,
    user: null,
    settings: makeSettings(),
    loaded: null,
    aclDeniedTlsCert: null,
    bus: null,
    ...overrides,
  }
}

/** A node that could not be reached at all (no handshake, no certificate). */
export function makeFailedNode(overrides: Partial<NodeResult> = {}): NodeResult {
  return makeNode({
    status: 'failed', ok: false, error: 'connection refused', protocol: null, cipher: null, tcpMs: null, handshakeMs: null,
    subject: null, issuer: null, ca: null, notAfter: null, daysLeft: null, fingerprint256: null, clientCertRequired: null, settings: null,
    ...overrides,
  })
}

/** A report whose summary counts follow the nodes' statuses. */
export function makeReport(nodes: NodeResult[], overrides: Partial<CheckReport> = {}): CheckReport {
  const findings = overrides.findings ?? []
  const count = (status: NodeResult['status']) => nodes.filter((n) => n.status === status).length
  return {
    discovery: {mode: 'cluster', method: 'CLUSTER SHARDS', seed: '10.0.0.1:6379', error: null},
    nodes,
    findings,
    summary: {nodes: nodes.length, ok: count('ok'), warning: count('warning'), failed: count('failed'), findings: findings.length, durationMs: 1234},
    status: count('failed') > 0 ? 'failed' : count('warning') > 0 || findings.length > 0 ? 'warning' : 'ok',
    ...overrides,
  }
}
