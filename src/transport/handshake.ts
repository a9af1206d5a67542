import {createHash, type X509Certificate} from 'node:crypto'
import {connect as netConnect, isIP} from 'node:net'
import {checkServerIdentity, createSecureContext, type PeerCertificate, type SecureContext, connect as tlsConnect, type TLSSocket} from 'node:tls'

import {displayText} from '../x509/text.js'
import {type Failure, socketFailure, timeoutFailure} from './errors.js'
import type {ConnectOptions, Endpoint} from './options.js'
import {type CertificateNames, readNames, trustedRoot} from './trusted.js'

/** How one handshake departs from the connection's own options. */
export interface HandshakeExtra {
  /** Another node than `options`, with the same material (default: `options` itself). */
  at?: Endpoint
  /** Present our client certificate (default true when there is one). */
  withCert?: boolean
  /** Another CA bundle to verify with (reload's rehearsal of a peer against a node's new CAs). */
  ca?: Buffer
  /** Another bound than `options.timeoutMs` (what is left of a deadline). */
  timeoutMs?: number
  /**
   * Find the CA the chain leads to (check). When the chain verified, it is the trusted CA (--cacert) it was verified
   * with (see describeVerified). Otherwise the last of the chain sent, from `peer`.
   */
  chain?: boolean
  /** Open sockets are kept here until they close, so a caller can destroy them all at an overall deadline. */
  sockets?: Set<TLSSocket>
  /** Highest TLS version to offer (TLS 1.2: a server refuses a client certificate within the handshake). */
  maxVersion?: 'TLSv1.2'
}

export interface ServedCertificate {
  subject: string
  issuer: string
  notBefore: string
  notAfter: string
  fingerprint256: string
  /** The CA the chain leads to: the issuer of its last certificate (see HandshakeExtra.chain). */
  caName: string
  /** Its fingerprint, when the chain ends in the (self-signed) root itself. */
  caFingerprint256: string | null
  /**
   * The CA's key identifier, hex with colons (CAs can share a name, not a key): the subjectKeyIdentifier of a
   * self-signed root at the end of the chain, else the authorityKeyIdentifier of its last certificate; the same
   * whether or not a node sends its root, and whether or not the root has an authorityKeyIdentifier.
   */
  caKeyId: string | null
}

export interface HandshakeOk {
  ok: true
  socket: TLSSocket
  tcpMs: number
  handshakeMs: number
  protocol: string | null
  cipher: string | null
  certificate: ServedCertificate | null
  /** The served leaf certificate (DER), null when the server sent none. */
  leafDer: Buffer | null
  /**
   * When the chain or the name did not verify (or with --insecure): the served leaf, `issuerCertificate` leading
   * through the chain sent (read at once: OpenSSL may drop it later). Undefined when both verified: reading the
   * chain as X509Certificates (each copied, so decoded again) would cost a fifth of a handshake, for nothing.
   */
  peer: X509Certificate | undefined
  /** Chain and name verification result (Node's code); null with --insecure. */
  verifyError: string | null
}

export interface HandshakeFailed {
  ok: false
  failure: Failure
  /** The socket error's code, or TIMEOUT. */
  code: string
  tcpMs: number | null
}

const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6

/**
 * One TCP connect + TLS handshake with a hard deadline (the socket is destroyed when it passes: Node's
 * `timeout` option only emits an event). The server certificate is verified by hand afterwards so
 * that an untrusted or expired certificate is still described, not just rejected.
 */
