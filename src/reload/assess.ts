import type {X509Certificate} from 'node:crypto'

import {ValkeyTlsError} from '../errors.js'
import type {ServedCertificate} from '../probe/handshake.js'
import {parseNodeCertificates} from '../pki/parse.js'
import {buildChain, type Problem, verifyChain, type VerifyInput, type VerifyResult} from '../pki/verify.js'
import {type NodeTlsConfig, normalizeSerial} from './config.js'
import type {LocalMaterial} from './material.js'

export interface CertSummary {
  subject: string
  notAfter: string
  fingerprint256: string
}

/** What is known of a node before anything is changed. */
export interface NodeView {
  address: string
  config: NodeTlsConfig
  served: ServedCertificate | null
  /** The chain the node served: leaf first. */
  servedChain: X509Certificate[]
}

/** Another node of the same cluster: whom it trusts (null: its CA files cannot be read here) and what it serves. */
export interface Peer {
  address: string
  caCerts: X509Certificate[] | null
  servedChain: X509Certificate[]
}

export interface AssessInput {
  node: NodeView
  /** The node's files as read here, or why they cannot be. */
  material: LocalMaterial | {unreadable: string}
  peers: Peer[]
  minDays: number
  force: boolean
  now?: Date
}

export interface Assessment {
  decision: 'unchanged' | 'reload' | 'refused'
  /** One line: what changed, or why the node is refused. */
  reason: string
  /** The server certificate in tls-cert-file, when it could be read. */
  onDisk: CertSummary | null
  problems: Problem[]
  notes: string[]
  /** Unchanged nodes: what is wrong with the certificate being served (expired, expiring within --min-days). */
  warnings?: string[]
}

/** Problems of files that are on disk now and would break the next reload or restart, changed or not. */
const BROKEN_FILE: ReadonlySet<Problem['code']> = new Set(['key-mismatch', 'key-unreadable', 'key-encrypted', 'file-unusable', 'ca-unusable', 'cert-unusable'])

/**
 * Decides, without touching the node, whether it needs a reload and whether what it would load is safe:
 * the served certificate is compared with tls-cert-file (and, where INFO tls says what is loaded, the
 * client certificate and CA file too); a changed set of files must pass every check `certs verify`
 * makes, against the CAs the node trusts, and with tls-cluster, against every other node's CAs both ways.
 */
export function assessNode(input: AssessInput): Assessment {
  const {node, material} = input
  const now = input.now ?? new Date()
  const notes: string[] = []
  const interval = node.config.autoReloadInterval
  if (interval) notes.push(`the node also re-reads its TLS files by itself every ${interval} s (tls-auto-reload-interval)`)
  const certRead = 'reads' in material ? material.reads['tls-cert-file'] : undefined
  if (!('reads' in material) || !certRead || 'unreadable' in certRead) {
    const why = 'unreadable' in material ? material.unreadable : certRead && 'unreadable' in certRead ? certRead.unreadable : 'the node has no tls-cert-file'
    notes.push(`${why}: nothing validated here; relying on the server's own checks and the handshake after reloading`)
    return {decision: 'reload', reason: 'the files cannot be read here, so a change cannot be ruled out', onDisk: null, problems: [], notes}
  }

  const problems = [...material.problems]
  notes.push(...material.notes)
  const files = node.config.files
  const trusted = ['tls-ca-cert-file', 'tls-ca-cert-dir'].filter((n) => files[n as 'tls-ca-cert-file']).map((n) => `${n} ${files[n as 'tls-ca-cert-file']}`).join(', ') || 'no CA'
  const check = (certPem: Buffer, certPath: string, keyPem: Buffer | undefined, keyPath: string | undefined, passphrase: string | undefined) =>
    validate({certPem, certPath, keyPem, keyPath, passphrase, caPem: material.caBundle, caPath: `the node's CAs (${trusted})`, minDays: input.minDays, now}, problems)
  const server = 'data' in certRead ? check(certRead.data, files['tls-cert-file']!, read(material, 'tls-key-file'), files['tls-key-file'], node.config.keyPassphrase) : undefined
  const clientPath = files['tls-client-cert-file']
  const clientRead = material.reads['tls-client-cert-file']
  const client = clientPath && clientRead && 'data' in clientRead
    ? check(clientRead.data, clientPath, read(material, 'tls-client-key-file'), files['tls-client-key-file'], node.config.clientKeyPassphrase)
    : undefined
  if (material.caCerts.length === 0 && (server || client)) notes.push('the node\'s CA files cannot be read here (or it has none): chain not checked')
  const onDisk = server ? {subject: server.result.subject, notAfter: server.result.notAfter, fingerprint256: server.result.fingerprint256} : null

  const changes = detectChanges(node, server, client, material)
  if (changes.length === 0 && !input.force) {
    const broken = problems.filter((p) => BROKEN_FILE.has(p.code))
    if (broken.length > 0) return {decision: 'refused', reason: `the certificate is unchanged, but ${broken[0]!.message}: the next reload or restart would fail`, onDisk, problems: broken, notes}
    const warnings = problems.map((p) => `${p.message}, and it is the certificate being served: renew it`)
    return {decision: 'unchanged', reason: 'the node already serves the certificate on disk', onDisk, problems: [], notes, warnings}
  }

  if (node.config.tlsCluster && server) checkPeers(input, server.chain, client?.chain, material.caCerts, problems, notes)
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
    return {decision: 'refused', reason: `${problems[0]!.message}${more}`, onDisk, problems, notes}
  }
  return {decision: 'reload', reason: changes.length > 0 ? changes.join('; ') : '--force', onDisk, problems, notes}
}

