import {X509Certificate} from 'node:crypto'
import {isIP} from 'node:net'
import {Duplex} from 'node:stream'
import {connect, createSecureContext, createServer, type TLSSocket} from 'node:tls'

/** A certificate file (leaf first, then intermediates, as a server loads it) with its key. */
export interface TlsIdentity {
  cert: Buffer
  key: Buffer
  /** Passphrase of an encrypted key (used, never shown). */
  passphrase?: string
}

export interface HandshakeRehearsal {
  /** What the serving side loads. */
  server: TlsIdentity
  /** CAs the server verifies a client certificate with: set, the client must present one (OpenSSL purpose sslclient). */
  serverTrust?: Buffer
  /** What the client presents. */
  client?: TlsIdentity
  /** CAs the client verifies the server with (OpenSSL purpose sslserver); unset, the server is not verified. */
  clientTrust?: Buffer
  timeoutMs?: number
}

export interface RehearsalOutcome {
  /** A side could not load its files (key mismatch, wrong passphrase, ...), or the handshake itself failed. */
  error: string | null
  /** OpenSSL's verdict on the server certificate, as a verifying client sees it; null: verified (or not asked). */
  serverRejected: string | null
  /** OpenSSL's verdict on the client certificate, as a verifying server sees it; null: verified (or not asked). */
  clientRejected: string | null
}

/**
 * One TLS handshake between two in-process endpoints over an in-memory stream: OpenSSL itself (the
 * library the server links) builds and verifies each chain, with the purpose it applies to that side
 * (sslserver for what a client verifies, sslclient for what a server verifies), every certificate's
 * dates, CA flags and key usage, and no partial chains. Nothing touches the network.
 */
export function rehearseHandshake(r: HandshakeRehearsal): Promise<RehearsalOutcome> {
  return new Promise((resolve) => {
    const outcome: RehearsalOutcome = {error: null, serverRejected: null, clientRejected: null}
    let serverContext
    let clientContext
    try {
      serverContext = {...r.server, ca: r.serverTrust}
      createSecureContext(serverContext) // throws on a key that is not the certificate's, or a wrong passphrase
    } catch (error) {
      resolve({...outcome, error: `the server side cannot load its files: ${loadError(error)}`})
      return
    }
    try {
      clientContext = createSecureContext({...r.client, ca: r.clientTrust})
    } catch (error) {
      resolve({...outcome, error: `the client side cannot load its files: ${loadError(error)}`})
      return
    }
    const [serverEnd, clientEnd] = duplexPair()
    let pending = 2
    const finish = (error?: string) => {
      if (error && !outcome.error) outcome.error = error
      if (--pending > 0 && !error) return
      clearTimeout(timer)
      client.destroy()
      serverEnd.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => finish('the rehearsal handshake did not complete'), r.timeoutMs ?? 5000)
    const server = createServer({...serverContext, requestCert: r.serverTrust !== undefined, rejectUnauthorized: false})
    server.once('secureConnection', (socket: TLSSocket) => {
      if (r.serverTrust !== undefined) {
        const presented = Object.keys(socket.getPeerCertificate()).length > 0
        if (!presented) outcome.clientRejected = 'no client certificate presented'
        else if (!socket.authorized) outcome.clientRejected = verifyReason(socket.authorizationError)
      }
      socket.on('error', () => {})
      finish()
    })
    server.once('tlsClientError', (error: Error) => finish(`handshake failed: ${firstLine(error)}`))
    server.emit('connection', serverEnd)
    const client: TLSSocket = connect({
      socket: clientEnd, secureContext: clientContext, rejectUnauthorized: false,
      checkServerIdentity: () => undefined, // names are checked apart, with OpenSSL's own matcher (checkName)
    })
    client.once('secureConnect', () => {
      if (r.clientTrust !== undefined && !client.authorized) outcome.serverRejected = verifyReason(client.authorizationError)
      finish()
    })
    client.once('error', (error: Error) => finish(`handshake failed: ${firstLine(error)}`))
  })
}