export function handshake(options: ConnectOptions, extra: HandshakeExtra = {}): Promise<HandshakeOk | HandshakeFailed> {
  const {host, port} = extra.at ?? options
  const withCert = extra.withCert ?? true
  const timeoutMs = extra.timeoutMs ?? options.timeoutMs
  const {tls} = options
  return new Promise((resolve) => {
    const start = process.hrtime.bigint()
    let tcpMs: number | null = null
    // The leaf, as Node read it for its name check: the chain verified whenever it is set.
    let named: PeerCertificate | undefined
    const ca = extra.ca ?? tls.ca
    const socket = tlsConnect({
      host, port,
      secureContext: sharedContext(ca, withCert ? tls.cert : undefined, withCert ? tls.key : undefined, tls.ciphers, extra.maxVersion),
      servername: tls.servername ?? (isIP(host) ? undefined : host),
      rejectUnauthorized: false,
      checkServerIdentity: (name: string, cert: PeerCertificate) => {
        named = cert
        return checkServerIdentity(name, cert)
      },
    })
    // Node reads the whole chain for its name check (getPeerCertificate(true): each certificate copied, so decoded
    // again, half a millisecond a handshake with OpenSSL 3.0), of which the check reads the leaf's names. The leaf
    // alone is given; the chain, when needed, is found in the CAs that verified it (trustedRoot), else read as before.
    const nodeReading = socket.getPeerCertificate
    socket.getPeerCertificate = (() => nodeReading.call(socket, false)) as typeof nodeReading
    if (extra.sockets) {
      extra.sockets.add(socket)
      socket.once('close', () => extra.sockets!.delete(socket))
    }
    const finish = (result: HandshakeOk | HandshakeFailed) => {
      clearTimeout(timer)
      Reflect.deleteProperty(socket, 'getPeerCertificate')
      socket.removeAllListeners('error')
      socket.on('error', () => {})
      if (!result.ok) socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => {
      finish({ok: false, code: 'TIMEOUT', tcpMs, failure: timeoutFailure(tcpMs === null ? 'tcp' : 'handshake', timeoutMs / 1000)})
    }, timeoutMs)
    socket.once('connect', () => {
      tcpMs = since(start)
    })
    socket.once('secureConnect', () => {
      const handshakeMs = since(start) - (tcpMs ?? 0)
      Reflect.deleteProperty(socket, 'getPeerCertificate')
      const verifyError = tls.insecure ? null : socket.authorized ? null : String(socket.authorizationError ?? 'not verified')
      const peer = named?.raw && socket.authorized ? undefined : socket.getPeerX509Certificate()
      const certificate = named?.raw ? describeVerified(socket, named, ca, Boolean(extra.chain))
        : peer ? describeServed(peer, {validFrom: peer.validFrom, validTo: peer.validTo}, Boolean(extra.chain), (c) => c.issuerCertificate) : null
      finish({ok: true, socket, tcpMs: tcpMs ?? 0, handshakeMs, protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? null, certificate, leafDer: named?.raw ?? peer?.raw ?? null, peer, verifyError})
    })
    socket.once('error', (error: Error & {code?: string}) => {
      finish({ok: false, code: error.code ?? 'ERROR', tcpMs, failure: socketFailure(error, {tcpConnected: tcpMs !== null, withCert: withCert && Boolean(tls.cert), ciphers: tls.ciphers !== undefined})})
    })
  })
}

const contexts = new Map<string, SecureContext>()

/** The same Buffers come with every handshake of a run: each hashed once. */
const digests = new WeakMap<Buffer, string>()
function digestOf(data: Buffer): string {
  let digest = digests.get(data)
  if (digest === undefined) {
    digest = createHash('sha256').update(data).digest('hex')
    digests.set(data, digest)
  }
  return digest
}

/**
 * One SecureContext per (CA, cert, key, ciphers, highest version) for the whole run: building one parses the CA bundle
 * and the key, which costs more than the handshake itself when done per connection.
 */
function sharedContext(ca: Buffer | undefined, cert: Buffer | undefined, key: Buffer | undefined, ciphers: string | undefined, maxVersion?: 'TLSv1.2'): SecureContext {
  const id = [ca, cert, key].map((b) => (b ? digestOf(b) : '-')).join(':') + `:${ciphers ?? '-'}:${maxVersion ?? '-'}`
  let context = contexts.get(id)
  if (!context) {
    context = createSecureContext({ca, cert, key, ciphers, ...(maxVersion ? {maxVersion} : {})})
    contexts.set(id, context)
  }
  return context
}

