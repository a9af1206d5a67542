import type {TLSSocket} from 'node:tls'

import type {NodeRole, NodeTarget} from '../cluster/discover.js'
import {describe, replyFailure, socketFailure, verifyFailure} from '../transport/errors.js'
import {handshake, type HandshakeExtra, type HandshakeFailed, type HandshakeOk, type ServedCertificate} from '../transport/handshake.js'
import {authCommand, type ConnectOptions, type Endpoint, formatAddress} from '../transport/options.js'
import {isErrorReply, refusedWithoutCertificate, type RespValue, sendCommand} from '../transport/resp.js'
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
  notAfter: string | null
  daysLeft: number | null
  fingerprint256: string | null
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
  bus: PortResult | null
}

/** All checks of one node: client port handshake, certificate, client-cert enforcement, identity, settings, bus. */
export async function probeNode(target: NodeTarget, settings: ProbeScope): Promise<NodeResult> {
  const result = emptyResult(target)
  const hasCert = Boolean(settings.connection.tls.cert && settings.connection.tls.key)
  const first = await tracked(settings, target, {withCert: false, chain: true})
  let session: TLSSocket | undefined
  if (!first.ok && first.code.startsWith('ERR_SSL') && hasCert) {
    // TLS 1.2: a node that demands a certificate fails the handshake itself; describe it from one with ours.
    const withCert = await tracked(settings, target, {chain: true})
    if (!withCert.ok) {
      result.error = await explainFailure(withCert, target, settings)
      return finish(result, settings)
    }
    result.clientCertRequired = true
    fillPort(result, withCert, settings, true)
    if (!result.error) session = await identify(withCert.socket, result, settings)
  } else if (!first.ok) {
    result.error = await explainFailure(first, target, settings)
    return finish(result, settings)
  } else {
    fillPort(result, first, settings, true)
    const ping = await sendCommand(first.socket, ['PING'], settings.connection.timeoutMs)
    if (ping.ok) result.clientCertRequired = false
    else if (refusedWithoutCertificate(ping)) result.clientCertRequired = true
    else if (!result.error) result.error = `after the handshake: ${socketFailure(ping.error, {tcpConnected: true, afterHandshake: true, withCert: false}).cause}`
    session = ping.ok ? first.socket : undefined
    if (hasCert && !result.error) {
      const withCert = await tracked(settings, target)
      if (!withCert.ok) result.error = `with --cert: ${await explainFailure(withCert, target, settings)}`
      else session = await identify(withCert.socket, result, settings)
    }
  }
  if (session && !result.error) result.settings = await readSettings(session, settings, result)
  else if (!session && result.clientCertRequired) result.notes.push('TLS settings not read: the node requires a client certificate (--cert/--key)')
  // The bus is probed whenever the client port handshake worked, even if its certificate failed checks.
  if (target.busPort && result.settings?.tlsCluster !== 'no' && result.clientCertRequired !== null) {
    result.bus = await probeBus(target, target.busPort, settings)
  }
  return finish(result, settings)
}

/** On a connection that presented --cert: the user it is logged in as (ACL WHOAMI). */
async function identify(socket: TLSSocket, result: NodeResult, settings: ProbeScope): Promise<TLSSocket> {
  const whoami = await sendCommand(socket, ['ACL', 'WHOAMI'], settings.connection.timeoutMs)
  if (whoami.ok && typeof whoami.reply === 'string') result.user = displayText(whoami.reply)
  else if (whoami.ok && isErrorReply(whoami.reply) && /^NOAUTH/.test(whoami.reply.error)) result.user = 'default'
  else if (!whoami.ok) result.error = `with --cert: ${socketFailure(whoami.error, {tcpConnected: true, afterHandshake: true, withCert: true}).cause}`
  return socket
}

