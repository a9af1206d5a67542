import type {TLSSocket} from 'node:tls'

import type {NodeRole, NodeTarget} from '../cluster/discover.js'
import {describe, type Failure, replyFailure, socketFailure, verifyFailure} from '../transport/errors.js'
import {handshake, type HandshakeExtra, type HandshakeFailed, type HandshakeOk, type ServedCertificate} from '../transport/handshake.js'
import {authFailure, fetchPassword} from '../transport/auth.js'
import {authCommand, boundBy, type ConnectOptions, type Endpoint, formatAddress} from '../transport/options.js'
import {parseInfo} from '../server/facts.js'
import {type CommandOutcome, isErrorReply, refusedWithoutCertificate, type RespValue, sendCommand, sendCommands} from '../transport/resp.js'
import {explainHandshake} from '../transport/session.js'
import {displayText} from '../x509/text.js'

const DAY_MS = 86_400_000

/** What every node's probe shares: the connection options, the warning threshold, the clock, the open sockets. */
export interface ProbeScope {
  connection: ConnectOptions
  warnDays: number
  now: Date
  /** Every socket opened, so the caller can destroy what is left when the overall deadline passes. */
  sockets: Set<TLSSocket>
  /** Epoch ms of the run's deadline: no extra step (the plaintext test after a timeout) runs past it. */
  deadline?: number
  /**
   * Test whether the node refuses clients without a certificate by trying (a handshake and a PING without
   * one), even when the node's tls-auth-clients says so: a proxy in front of it may differ.
   */
  anonymousProbe?: boolean
  /** Servers it may connect to (--allow-target, a module's targets): a node's cluster-bus port outside them is not checked. */
  allow?: (at: Endpoint) => boolean
}

export interface TlsSettings {
  tlsAuthClients: string | null
  tlsAuthClientsUser: string | null
  tlsProtocols: string | null
  tlsCluster: string | null
}

export interface PortResult {
  port: number
  ok: boolean
  error: string | null
  protocol: string | null
  cipher: string | null
  tcpMs: number | null
  handshakeMs: number | null
  subject: string | null
  issuer: string | null
  /** The CA the served chain leads to (issuer of the last certificate sent). */
  ca: string | null
  caFingerprint256: string | null
  /** The CA's key identifier (from the served chain): two CAs can share a name, not a key. */
  caKeyId: string | null
  notAfter: string | null
  daysLeft: number | null
  fingerprint256: string | null
  /** Why it failed, as a short machine-readable word (refused, timeout, untrusted, expired, cert-required, ...); null when ok. */
  reason: string | null
}

export interface NodeResult extends PortResult {
  address: string
  host: string
  role: NodeRole
  id: string | null
  health: string | null
  status: 'ok' | 'warning' | 'failed'
  warnings: string[]
  /** Things worth knowing that are not problems (settings that could not be read, ...). */
  notes: string[]
  /** Whether the node refuses clients without a certificate; null when unknown. */
  clientCertRequired: boolean | null
  /** With --cert/--key: the user that certificate is logged in as (ACL WHOAMI). */
  user: string | null
  /** What kind of failure `error` is, when it is ours to fix (auth: credentials, exit 7); else server. */
  errorKind?: 'auth' | 'server'
  settings: TlsSettings | null
  /** What the node says it loaded (INFO tls, Valkey 9.1+): expiry of its server, client and CA certificates. */
  loaded: {server: string | null; client: string | null; ca: string | null} | null
  /** INFO stats acl_access_denied_tls_cert (Valkey 9.0+): certificates that mapped to no usable user. */
  aclDeniedTlsCert: number | null
  bus: PortResult | null
}