interface Validated {
  result: VerifyResult
  chain: X509Certificate[]
}

function read(material: LocalMaterial, name: 'tls-key-file' | 'tls-client-key-file'): Buffer | undefined {
  const r = material.reads[name]
  return r && 'data' in r ? r.data : undefined
}

function validate(input: VerifyInput, problems: Problem[]): Validated | undefined {
  try {
    if (!input.certPem.toString('latin1').includes('-----BEGIN ')) {
      problems.push({code: 'cert-unusable', message: `${input.certPath} is not PEM (the server only loads PEM)`})
      return undefined
    }
    const chain = parseNodeCertificates(input.certPem, input.certPath)
    const result = verifyChain(chain, input)
    problems.push(...result.problems)
    return {result, chain}
  } catch (error) {
    if (!(error instanceof ValkeyTlsError)) throw error
    problems.push({code: 'cert-unusable', message: error.message})
    return undefined
  }
}

function detectChanges(node: NodeView, server: Validated | undefined, client: Validated | undefined, material: LocalMaterial): string[] {
  const changes: string[] = []
  if (!server || node.served?.fingerprint256 !== server.result.fingerprint256) {
    changes.push(node.served ? 'tls-cert-file holds a different certificate than the one served' : 'the node served no certificate')
  }
  const {loaded} = node.config
  if (client && loaded.clientCertSerial && normalizeSerial(client.chain[0]!.serialNumber) !== loaded.clientCertSerial) {
    changes.push('tls-client-cert-file holds a different certificate than the one loaded')
  }
  if (loaded.caCertSerial && material.caCerts.length > 0) {
    // INFO tls describes the CA that expires first, of tls-ca-cert-file and tls-ca-cert-dir together.
    const first = [...material.caCerts].sort((a, b) => Date.parse(a.validTo) - Date.parse(b.validTo))[0]!
    if (normalizeSerial(first.serialNumber) !== loaded.caCertSerial) changes.push('the CA files hold different CAs than the ones loaded')
  }
  return changes
}

/** tls-cluster: every other node must trust the new certificates, and the node's CAs must still trust them. */
function checkPeers(input: AssessInput, chain: X509Certificate[], clientChain: X509Certificate[] | undefined, ownCas: X509Certificate[], problems: Problem[], notes: string[]) {
  const issuer = (c: X509Certificate) => c.issuer.replace(/\n/g, ', ')
  for (const peer of input.peers) {
    if (peer.address === input.node.address) continue
    if (peer.caCerts === null) {
      notes.push(`cannot check that ${peer.address} trusts the new certificate: its CA files cannot be read here`)
    } else {
      for (const [what, c] of [['certificate', chain], ['client certificate', clientChain]] as const) {
        if (c && !buildChain(c[0]!, c.slice(1), peer.caCerts)) {
          problems.push({code: 'peer-untrusted', message: `${peer.address} does not trust the new ${what} (issued by ${issuer(c[0]!)}): the cluster bus would break when its links reconnect`})
        }
      }
    }
    const theirs = peer.servedChain
    if (ownCas.length > 0 && theirs.length > 0 && !buildChain(theirs[0]!, theirs.slice(1), ownCas)) {
      problems.push({code: 'peer-rejected', message: `the node's CAs would not trust ${peer.address}'s certificate (issued by ${issuer(theirs[0]!)}): the cluster bus would break when its links reconnect`})
    }
  }
}
