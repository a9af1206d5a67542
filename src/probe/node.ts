import type {TLSSocket} from 'node:tls'

import type {NodeRole, NodeTarget} from '../cluster/discover.js'
import {authCommand, formatAddress} from '../server/connection.js'
import {answersPlaintext, handshake, type HandshakeFailed, type HandshakeOk, type HandshakeOptions, type ServedCertificate} from './handshake.js'
import {isErrorReply, refusedWithoutCertificate, type RespValue, sendCommand} from './resp.js'

const DAY_MS = 86_400_000

export interface ProbeSettings {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  servername?: string
  insecure?: boolean
  user?: string
  password?: string
  timeoutMs: number
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
  settings: TlsSettings | null
  bus: PortResult | null
}

/** All checks of one node: client port handshake, certificate, client-cert enforcement, identity, settings, bus. */
export async function probeNode(target: NodeTarget, settings: ProbeSettings): Promise<NodeResult> {
  const result = emptyResult(target)
  const first = await tracked(settings, {...hsOptions(target.port, target.host, settings), cert: undefined, key: undefined, chain: true})
  let session: TLSSocket | undefined
  if (!first.ok && first.code.startsWith('ERR_SSL') && settings.cert && settings.key) {
    // TLS 1.2: a node that demands a certificate fails the handshake itself; describe it from one with ours.
    const withCert = await tracked(settings, {...hsOptions(target.port, target.host, settings), chain: true})
    if (!withCert.ok) {
      result.error = await explainFailure(withCert, target.host, target.port, settings)
      return finish(result, settings)
    }
    result.clientCertRequired = true
    fillPort(result, withCert, settings, true)
    if (!result.error) session = await identify(withCert.socket, result, settings)
  } else if (!first.ok) {
    result.error = await explainFailure(first, target.host, target.port, settings)
    return finish(result, settings)
  } else {
    fillPort(result, first, settings, true)
    const ping = await sendCommand(first.socket, ['PING'], settings.timeoutMs)
    if (ping.ok) result.clientCertRequired = false
    else if (refusedWithoutCertificate(ping)) result.clientCertRequired = true
    else if (!result.error) result.error = `after the handshake: ${ping.error}`
    session = ping.ok ? first.socket : undefined
    if (settings.cert && settings.key && !result.error) {
      const withCert = await tracked(settings, hsOptions(target.port, target.host, settings))
      if (!withCert.ok) result.error = `with --cert: ${await explainFailure(withCert, target.host, target.port, settings)}`
      else session = await identify(withCert.socket, result, settings)
    }
  }
  if (session && !result.error) result.settings = await readSettings(session, settings, result.notes)
  else if (!session && result.clientCertRequired) result.notes.push('TLS settings not read: the node requires a client certificate (--cert/--key)')
  // The bus is probed whenever the client port handshake worked, even if its certificate failed checks.
  if (target.busPort && result.settings?.tlsCluster !== 'no' && result.clientCertRequired !== null) {
    result.bus = await probeBus(target, target.busPort, settings)
  }
  return finish(result, settings)
}

/** On a connection that presented --cert: the user it is logged in as (ACL WHOAMI). */
async function identify(socket: TLSSocket, result: NodeResult, settings: ProbeSettings): Promise<TLSSocket> {
  const whoami = await sendCommand(socket, ['ACL', 'WHOAMI'], settings.timeoutMs)
  if (whoami.ok && typeof whoami.reply === 'string') result.user = whoami.reply
  else if (whoami.ok && isErrorReply(whoami.reply) && /^NOAUTH/.test(whoami.reply.error)) result.user = 'default'
  else if (!whoami.ok) result.error = `with --cert: ${whoami.error}`
  return socket
}

function hsOptions(port: number, host: string, s: ProbeSettings): HandshakeOptions {
  return {host, port, ca: s.ca, cert: s.cert, key: s.key, servername: s.servername, insecure: s.insecure, timeoutMs: s.timeoutMs}
}

async function tracked(settings: ProbeSettings, options: HandshakeOptions): Promise<HandshakeOk | HandshakeFailed> {
  const outcome = await handshake(options)
  if (outcome.ok) settings.sockets.add(outcome.socket)
  return outcome
}

async function explainFailure(failure: HandshakeFailed, host: string, port: number, settings: ProbeSettings): Promise<string> {
  if (failure.code === 'TIMEOUT' && failure.tcpMs !== null && (await answersPlaintext(host, port, Math.min(settings.timeoutMs, 1000)))) {
    return 'this port speaks plaintext RESP, not TLS'
  }
  return failure.error
}

function fillPort(result: PortResult, hs: HandshakeOk, settings: ProbeSettings, checkName: boolean): void {
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
  if (verifyError && (checkName || verifyError !== 'ERR_TLS_CERT_ALTNAME_INVALID')) result.error = describeVerifyError(verifyError, cert)
}

function describeVerifyError(code: string, cert: ServedCertificate | null): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED': return `certificate expired on ${cert?.notAfter ?? '?'}`
    case 'CERT_NOT_YET_VALID': return `certificate not valid before ${cert?.notBefore ?? '?'}`
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return 'certificate does not match the host name or IP address (ERR_TLS_CERT_ALTNAME_INVALID)'
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return `certificate not trusted by --cacert (${code}): issued by ${cert?.issuer ?? '?'}`
    default: return `certificate not verified (${code})`
  }
}

async function readSettings(socket: TLSSocket, settings: ProbeSettings, notes: string[]): Promise<TlsSettings | null> {
  if (settings.password !== undefined) {
    const auth = await sendCommand(socket, authCommand(settings.user, settings.password), settings.timeoutMs)
    if (!auth.ok || isErrorReply(auth.reply)) {
      notes.push(`AUTH failed: ${auth.ok ? (auth.reply as {error: string}).error.split(' ')[0] : auth.error}`)
      return null
    }
  }
  const reply = await sendCommand(socket, ['CONFIG', 'GET', 'tls-auth-clients', 'tls-auth-clients-user', 'tls-protocols', 'tls-cluster'], settings.timeoutMs)
  if (!reply.ok || !Array.isArray(reply.reply)) {
    const why = reply.ok ? (reply.reply as {error: string}).error.split(' ')[0] : reply.error
    notes.push(`TLS settings not read (${why}${/NOAUTH|NOPERM/.test(String(why)) ? ': give a user allowed CONFIG GET' : ''})`)
    return null
  }
  const map = new Map<string, RespValue>()
  for (let i = 0; i + 1 < reply.reply.length; i += 2) map.set(String(reply.reply[i]), reply.reply[i + 1]!)
  const get = (name: string) => (map.has(name) ? String(map.get(name)) : null)
  return {tlsAuthClients: get('tls-auth-clients'), tlsAuthClientsUser: get('tls-auth-clients-user'), tlsProtocols: get('tls-protocols'), tlsCluster: get('tls-cluster')}
}

async function probeBus(target: NodeTarget, busPort: number, settings: ProbeSettings): Promise<PortResult> {
  const bus = emptyPort(busPort)
  const hs = await tracked(settings, hsOptions(busPort, target.host, settings))
  if (!hs.ok) {
    bus.error = await explainFailure(hs, target.host, busPort, settings)
  } else {
    // Cluster peers verify the chain, not the name: a bus certificate need not match the address.
    fillPort(bus, hs, settings, false)
    hs.socket.destroy()
  }
  bus.ok = bus.error === null
  return bus
}

function finish(result: NodeResult, settings: ProbeSettings): NodeResult {
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