/** All checks of one node: client port handshake, certificate, client-cert enforcement, identity, settings, bus. */
export async function probeNode(target: NodeTarget, settings: ProbeScope): Promise<NodeResult> {
  const hasCert = Boolean(settings.connection.tls.cert && settings.connection.tls.key)
  if (hasCert) {
    const oneHandshake = await probeWithCertFirst(target, settings)
    if (oneHandshake) return oneHandshake
  }
  const result = emptyResult(target)
  const first = await tracked(settings, target, {withCert: false, chain: true})
  let session: TLSSocket | undefined
  if (!first.ok && first.code.startsWith('ERR_SSL') && hasCert) {
    // TLS 1.2: a node that demands a certificate fails the handshake itself; describe it from one with ours.
    const withCert = await tracked(settings, target, {chain: true})
    if (!withCert.ok) {
      fail(result, await explainFailure(withCert, target, settings))
      return finish(result, settings)
    }
    result.clientCertRequired = true
    fillPort(result, withCert, settings, true)
    if (!result.error) session = await identify(withCert.socket, result, settings)
  } else if (!first.ok) {
    fail(result, await explainFailure(first, target, settings))
    return finish(result, settings)
  } else {
    fillPort(result, first, settings, true)
    const ping = await sendCommand(first.socket, ['PING'], settings.connection.timeoutMs)
    if (ping.ok) result.clientCertRequired = false
    else if (refusedWithoutCertificate(ping)) result.clientCertRequired = true
    else if (!result.error) fail(result, socketFailure(ping.error, {tcpConnected: true, afterHandshake: true, withCert: false}), 'after the handshake: ')
    session = ping.ok ? first.socket : undefined
    if (hasCert && !result.error) {
      const withCert = await tracked(settings, target)
      if (!withCert.ok) fail(result, await explainFailure(withCert, target, settings), 'with --cert: ')
      else session = await identify(withCert.socket, result, settings)
    }
  }
  let busPort = target.busPort
  if (session && !result.error) {
    const read = await readSettings(session, settings, result)
    result.settings = read.settings
    busPort ??= read.busPort
  } else if (!session && result.clientCertRequired) result.notes.push('TLS settings not read: the node requires a client certificate (--cert/--key)')
  // The bus is probed whenever the client port handshake worked, even if its certificate failed checks.
  if (busPort && result.settings?.tlsCluster !== 'no' && result.clientCertRequired !== null && busAllowed(target, busPort, settings, result)) {
    result.bus = await probeBus(target, busPort, settings)
  }
  return finish(result, settings)
}

/**
 * The common case in one handshake: with --cert, and the node's own tls-auth-clients saying whether it
 * demands a certificate; where it cannot say (CONFIG not allowed), or with --anonymous-probe, one more
 * handshake without a certificate tells. Null (and nothing kept) when the handshake with --cert, its
 * verification or its commands fail: the full probe then runs and describes it (anonymous handshake
 * first, as without --cert).
 */
async function probeWithCertFirst(target: NodeTarget, settings: ProbeScope): Promise<NodeResult | null> {
  const result = emptyResult(target)
  const hs = await tracked(settings, target, {chain: true})
  if (!hs.ok) return null
  fillPort(result, hs, settings, true)
  const read = result.error ? undefined : await readSettings(hs.socket, settings, result, true)
  hs.socket.destroy()
  if (!read || result.error) return null
  result.settings = read.settings
  const demands = read.settings?.tlsAuthClients
  if (!settings.anonymousProbe && (demands === 'yes' || demands === 'no' || demands === 'optional')) result.clientCertRequired = demands === 'yes'
  else await tryWithoutCertificate(target, settings, result)
  const busPort = target.busPort ?? read.busPort
  if (!result.error && busPort && result.settings?.tlsCluster !== 'no' && busAllowed(target, busPort, settings, result)) result.bus = await probeBus(target, busPort, settings)
  return finish(result, settings)
}

/** Whether the node refuses a client without a certificate, by trying: a handshake without one, then a PING. */
async function tryWithoutCertificate(target: NodeTarget, settings: ProbeScope, result: NodeResult): Promise<void> {
  const hs = await tracked(settings, target, {withCert: false})
  if (!hs.ok && hs.code.startsWith('ERR_SSL')) result.clientCertRequired = true // TLS 1.2: the handshake itself fails
  else if (!hs.ok) fail(result, await explainFailure(hs, target, settings), 'without a client certificate: ')
  else {
    const ping = await sendCommand(hs.socket, ['PING'], settings.connection.timeoutMs)
    hs.socket.destroy()
    if (ping.ok || refusedWithoutCertificate(ping)) result.clientCertRequired = !ping.ok
    else fail(result, socketFailure(ping.error, {tcpConnected: true, afterHandshake: true, withCert: false}), 'without a client certificate, after the handshake: ')
  }
}

/** On a connection that presented --cert: the user it is logged in as (ACL WHOAMI). */
async function identify(socket: TLSSocket, result: NodeResult, settings: ProbeScope): Promise<TLSSocket> {
  whoamiReply(await sendCommand(socket, ['ACL', 'WHOAMI'], settings.connection.timeoutMs), result)
  return socket
}

function whoamiReply(whoami: CommandOutcome, result: NodeResult): void {
  if (whoami.ok && typeof whoami.reply === 'string') result.user = displayText(whoami.reply)
  else if (whoami.ok && isErrorReply(whoami.reply) && /^NOAUTH/.test(whoami.reply.error)) result.user = 'default'
  else if (!whoami.ok) fail(result, socketFailure(whoami.error, {tcpConnected: true, afterHandshake: true, withCert: true}), 'with --cert: ')
}

async function tracked(settings: ProbeScope, at: Endpoint, extra: HandshakeExtra = {}): Promise<HandshakeOk | HandshakeFailed> {
  const outcome = await handshake(settings.connection, {...extra, at})
  if (outcome.ok) settings.sockets.add(outcome.socket)
  return outcome
}

