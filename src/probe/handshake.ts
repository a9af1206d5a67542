import {createHash, type X509Certificate} from 'node:crypto'
import {createSecureContext, type SecureContext, connect as tlsConnect, type TLSSocket} from 'node:tls'
import {connect as netConnect, isIP} from 'node:net'

import {readRawNames} from '../identity/raw-names.js'
import {rfc4514} from '../identity/text.js'

export interface HandshakeOptions {
  host: string
  port: number
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  servername?: string
  insecure?: boolean
  timeoutMs: number
  /** Walk the served chain to find its CA (costs about as much as the rest of the description: only when needed). */
  chain?: boolean
  /** Open sockets are kept here until they close, so a caller can destroy them all at an overall deadline. */
  sockets?: Set<TLSSocket>
}

export interface ServedCertificate {
  subject: string
  issuer: string
  notBefore: string
  notAfter: string
  fingerprint256: string
  /** The CA the chain leads to: the issuer of the last certificate the server sent. */
  caName: string
  /** Its fingerprint, when the server sent the (self-signed) root itself. */
  caFingerprint256: string | null
}

export interface HandshakeOk {
  ok: true
  socket: TLSSocket
  tcpMs: number
  handshakeMs: number
  protocol: string | null
  cipher: string | null
  certificate: ServedCertificate | null
  /** The served leaf, `issuerCertificate` leading through the chain sent (read at once: OpenSSL may drop it later). */
  peer: X509Certificate | undefined
  /** Chain and name verification result; null with --insecure. */
  verifyError: string | null
}

export interface HandshakeFailed {
  ok: false
  /** One line naming the cause: "connection refused", "no TLS handshake within 2 s", ... */
  error: string
  code: string
  tcpMs: number | null
}

const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6

/**
 * One TCP connect + TLS handshake with a hard deadline (the socket is destroyed when it passes: Node's
 * `timeout` option only emits an event). The server certificate is verified by hand afterwards so
 * that an untrusted or expired certificate is still described, not just rejected.
 */
export function handshake(options: HandshakeOptions): Promise<HandshakeOk | HandshakeFailed> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint()
    let tcpMs: number | null = null
    const socket = tlsConnect({
      host: options.host,
      port: options.port,
      secureContext: sharedContext(options),
      servername: options.servername ?? (isIP(options.host) ? undefined : options.host),
      rejectUnauthorized: false,
    })
    if (options.sockets) {
      options.sockets.add(socket)
      socket.once('close', () => options.sockets!.delete(socket))
    }
    const finish = (result: HandshakeOk | HandshakeFailed) => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      socket.on('error', () => {})
      if (!result.ok) socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => {
      const what = tcpMs === null ? 'no TCP connection' : 'TCP connected, but no TLS handshake'
      finish({ok: false, code: 'TIMEOUT', tcpMs, error: `${what} within ${options.timeoutMs / 1000} s`})
    }, options.timeoutMs)
    socket.once('connect', () => {
      tcpMs = since(start)
    })
    socket.once('secureConnect', () => {
      const handshakeMs = since(start) - (tcpMs ?? 0)
      const peer = socket.getPeerX509Certificate()
      const certificate = peer ? describePeer(peer, Boolean(options.chain)) : null
      const verifyError = options.insecure ? null : socket.authorized ? null : String(socket.authorizationError ?? 'not verified')
      finish({ok: true, socket, tcpMs: tcpMs ?? 0, handshakeMs, protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? null, certificate, peer, verifyError})
    })
    socket.once('error', (error: Error & {code?: string}) => {
      finish({ok: false, code: error.code ?? 'ERROR', tcpMs, error: describeSocketError(error, tcpMs !== null)})
    })
  })
}

const contexts = new Map<string, SecureContext>()

/**
 * One SecureContext per (CA, cert, key) for the whole run: building one parses the CA bundle and the
 * key, which costs more than the handshake itself when done per connection.
 */
function sharedContext({ca, cert, key}: HandshakeOptions): SecureContext {
  const id = [ca, cert, key].map((b) => (b ? createHash('sha256').update(b).digest('hex') : '-')).join(':')
  let context = contexts.get(id)
  if (!context) {
    context = createSecureContext({ca, cert, key})
    contexts.set(id, context)
  }
  return context
}

function describePeer(peer: X509Certificate, chain: boolean): ServedCertificate {
  // issuerCertificate points to itself at a self-signed root: stop when a fingerprint repeats.
  let top = peer
  if (chain) {
    const seen = new Set([peer.fingerprint256])
    while (top.issuerCertificate && !seen.has(top.issuerCertificate.fingerprint256)) {
      top = top.issuerCertificate
      seen.add(top.fingerprint256)
    }
  }
  const names = readNames(peer.raw)
  const topNames = top === peer ? names : readNames(top.raw)
  return {
    subject: names?.subject ?? '',
    issuer: names?.issuer ?? '',
    notBefore: new Date(peer.validFrom).toISOString(),
    notAfter: new Date(peer.validTo).toISOString(),
    fingerprint256: peer.fingerprint256,
    caName: topNames?.issuer ?? '',
    caFingerprint256: topNames && topNames.issuer === topNames.subject ? top.fingerprint256 : null,
  }
}

/** RFC 4514 subject and issuer, read from the DER as `whoami` does. */
function readNames(der: Buffer | undefined): {subject: string; issuer: string} | undefined {
  if (!der) return undefined
  try {
    const raw = readRawNames(new Uint8Array(der))
    return {subject: rfc4514(raw.subject), issuer: rfc4514(raw.issuer)}
  } catch {
    return undefined
  }
}

function describeSocketError(error: Error & {code?: string}, tcpConnected: boolean): string {
  switch (error.code) {
    case 'ECONNREFUSED': return 'connection refused'
    case 'ECONNRESET': return tcpConnected ? 'connection reset during the TLS handshake' : 'connection reset'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return 'host unreachable'
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'cannot resolve host'
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG': return 'not a TLS port'
    default: return alertOrFirstLine(error)
  }
}

/** OpenSSL's alert name ("certificate required", "unknown ca") from an error message, if it is one. */
export function tlsAlert(message: string): string | undefined {
  return /alert ([a-z ]+?)(?::|$)/.exec(message)?.[1]
}

/** "TLS alert: <name>" for an alert, else the error's first line (OpenSSL appends a multi-line trace). */
export function alertOrFirstLine(error: Error): string {
  const alert = tlsAlert(error.message)
  return alert ? `TLS alert: ${alert}` : error.message.split('\n')[0]!
}

/** After a handshake timeout: does the port answer plaintext RESP? (A `port` given for a `tls-port`.) */
export function answersPlaintext(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({host, port})
    const done = (answer: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data: Buffer) => done(/^[+-]/.test(data.toString('latin1', 0, 1))))
    socket.once('error', () => done(false))
  })
}
