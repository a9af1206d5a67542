import type {X509Certificate} from 'node:crypto'

import {ValkeyTlsError} from '../errors.js'
import type {ServedCertificate} from '../transport/handshake.js'
import {parseNodeCertificates} from '../pki/read-certificates.js'
import {caDateProblems, type Problem, verifyChain, type VerifyInput, type VerifyResult} from '../pki/verify.js'
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
  /** The leaf certificate the node served (DER). */
  servedLeafDer: Buffer | undefined
}

export interface AssessInput {
  node: NodeView
  /** The node's files as read here, or why they cannot be. */
  material: LocalMaterial | {unreadable: string}
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
  /** Reloads: what was validated (leaf and chain), for the rehearsals and for the check after loading. */
  validated?: {server?: Validated; client?: Validated}
}

/** Problems of files that are on disk now and would break the next reload or restart, changed or not. */
const BROKEN_FILE: ReadonlySet<Problem['code']> = new Set(['key-mismatch', 'key-unreadable', 'key-encrypted', 'file-unusable', 'ca-unusable', 'cert-unusable', 'ca-expired', 'ca-not-yet-valid'])

/** Files that cannot be read here are reloaded only when what the node serves is due: within --min-days, or in the last third of its life. */
export function dueForRenewal(served: {notBefore: string; notAfter: string} | null, minDays: number, now: Date): string | null {
  if (!served) return 'it serves no certificate'
  const from = Date.parse(served.notBefore)
  const to = Date.parse(served.notAfter)
  if (to - now.getTime() < minDays * 86_400_000) return `the certificate it serves expires on ${served.notAfter}, within --min-days ${minDays}`
  if (now.getTime() >= to - (to - from) / 3) return `the certificate it serves (valid ${served.notBefore} to ${served.notAfter}) is in the last third of its lifetime`
  return null
}

/**
 * Decides, without touching the node, whether it needs a reload and whether its files pass the checks
 * that need no handshake: the served certificate is compared with tls-cert-file (and, where INFO tls
 * says what is loaded, the client certificate and CA file too); a changed set of files must be within
 * its dates (every certificate, every CA) and hold matching keys. Trust (chains, purposes, names, peers)
 * is decided afterwards by rehearsing the handshakes (rehearseNode). Files that cannot be read here are
 * reloaded only when what the node serves is due for renewal.
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
    if (input.force) {
      notes.push(`${why}: nothing validated here; relying on the server's own checks and the handshake after reloading`)
      return {decision: 'reload', reason: '--force', onDisk: null, problems: [], notes}
    }
    const due = dueForRenewal(node.served, input.minDays, now)
    if (!due) {
      notes.push(`${why}: the files could not be compared with what the node serves; not reloaded, since that certificate is not due for renewal (--force to reload anyway)`)
      return {decision: 'unchanged', reason: 'the files cannot be read here, and the certificate served is not due for renewal', onDisk: null, problems: [], notes}
    }
    notes.push(`${why}: nothing validated here; relying on the server's own checks and the handshake after reloading`)
    return {decision: 'reload', reason: `the files cannot be read here, and ${due}: reloading picks up renewed files`, onDisk: null, problems: [], notes}
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
  problems.push(...caDateProblems(material.caCerts, `the node's CAs (${trusted})`, now))
  const onDisk = server ? {subject: server.result.subject, notAfter: server.result.notAfter, fingerprint256: server.result.fingerprint256} : null

  const changes = detectChanges(node, server, client, material)
  if (changes.length === 0 && !input.force) {
    const broken = problems.filter((p) => BROKEN_FILE.has(p.code))
    if (broken.length > 0) return {decision: 'refused', reason: `the certificate is unchanged, but ${broken[0]!.message}: the next reload or restart would fail`, onDisk, problems: broken, notes}
    const warnings = problems.map((p) => `${p.message}, and it is the certificate being served: renew it`)
    return {decision: 'unchanged', reason: 'the node already serves the certificate on disk', onDisk, problems: [], notes, warnings}
  }

  if (problems.length > 0) return refuse(problems, onDisk, notes)
  return {decision: 'reload', reason: changes.length > 0 ? changes.join('; ') : '--force', onDisk, problems, notes, validated: {server, client}}
}

/** A refusal: the first problem is the reason. */
export function refuse(problems: Problem[], onDisk: CertSummary | null, notes: string[]): Assessment {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
  return {decision: 'refused', reason: `${problems[0]!.message}${more}`, onDisk, problems, notes}
}

export interface Validated {
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