function explainFailure(failure: HandshakeFailed, at: Endpoint, settings: ProbeScope): Promise<Failure> {
  return explainHandshake(failure, at, boundBy(settings.connection.timeoutMs, settings.deadline))
}

/** A port's (or the node's) failure, in words and as a reason code; the node's exit kind follows it. */
function fail(port: PortResult & {errorKind?: 'auth' | 'server'}, failure: Failure, prefix = ''): void {
  port.error = `${prefix}${failure.cause}`
  port.reason = failure.reason
  if ('warnings' in port) port.errorKind = failure.kind
}

function fillPort(result: PortResult, hs: HandshakeOk, settings: ProbeScope, checkName: boolean): void {
  result.protocol = hs.protocol
  result.cipher = hs.cipher
  result.tcpMs = round(hs.tcpMs)
  result.handshakeMs = round(hs.handshakeMs)
  const cert: ServedCertificate | null = hs.certificate
  if (cert) {
    result.subject = cert.subject
    result.issuer = cert.issuer
    result.ca = cert.caName
    result.caFingerprint256 = cert.caFingerprint256
    result.caKeyId = cert.caKeyId
    result.notAfter = cert.notAfter
    result.fingerprint256 = cert.fingerprint256
    result.daysLeft = Math.floor((Date.parse(cert.notAfter) - settings.now.getTime()) / DAY_MS)
  }
  const verifyError = hs.verifyError
  if (verifyError && (checkName || verifyError !== 'ERR_TLS_CERT_ALTNAME_INVALID')) fail(result, verifyFailure(verifyError, cert))
}

/**
 * After AUTH (a failure there fails the node, exit 7): what the node says of itself: its role and
 * cluster mode (INFO replication/cluster, so nodes given with --nodes keep their role and bus check), what
 * it loaded (INFO tls, 9.1+), certificates refused a user (INFO stats), and its TLS settings and bus port
 * (CONFIG GET). With `whoami`, first the user the connection's certificate is logged in as (ACL WHOAMI).
 * All in one pipeline (one round trip). Returns the settings (null when not readable) and the bus port
 * when the node has one.
 */
async function readSettings(socket: TLSSocket, settings: ProbeScope, result: NodeResult, whoami = false): Promise<{settings: TlsSettings | null; busPort?: number}> {
  const {notes} = result
  const {user, password, timeoutMs} = settings.connection
  // This connection's own password (a password command runs for each), fetched before anything is sent.
  const secret = password === undefined ? undefined : await fetchPassword(password)
  if (secret !== undefined && typeof secret !== 'string') {
    fail(result, secret, 'AUTH failed: ')
    return {settings: null}
  }
  const commands = [
    ...(whoami ? [['ACL', 'WHOAMI']] : []),
    ...(secret === undefined ? [] : [authCommand(user, secret)]),
    ['INFO', 'server', 'replication', 'cluster', 'tls', 'stats'],
    ['CONFIG', 'GET', 'tls-auth-clients', 'tls-auth-clients-user', 'tls-protocols', 'tls-cluster', 'cluster-port', 'tls-port'],
  ]
  const outcomes = await sendCommands(socket, commands, timeoutMs)
  if (whoami) {
    whoamiReply(outcomes.shift()!, result)
    if (result.error) return {settings: null}
  }
  // No --user: the connection is whoever the client certificate logged in as (ACL WHOAMI said), else default.
  const who = user ?? result.user ?? undefined
  const why = (outcome: CommandOutcome, command: string) => (outcome.ok
    ? describe(replyFailure((outcome.reply as {error: string}).error, {command, user: who}))
    : socketFailure(outcome.error, {tcpConnected: true, afterHandshake: true, withCert: false}).cause)
  if (password !== undefined) {
    const failure = authFailure(outcomes.shift()!, user)
    if (failure) {
      // A password that does not work is a failure of the run (exit 7), not a footnote.
      if (result.error === null) fail(result, failure, 'AUTH failed: ')
      return {settings: null}
    }
  }
  const [info, reply] = outcomes as [CommandOutcome, CommandOutcome]
  const facts = info.ok && typeof info.reply === 'string' ? parseInfo(info.reply) : undefined
  if (!facts) notes.push(`INFO not read (${why(info, 'INFO')})`)
  else readInfo(facts, result, settings.now)

  if (!reply.ok || !Array.isArray(reply.reply)) {
    notes.push(`TLS settings not read (${why(reply, 'CONFIG GET')})`)
    return {settings: null}
  }
  const map = new Map<string, RespValue>()
  for (let i = 0; i + 1 < reply.reply.length; i += 2) map.set(String(reply.reply[i]), reply.reply[i + 1]!)
  const get = (name: string) => (map.has(name) ? displayText(String(map.get(name))) : null)
  const tlsSettings = {tlsAuthClients: get('tls-auth-clients'), tlsAuthClientsUser: get('tls-auth-clients-user'), tlsProtocols: get('tls-protocols'), tlsCluster: get('tls-cluster')}
  // The bus port, as Valkey derives it: cluster-port, else the (TLS) port + 10000.
  const clusterPort = Number(get('cluster-port') ?? 0)
  const busPort = facts?.cluster_enabled === '1' ? (clusterPort > 0 ? clusterPort : Number(get('tls-port') ?? result.port) + 10_000) : undefined
  return {settings: tlsSettings, busPort}
}