async function tracked(settings: ProbeScope, at: Endpoint, extra: HandshakeExtra = {}): Promise<HandshakeOk | HandshakeFailed> {
  const outcome = await handshake(settings.connection, {...extra, at})
  if (outcome.ok) settings.sockets.add(outcome.socket)
  return outcome
}

async function explainFailure(failure: HandshakeFailed, at: Endpoint, settings: ProbeScope): Promise<string> {
  return (await explainHandshake(failure, at, settings.connection.timeoutMs)).cause
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
    result.notAfter = cert.notAfter
    result.fingerprint256 = cert.fingerprint256
    result.daysLeft = Math.floor((Date.parse(cert.notAfter) - settings.now.getTime()) / DAY_MS)
  }
  const verifyError = hs.verifyError
  if (verifyError && (checkName || verifyError !== 'ERR_TLS_CERT_ALTNAME_INVALID')) result.error = verifyFailure(verifyError, cert).cause
}

async function readSettings(socket: TLSSocket, settings: ProbeScope, result: NodeResult): Promise<TlsSettings | null> {
  const {notes} = result
  const {user, password, timeoutMs} = settings.connection
  if (password !== undefined) {
    const auth = await sendCommand(socket, authCommand(user, password), timeoutMs)
    if (!auth.ok || isErrorReply(auth.reply)) {
      const failure = auth.ok ? replyFailure((auth.reply as {error: string}).error, {command: 'AUTH', user}) : socketFailure(auth.error, {tcpConnected: true, afterHandshake: true, withCert: false})
      // A password that does not work is a failure of the run (exit 7), not a footnote.
      result.error ??= `AUTH failed: ${failure.cause}`
      result.errorKind = failure.kind
      return null
    }
  }
  const reply = await sendCommand(socket, ['CONFIG', 'GET', 'tls-auth-clients', 'tls-auth-clients-user', 'tls-protocols', 'tls-cluster'], timeoutMs)
  if (!reply.ok || !Array.isArray(reply.reply)) {
    const why = reply.ok ? describe(replyFailure((reply.reply as {error: string}).error, {command: 'CONFIG GET', user})) : socketFailure(reply.error, {tcpConnected: true, afterHandshake: true, withCert: false}).cause
    notes.push(`TLS settings not read (${why})`)
    return null
  }
  const map = new Map<string, RespValue>()
  for (let i = 0; i + 1 < reply.reply.length; i += 2) map.set(String(reply.reply[i]), reply.reply[i + 1]!)
  const get = (name: string) => (map.has(name) ? displayText(String(map.get(name))) : null)
  return {tlsAuthClients: get('tls-auth-clients'), tlsAuthClientsUser: get('tls-auth-clients-user'), tlsProtocols: get('tls-protocols'), tlsCluster: get('tls-cluster')}
}

async function probeBus(target: NodeTarget, busPort: number, settings: ProbeScope): Promise<PortResult> {
  const bus = emptyPort(busPort)
  const at = {host: target.host, port: busPort}
  const hs = await tracked(settings, at)
  if (!hs.ok) {
    bus.error = await explainFailure(hs, at, settings)
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
  if (result.bus && !result.bus.ok && result.error === null) result.error = `cluster bus port ${result.bus.port}: ${result.bus.error}`
  for (const [what, port] of [['certificate', result], ['cluster bus certificate', result.bus]] as const) {
    if (port?.daysLeft != null && port.error === null && port.daysLeft < settings.warnDays) {
      result.warnings.push(`${what} expires in ${port.daysLeft} days (${port.notAfter})`)
    }
  }
  result.status = !result.ok ? 'failed' : result.warnings.length > 0 ? 'warning' : 'ok'
  return result
}

function emptyPort(port: number): PortResult {
  return {port, ok: false, error: null, protocol: null, cipher: null, tcpMs: null, handshakeMs: null, subject: null, issuer: null, ca: null, caFingerprint256: null, notAfter: null, daysLeft: null, fingerprint256: null}
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
    bus: null,
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100