/**
 * A leaf whose chain verified: the CA it leads to (with `chain`) is the trusted one it was verified with, where the
 * bundle says so for certain (trustedRoot); else the chain Node builds, as sent then completed from the trusted CAs.
 */
function describeVerified(socket: TLSSocket, leaf: PeerCertificate, ca: Buffer | undefined, chain: boolean): ServedCertificate {
  const dates = {validFrom: leaf.valid_from, validTo: leaf.valid_to}
  const names = readNames(leaf.raw)
  const root = chain && names ? trustedRoot(leaf.raw, names, ca) : undefined
  if (chain && !root) return describeServed(socket.getPeerCertificate(true), dates, true, (c) => (c.issuerCertificate?.raw ? c.issuerCertificate : undefined))
  return describeChain({raw: leaf.raw, fingerprint256: leaf.fingerprint256, ...dates, names}, root)
}

/**
 * The served leaf described, with the CA its chain leads to when `chain`: from the served X509Certificate, or from
 * Node's own reading of a verified chain (getPeerCertificate(true)); `issuerOf` walks either.
 */
function describeServed<T extends {raw: Buffer; fingerprint256: string}>(leaf: T, dates: {validFrom: string; validTo: string}, chain: boolean, issuerOf: (cert: T) => T | undefined): ServedCertificate {
  const top = chain ? chainFrom(leaf, issuerOf).at(-1)! : leaf
  return describeChain({raw: leaf.raw, fingerprint256: leaf.fingerprint256, ...dates}, top === leaf ? undefined : {raw: top.raw, fingerprint256: top.fingerprint256})
}

/** A certificate and the ones its issuer links lead to, until one repeats (a self-signed root links to itself). */
function chainFrom<T extends {fingerprint256: string}>(first: T, issuerOf: (cert: T) => T | undefined): T[] {
  const chain = [first]
  const seen = new Set([first.fingerprint256])
  for (let c = issuerOf(first); c && !seen.has(c.fingerprint256); c = issuerOf(c)) {
    chain.push(c)
    seen.add(c.fingerprint256)
  }
  return chain
}

/** A certificate, with its names when they were read already. */
interface Described {raw: Buffer; fingerprint256: string; names?: CertificateNames | undefined}

function describeChain(leaf: Described & {validFrom: string; validTo: string}, last: Described | undefined): ServedCertificate {
  const names = leaf.names ?? readNames(leaf.raw)
  const topNames = last ? last.names ?? readNames(last.raw) : names
  const selfSigned = topNames !== undefined && topNames.issuer === topNames.subject
  return {
    subject: names?.subject ?? '',
    issuer: names?.issuer ?? '',
    notBefore: isoDate(leaf.validFrom),
    notAfter: isoDate(leaf.validTo),
    fingerprint256: leaf.fingerprint256,
    caName: topNames?.issuer ?? '',
    caFingerprint256: selfSigned ? (last ?? leaf).fingerprint256 : null,
    caKeyId: (selfSigned ? topNames.subjectKeyId ?? topNames.authorityKeyId : topNames?.authorityKeyId) ?? null,
  }
}

/**
 * A certificate date as ISO 8601; a served certificate's date that is no date at all (OpenSSL serves a notAfter
 * of day 41, Node reads it as "Bad time value") stays what Node says, escaped: reported, never a crash.
 */
function isoDate(text: string): string {
  const date = new Date(text)
  return Number.isNaN(date.getTime()) ? displayText(text) : date.toISOString()
}

/** The served leaf and the certificates the server sent after it, leaf first. */
export function servedChain(peer: X509Certificate | undefined): X509Certificate[] {
  return peer ? chainFrom(peer, (c) => c.issuerCertificate) : []
}

/** After a handshake timeout: does the port answer plaintext RESP? (A `port` given for a `tls-port`.) */
export function answersPlaintext({host, port}: Endpoint, timeoutMs: number): Promise<boolean> {
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
