import {join, resolve} from 'node:path'

import {inputError, usageError, ValkeyTlsError} from '../errors.js'
import {checkOutputDir, existingTargets, type OutputFile, throwIfInterrupted, writeFilesAtomically} from '../fsutil/write.js'
import {loadCa} from './ca.js'
import {createCa, type Issued, type Issuer, issueLeaf} from './issue.js'
import {privateKeyDer, privateKeyToPem} from './keys.js'
import type {KeyType} from './key-types.js'
import {checkCaName, checkClientName, checkOrganization, DEFAULT_CLIENT, mergeSans, type SanEntry, type ServerSpec} from './names.js'
import {checkNotAfterWithinCa, parseNotAfter} from './not-after.js'
import {aclLines, nodeConfLines, valkeyConfLines} from './snippets.js'

const MAX_DAYS = 100 * 365
const DAY_MS = 86_400_000

export interface GenerateOptions {
  out: string
  keyType: KeyType
  /** Validity of the server and client certificates. */
  days: number
  /** Instead of `days`: a duration (24h, 90d) or ISO date/time, as --not-after takes it. */
  notAfter?: string
  /** Validity of a newly generated CA. */
  caDays: number
  /** Extra server SANs; localhost, 127.0.0.1 and ::1 are always there. */
  sans: SanEntry[]
  /** One server certificate per node (NAME.crt, CN=NAME, its own SANs besides `sans`) instead of server.crt. */
  servers?: ServerSpec[]
  /** CN of a new CA. */
  caName?: string
  /** Also write NAME.p12 for every client certificate, encrypted with this password. */
  p12?: {password: string}
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

export type FileKind = 'ca-cert' | 'ca-key' | 'cert' | 'key' | 'p12'

export interface GeneratedFile {
  path: string
  kind: FileKind
  /** ca, server, or the client name. */
  owner: string
  /** Of a leaf's files: whether they are for a server node or a client. */
  role?: 'server' | 'client'
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
  /** Which files go to which node, with that node's valkey.conf lines (one entry, "server", without --server). */
  servers: {name: string; commonName: string; cert: string; key: string; dnsNames: string[]; ipAddresses: string[]; config: string[]}[]
  files: GeneratedFile[]
  /** The valkey.conf lines: for one server.crt as they are; with --server, every node's, each after a "# on NAME" line. */
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

export function plannedFileNames(clients: PlannedClient[], withCaKey: boolean, servers: string[] = ['server'], p12 = false): string[] {
  return [
    'ca.crt',
    ...(withCaKey ? ['ca.key'] : []),
    ...servers.flatMap((name) => [`${name}.crt`, `${name}.key`]),
    ...clients.flatMap((c) => [`${c.name}.crt`, `${c.name}.key`, ...(p12 ? [`${c.name}.p12`] : [])]),
  ]
}

interface PlannedServer {
  name: string
  commonName: string
  sans: SanEntry[]
}

/** Without --server, one server.crt for every node; with it, one NAME.crt per node (--san on each of them). */
export function planServers(servers: ServerSpec[], shared: SanEntry[], clients: PlannedClient[]): PlannedServer[] {
  if (servers.length === 0) return [{name: 'server', commonName: serverCommonName(shared), sans: mergeSans(shared)}]
  const planned: PlannedServer[] = []
  for (const server of servers) {
    const clash = [...planned.map((p) => p.name), ...clients.map((c) => c.name)].find((n) => n.toLowerCase() === server.name.toLowerCase())
    if (clash) throw usageError(`--server "${server.name}" is given twice or clashes with the client certificate "${clash}" (file names ignore case on some systems)`)
    planned.push({name: server.name, commonName: server.name, sans: mergeSans([...server.sans, ...shared])})
  }
  return planned
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
  const now = options.now ?? new Date()
  checkDays(options.days, '--days')
  checkDays(options.caDays, '--ca-days')
  const notAfter = options.notAfter === undefined ? undefined : parseNotAfter(options.notAfter, now)
  if (!options.ca && notAfter) checkNotAfterWithinCa(notAfter, options.notAfter!, new Date(now.getTime() + options.caDays * DAY_MS), `the new CA (--ca-days ${options.caDays})`)
  else if (!options.ca) checkLeafWithinCa(options.days, options.caDays)
  if (options.caName !== undefined && options.ca) throw usageError('--ca-name names a new CA: it cannot rename --ca-cert')
  const caName = options.caName === undefined ? 'Valkey TLS Test CA' : checkCaName(options.caName)
  const clients = planClients(options.clients, options.clientUris)
  const servers = planServers(options.servers ?? [], options.sans, clients)
  if (options.organization) checkOrganization(options.organization)
  const warnings: string[] = []
  const stopIfAsked = () => throwIfInterrupted(options.signal, 'nothing was written')

  // Inputs next; the folder is created only when the files are written.
  const loaded = options.ca ? await loadCa(options.ca.certPath, options.ca.keyPath, now) : undefined
  if (loaded && options.ca && notAfter) checkNotAfterWithinCa(notAfter, options.notAfter!, loaded.cert.notAfter, `the CA certificate ${options.ca.certPath}`)
  else if (loaded && options.ca) checkLeafWithinLoadedCa(options.days, loaded, options.ca.certPath, now)
  await checkOutputDir(out)
  const names = plannedFileNames(clients, !options.ca, servers.map((s) => s.name), Boolean(options.p12))
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
    const ca = await createCa({keyType: options.keyType, days: options.caDays, now, subject: {commonName: caName, organization: options.organization}})
    issuer = {cert: ca.cert, keys: ca.keys}
    caFiles = [
      {name: 'ca.crt', data: ca.cert.pem, mode: 0o644},
      {name: 'ca.key', data: privateKeyToPem(ca.keys.privateKey), mode: 0o600},
    ]
  }

