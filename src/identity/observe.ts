import {TransportError} from '../transport/errors.js'
import type {ConnectOptions} from '../transport/options.js'
import {openSession, type Session} from '../transport/session.js'
import {displayBytes} from '../x509/text.js'

export {checkKeyMatches} from './key-match.js'

export interface Observation {
  /** The user ACL WHOAMI reported; "default" when the server answered NOAUTH; null when refused. */
  user: string | null
  userBytes: Uint8Array | null
  /** false when the connection is the unauthenticated default user (NOAUTH). */
  authenticated: boolean
  /** Why the server refused the certificate, when it did. */
  error?: string
}

/**
 * Connects presenting the certificate (and its chain) with its key, sends no AUTH, and asks the server
 * which user the connection is: the ground truth the prediction is compared with.
 */
export async function observeUser(options: ConnectOptions, certPem: Buffer, keyPem: Buffer): Promise<Observation> {
  const connectOptions: ConnectOptions = {...options, user: undefined, password: undefined, tls: {...options.tls, cert: certPem, key: keyPem}}
  let session: Session | undefined
  try {
    session = await openSession(connectOptions, {auth: false})
    const reply = await session.callBuffer('ACL', 'WHOAMI')
    const bytes = new Uint8Array(Buffer.isBuffer(reply) ? reply : Buffer.from(String(reply)))
    return {user: displayBytes(bytes), userBytes: bytes, authenticated: true}
  } catch (error) {
    if (!(error instanceof TransportError)) throw error
    if (error.failure.reason === 'noauth') return {user: 'default', userBytes: new TextEncoder().encode('default'), authenticated: false}
    if (REFUSALS.has(error.failure.reason)) return {user: null, userBytes: null, authenticated: false, error: error.message}
    throw error
  } finally {
    session?.close()
  }
}

/** How a server refusing our certificate shows: an alert about it (TLS 1.3: on the first read), or a hang-up. */
const REFUSALS = new Set(['cert-rejected', 'cert-required', 'reset', 'closed', 'alert'])
