import {join, resolve} from 'node:path'

import {inputError, usageError, ValkeyTlsError} from '../errors.js'
import {checkOutputDir, existingTargets, type OutputFile, throwIfInterrupted, writeFilesAtomically} from '../fsutil/write.js'
import {loadCa} from './ca.js'
import {fingerprint256} from './fingerprint.js'
import {createCa, type Issued, type Issuer, issueLeaf} from './issue.js'
import {privateKeyToPem} from './keys.js'
import type {KeyType} from './key-types.js'
import {checkClientName, checkOrganization, DEFAULT_CLIENT, mergeSans, type SanEntry} from './names.js'
import {aclLines, valkeyConfLines} from './snippets.js'
import {x509} from './x509.js'

const MAX_DAYS = 100 * 365
const DAY_MS = 86_400_000

export interface GenerateOptions {
  out: string
  keyType: KeyType
  /** Validity of the server and client certificates. */
  days: number
  /** Validity of a newly generated CA. */
  caDays: number
  /** Extra server SANs; localhost, 127.0.0.1 and ::1 are always there. */
  sans: SanEntry[]
  /** Extra client certificates, one per name (CN = name); `client` is always generated. */
  clients: string[]
  clientUris: {client: string; uri: string}[]
  organization?: string
  /** Sign with this CA instead of generating one. */
  ca?: {certPath: string; keyPath: string}
  overwrite: boolean
  now?: Date
  /** Aborted on SIGINT/SIGTERM (reason: the signal's name): stop, and leave --out as it was. */
  signal?: AbortSignal
}

export type FileKind = 'ca-cert' | 'ca-key' | 'cert' | 'key'

export interface GeneratedFile {
  path: string
  kind: FileKind
  /** ca, server, or the client name. */
  owner: string
  mode: string
  subject?: string
  serialNumber?: string
  fingerprint256?: string
  notBefore?: string
  notAfter?: string
  dnsNames?: string[]
  ipAddresses?: string[]
  uris?: string[]
}

export interface GenerateResult {
  out: string
  keyType: KeyType
  ca: {generated: boolean; subject: string; fingerprint256: string; notAfter: string; source?: string}
  clients: {name: string; commonName: string; uris: string[]}[]
  files: GeneratedFile[]
  config: string[]
  acl: string[]
  warnings: string[]
}

interface PlannedClient {
  name: string
  uris: string[]
}

export function planClients(names: string[], uris: {client: string; uri: string}[]): PlannedClient[] {
  const clients: PlannedClient[] = [{name: DEFAULT_CLIENT, uris: []}]
  for (const name of names) {
    checkClientName(name)
    if (clients.some((c) => c.name.toLowerCase() === name.toLowerCase())) {
      throw usageError(`--client "${name}" is given twice (or clashes with the default "${DEFAULT_CLIENT}" certificate)`)
    }
    clients.push({name, uris: []})
  }
  for (const {client, uri} of uris) {
    const target = clients.find((c) => c.name === client)
    if (!target) throw usageError(`--client-uri ${client}=${uri}: there is no --client ${client}`)
    if (!target.uris.includes(uri)) target.uris.push(uri)
  }
  return clients
}

export function checkDays(days: number, flag: string): number {
  if (!Number.isInteger(days) || days <= 0) throw usageError(`${flag} must be a whole number of days greater than 0 (got ${days})`)
  if (days > MAX_DAYS) throw usageError(`${flag} must be at most ${MAX_DAYS} days (got ${days})`)
  return days
}

/**
 * A certificate must not outlive the CA that signs it (clients stop trusting it when the CA expires, and
 * nothing says so until then): refused, not clamped, so that the dates are always the ones asked for.
 */
export function checkLeafWithinCa(days: number, caDays: number): void {
  if (days > caDays) {
    throw usageError(`--days ${days} is longer than --ca-days ${caDays}: a certificate must not outlive its CA; use --days ${caDays} or less, or a larger --ca-days`)
  }
}

function checkLeafWithinLoadedCa(days: number, ca: {cert: {notAfter: Date}}, path: string, now: Date): void {
  const caEnd = ca.cert.notAfter.getTime()
  if (now.getTime() + days * DAY_MS <= caEnd) return
  const left = Math.floor((caEnd - now.getTime()) / DAY_MS)
  const until = ca.cert.notAfter.toISOString()
  if (left < 1) throw inputError(`CA certificate ${path} expires on ${until}, in less than a day: renew the CA first`)
  throw usageError(`--days ${days} outlives the CA certificate ${path}, which expires on ${until}: use --days ${left} or less, or renew the CA`)
}

export function plannedFileNames(clients: PlannedClient[], withCaKey: boolean): string[] {
  return [
    'ca.crt',
    ...(withCaKey ? ['ca.key'] : []),
    'server.crt', 'server.key',
    ...clients.flatMap((c) => [`${c.name}.crt`, `${c.name}.key`]),
  ]
}

/** The files a run would replace, for asking before overwriting (the CA key counts: it may be new). */
export async function existingGenTargets(out: string, clientNames: string[]): Promise<string[]> {
  try {
    return await existingTargets(resolve(out), plannedFileNames(planClients(clientNames, []), true))
  } catch {
    return [] // the real run reports what is wrong with the names or the folder
  }
}

/**
 * Generates (or signs with) a CA, a server certificate and client certificates, and writes them into
 * `out` all at once. Every value is checked before anything touches the disk (a usage error never leaves
 * an --out folder behind), and existing files before any key is generated, so a refusal is instant.
 */