  const issuedServers: {name: string; issued: Issued}[] = []
  for (const server of servers) {
    stopIfAsked()
    const issued = await issueLeaf({issuer, keyType: options.keyType, days: options.days, notAfter, now, profile: 'server', sans: server.sans,
      subject: {commonName: server.commonName, organization: options.organization}})
    issuedServers.push({name: server.name, issued})
  }
  const issuedClients: {name: string; issued: Issued; uris: string[]}[] = []
  for (const client of clients) {
    stopIfAsked()
    const issued = await issueLeaf({issuer, keyType: options.keyType, days: options.days, notAfter, now, profile: 'client', uris: client.uris,
      subject: {commonName: client.name, organization: options.organization}})
    issuedClients.push({name: client.name, issued, uris: client.uris})
  }

  const leaves: {owner: string; role: 'server' | 'client'; issued: Issued}[] = [
    ...issuedServers.map((s) => ({owner: s.name, role: 'server' as const, issued: s.issued})),
    ...issuedClients.map((c) => ({owner: c.name, role: 'client' as const, issued: c.issued})),
  ]
  const files: OutputFile[] = [...caFiles]
  const {buildPkcs12} = options.p12 ? await import('./p12.js') : {buildPkcs12: undefined} // asn1js: loaded only for --p12
  for (const {owner, role, issued} of leaves) {
    files.push({name: `${owner}.crt`, data: issued.cert.pem, mode: 0o644})
    files.push({name: `${owner}.key`, data: privateKeyToPem(issued.keys.privateKey), mode: 0o600})
    if (role === 'client' && options.p12 && buildPkcs12) {
      stopIfAsked()
      const p12 = buildPkcs12({privateKey: privateKeyDer(issued.keys.privateKey), cert: new Uint8Array(issued.cert.der), chain: [new Uint8Array(issuer.cert.der)], friendlyName: owner, password: options.p12.password})
      files.push({name: `${owner}.p12`, data: p12, mode: 0o600})
    }
  }
  const {leftovers} = await writeFilesAtomically(out, files, {overwrite: options.overwrite, signal: options.signal})
  if (leftovers.length > 0) warnings.push(`the new files are in place, but the previous versions ${leftovers.join(', ')} could not be removed: delete them`)

  const described: GeneratedFile[] = files.map((file) => {
    const owner = file.name.replace(/\.(crt|key|p12)$/, '')
    const isCert = file.name.endsWith('.crt')
    const role = leaves.find((l) => l.owner === owner)?.role
    const base: GeneratedFile = {
      path: join(out, file.name),
      kind: owner === 'ca' ? (isCert ? 'ca-cert' : 'ca-key') : (isCert ? 'cert' : file.name.endsWith('.p12') ? 'p12' : 'key'),
      owner,
      ...(role ? {role} : {}),
      mode: file.mode.toString(8).padStart(4, '0'),
    }
    if (!isCert) return base
    const cert = owner === 'ca' ? issuer.cert : leaves.find((l) => l.owner === owner)!.issued.cert
    return {...base, ...describeCert(cert)}
  })

  const result: Omit<GenerateResult, 'config' | 'acl' | 'servers'> = {
    out,
    keyType: options.keyType,
    ca: {generated: !options.ca, subject: issuer.cert.subject, fingerprint256: issuer.cert.fingerprint256, notAfter: issuer.cert.notAfter.toISOString(), ...(caSource ? {source: caSource} : {})},
    clients: issuedClients.map((c) => ({name: c.name, commonName: c.name, uris: c.uris})),
    files: described,
    warnings,
  }
  const nodes = issuedServers.map(({name, issued}) => {
    const {dnsNames = [], ipAddresses = []} = describeCert(issued.cert)
    return {name, commonName: servers.find((s) => s.name === name)!.commonName, cert: join(out, `${name}.crt`), key: join(out, `${name}.key`), dnsNames, ipAddresses,
      config: valkeyConfLines(result, name)}
  })
  const config = options.servers?.length ? nodeConfLines(nodes) : nodes[0]!.config
  return {...result, servers: nodes, config, acl: aclLines(result.clients)}
}

function serverCommonName(sans: SanEntry[]): string {
  // A CN has at most 64 characters (RFC 5280 ub-common-name); a longer name is in the SAN only.
  return sans.find((s) => s.type === 'dns' && !s.value.startsWith('*') && s.value.length <= 64)?.value ?? 'localhost'
}

function describeCert(cert: Issued['cert']): Partial<GeneratedFile> {
  const san = cert.altNames
  return {
    subject: cert.subject,
    serialNumber: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    ...(san ?? {}),
  }
}