/**
 * Whether `leaf` names `name` as OpenSSL's X509_check_host / X509_check_ip do (what `openssl verify
 * -verify_hostname` and OpenSSL-based clients check): null when it does, else the reason.
 */
export function checkName(leaf: X509Certificate, name: string): string | null {
  const ip = name.replace(/^\[|\]$/g, '')
  const matches = isIP(ip) ? leaf.checkIP(ip) !== undefined : leaf.checkHost(name) !== undefined
  return matches ? null : `does not name ${name} (${leaf.subjectAltName ? `subjectAltName ${leaf.subjectAltName}` : 'no subjectAltName'})`
}

/** Every certificate of a chain file or CA bundle must be within its dates (Valkey with valkey#2999 refuses a bundle holding an expired CA). */
export function outOfDate(certs: X509Certificate[], now: Date): Array<{cert: X509Certificate; why: 'expired' | 'not-yet-valid'}> {
  const out: Array<{cert: X509Certificate; why: 'expired' | 'not-yet-valid'}> = []
  for (const cert of certs) {
    if (now > new Date(cert.validTo)) out.push({cert, why: 'expired'})
    else if (now < new Date(cert.validFrom)) out.push({cert, why: 'not-yet-valid'})
  }
  return out
}

/** OpenSSL's words for the verification errors Node reports by code (X509_verify_cert_error_string). */
const VERIFY_REASONS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_HAS_EXPIRED: 'certificate has expired',
  INVALID_CA: 'invalid CA certificate',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  PATH_LENGTH_EXCEEDED: 'path length constraint exceeded',
  KEYUSAGE_NO_CERTSIGN: 'key usage does not include certificate signing',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'unable to decode issuer public key',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'format error in certificate\'s notBefore field',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'format error in certificate\'s notAfter field',
}

export function verifyReason(code: unknown): string {
  const text = String(code ?? 'not verified')
  return VERIFY_REASONS[text] ?? text.toLowerCase().replace(/_/g, ' ')
}

function loadError(error: unknown): string {
  const message = firstLine(error as Error)
  if (/key values mismatch/i.test(message)) return 'the private key is not the certificate\'s key'
  if (/bad decrypt|interrupted or cancelled|bad password/i.test(message)) return 'the key cannot be decrypted with its passphrase'
  return message
}

/** The first line of an error; of an OpenSSL error string (`...:error:code:library:function:reason:file:line:`), the reason. */
function firstLine(error: Error): string {
  const line = String(error?.message ?? error).split('\n')[0]!
  const openssl = /^(?:[0-9A-F]+:error:[0-9A-F]+:)?[A-Za-z0-9 ]+ routines:[A-Za-z0-9_]+:([^:]+):/.exec(line)
  if (openssl?.[1] === 'excessive message size') return 'excessive message size (the certificate chain is larger than OpenSSL accepts from a peer, 100 KiB by default)'
  return openssl ? openssl[1]! : line
}

/** Two connected in-memory streams: what one writes, the other reads. */
function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = []
  const make = (other: () => Duplex) => new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      other().push(chunk)
      callback()
    },
    final(callback) {
      other().push(null)
      callback()
    },
  })
  ends.push(make(() => ends[1]!), make(() => ends[0]!))
  return [ends[0]!, ends[1]!]
}

/** Clients → this certificate: served to a client verifying with `trust`. Null when it is accepted, else why not. */
export async function rehearseServing(identity: TlsIdentity, trust: Buffer): Promise<string | null> {
  const outcome = await rehearseHandshake({server: identity, clientTrust: trust})
  return outcome.error ?? outcome.serverRejected
}

/**
 * This certificate → a server verifying clients with `trust` (a bus or replication link, or a client
 * logging in). `serving` is what that server presents (not verified here). Null when accepted, else why not.
 */
export async function rehearsePresenting(identity: TlsIdentity, trust: Buffer, serving: TlsIdentity): Promise<string | null> {
  const outcome = await rehearseHandshake({server: serving, serverTrust: trust, client: identity})
  return outcome.error ?? outcome.clientRejected
}