export async function generateCertificateSet(options: GenerateOptions): Promise<GenerateResult> {
  if (options.out.trim() === '') throw usageError('--out must not be empty')
  const out = resolve(options.out)
  checkDays(options.days, '--days')
  checkDays(options.caDays, '--ca-days')
  if (!options.ca) checkLeafWithinCa(options.days, options.caDays)
  const clients = planClients(options.clients, options.clientUris)
  if (options.organization) checkOrganization(options.organization)
  const serverSans = mergeSans(options.sans)
  const now = options.now ?? new Date()
  const warnings: string[] = []
  const stopIfAsked = () => throwIfInterrupted(options.signal, 'nothing was written')

  // Inputs next; the folder is created only when the files are written.
  const loaded = options.ca ? await loadCa(options.ca.certPath, options.ca.keyPath, now) : undefined
  if (loaded && options.ca) checkLeafWithinLoadedCa(options.days, loaded, options.ca.certPath, now)
  await checkOutputDir(out)
  const names = plannedFileNames(clients, !options.ca)
  if (!options.overwrite) {
    const existing = await existingTargets(out, names)
    if (existing.length > 0) {
      throw new ValkeyTlsError('exists', `${existing.map((n) => join(out, n)).join(', ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to replace ${existing.length === 1 ? 'it' : 'them'} (nothing was written)`)
    }
  }
  stopIfAsked()

  let issuer: Issuer
  let caFiles: OutputFile[]
  const caSource = options.ca ? resolve(options.ca.certPath) : undefined
  if (loaded) {
    issuer = loaded
    caFiles = [{name: 'ca.crt', data: loaded.certPem, mode: 0o644}]
  } else {
    const ca = await createCa({keyType: options.keyType, days: options.caDays, now, subject: {commonName: 'Valkey TLS Test CA', organization: options.organization}})
    issuer = {cert: ca.cert, keys: ca.keys}
    caFiles = [
      {name: 'ca.crt', data: ca.cert.toString('pem') + '\n', mode: 0o644},
      {name: 'ca.key', data: await privateKeyToPem(ca.keys.privateKey), mode: 0o600},
    ]
  }

  stopIfAsked()
  const server = await issueLeaf({issuer, keyType: options.keyType, days: options.days, now, profile: 'server', sans: serverSans,
    subject: {commonName: serverCommonName(options.sans), organization: options.organization}})
  const issuedClients: {name: string; issued: Issued; uris: string[]}[] = []
  for (const client of clients) {
    stopIfAsked()
    const issued = await issueLeaf({issuer, keyType: options.keyType, days: options.days, now, profile: 'client', uris: client.uris,
      subject: {commonName: client.name, organization: options.organization}})
    issuedClients.push({name: client.name, issued, uris: client.uris})
  }

  const leaves: {owner: string; issued: Issued}[] = [{owner: 'server', issued: server}, ...issuedClients.map((c) => ({owner: c.name, issued: c.issued}))]
  const files: OutputFile[] = [...caFiles]
  for (const {owner, issued} of leaves) {
    files.push({name: `${owner}.crt`, data: issued.cert.toString('pem') + '\n', mode: 0o644})
    files.push({name: `${owner}.key`, data: await privateKeyToPem(issued.keys.privateKey), mode: 0o600})
  }
  const {leftovers} = await writeFilesAtomically(out, files, {overwrite: options.overwrite, signal: options.signal})
  if (leftovers.length > 0) warnings.push(`the new files are in place, but the previous versions ${leftovers.join(', ')} could not be removed: delete them`)

  const described: GeneratedFile[] = files.map((file) => {
    const owner = file.name.replace(/\.(crt|key)$/, '')
    const isCert = file.name.endsWith('.crt')
    const base: GeneratedFile = {
      path: join(out, file.name),
      kind: owner === 'ca' ? (isCert ? 'ca-cert' : 'ca-key') : (isCert ? 'cert' : 'key'),
      owner,
      mode: file.mode.toString(8).padStart(4, '0'),
    }
    if (!isCert) return base
    const cert = owner === 'ca' ? issuer.cert : leaves.find((l) => l.owner === owner)!.issued.cert
    return {...base, ...describeCert(cert)}
  })

  const result: Omit<GenerateResult, 'config' | 'acl'> = {
    out,
    keyType: options.keyType,
    ca: {generated: !options.ca, subject: issuer.cert.subject, fingerprint256: fingerprint256(issuer.cert), notAfter: issuer.cert.notAfter.toISOString(), ...(caSource ? {source: caSource} : {})},
    clients: issuedClients.map((c) => ({name: c.name, commonName: c.name, uris: c.uris})),
    files: described,
    warnings,
  }
  return {...result, config: valkeyConfLines(result), acl: aclLines(result.clients)}
}

function serverCommonName(sans: SanEntry[]): string {
  // A CN has at most 64 characters (RFC 5280 ub-common-name); a longer name is in the SAN only.
  return sans.find((s) => s.type === 'dns' && !s.value.startsWith('*') && s.value.length <= 64)?.value ?? 'localhost'
}

function describeCert(cert: Issued['cert']): Partial<GeneratedFile> {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension)
  const names = san?.names.toJSON() ?? []
  const pick = (type: string) => names.filter((n) => n.type === type).map((n) => n.value)
  return {
    subject: cert.subject,
    serialNumber: cert.serialNumber,
    fingerprint256: fingerprint256(cert),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    ...(san ? {dnsNames: pick('dns'), ipAddresses: pick('ip'), uris: pick('url')} : {}),
  }
}