/** Role (when discovery did not say), loaded certificates' expiry, certificate logins refused. */
function readInfo(info: Record<string, string>, result: NodeResult, now: Date): void {
  if (result.role === 'unknown' && info.server_mode === 'sentinel') result.role = 'sentinel'
  else if (result.role === 'unknown') result.role = info.role === 'master' ? (info.cluster_enabled === '1' || Number(info.connected_slaves ?? 0) > 0 ? 'primary' : 'standalone') : info.role === 'slave' ? 'replica' : 'unknown'
  // A certificate not loaded (no tls-client-cert-file: the server's serves both ways) has the serial "none" and
  // expires in 0 seconds: no expiry, not "now".
  const expiry = (name: string) => {
    const left = info[`tls_${name}_cert_expires_in_seconds`]
    const seconds = Number(left)
    return left === undefined || info[`tls_${name}_cert_serial`] === 'none' || !Number.isFinite(seconds) ? null : new Date(Math.floor(now.getTime() / 1000 + seconds) * 1000).toISOString()
  }
  if (Object.keys(info).some((k) => k.startsWith('tls_'))) result.loaded = {server: expiry('server'), client: expiry('client'), ca: expiry('ca')}
  if (info.acl_access_denied_tls_cert !== undefined && /^\d+$/.test(info.acl_access_denied_tls_cert)) result.aclDeniedTlsCert = Number(info.acl_access_denied_tls_cert)
}

/** The bus handshake presents the client certificate too: not to a port the rules leave out (noted instead). */
function busAllowed(target: NodeTarget, busPort: number, settings: ProbeScope, result: NodeResult): boolean {
  if (!settings.allow || settings.allow({host: target.host, port: busPort})) return true
  result.notes.push(`cluster bus port ${busPort} is outside the servers this run may connect to (--allow-target, or the module's targets): not checked`)
  return false
}

async function probeBus(target: NodeTarget, busPort: number, settings: ProbeScope): Promise<PortResult> {
  const bus = emptyPort(busPort)
  const at = {host: target.host, port: busPort}
  const hs = await tracked(settings, at)
  if (!hs.ok) {
    fail(bus, await explainFailure(hs, at, settings))
  } else {
    // Cluster peers verify the chain, not the name: a bus certificate need not match the address.
    fillPort(bus, hs, settings, false)
    hs.socket.destroy()
  }
  bus.ok = bus.error === null
  return bus
}

function finish(result: NodeResult, settings: ProbeScope): NodeResult {
  result.ok = result.error === null && (result.bus?.ok ?? true)
  if (result.bus && !result.bus.ok && result.error === null) {
    result.error = `cluster bus port ${result.bus.port}: ${result.bus.error}`
    result.reason = result.bus.reason
  }
  for (const [what, port] of [['certificate', result], ['cluster bus certificate', result.bus]] as const) {
    if (port?.daysLeft != null && port.error === null && port.daysLeft < settings.warnDays) {
      result.warnings.push(`${what} expires in ${port.daysLeft} days (${port.notAfter})`)
    }
  }
  result.status = !result.ok ? 'failed' : result.warnings.length > 0 ? 'warning' : 'ok'
  return result
}

function emptyPort(port: number): PortResult {
  return {port, ok: false, error: null, protocol: null, cipher: null, tcpMs: null, handshakeMs: null, subject: null, issuer: null, ca: null, caFingerprint256: null, caKeyId: null, notAfter: null, daysLeft: null, fingerprint256: null, reason: null}
}

/** A node result with nothing checked yet (status failed until finish() says otherwise). */
export function emptyResult(target: NodeTarget): NodeResult {
  // Key order is the JSON order: who, then the verdict, then the details.
  return {
    address: formatAddress(target),
    host: target.host,
    role: target.role,
    id: target.id ?? null,
    health: target.health ?? null,
    status: 'failed',
    ...emptyPort(target.port),
    warnings: [],
    notes: [],
    clientCertRequired: null,
    user: null,
    settings: null,
    loaded: null,
    aclDeniedTlsCert: null,
    bus: null,
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100
