import {createPrivateKey, X509Certificate} from 'node:crypto'

import {inputError, ValkeyTlsError} from '../errors.js'
import {type ConnectOptions, ServerConnection} from '../server/connection.js'
import {displayBytes} from './text.js'

export interface Observation {
  /** The user ACL WHOAMI reported; "default" when the server answered NOAUTH; null when refused. */
  user: string | null
  userBytes: Uint8Array | null
  /** false when the connection is the unauthenticated default user (NOAUTH). */
  authenticated: boolean
  /** Why the server refused the certificate, when it did. */
  error?: string
}

/** Checks that `keyPem` is the private key of the leaf in `certPem` before using them. */
export function checkKeyMatches(certPem: Buffer, keyPem: Buffer, keyPath: string): void {
  let key
  try {
    key = createPrivateKey({key: keyPem, format: 'pem'})
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(keyPem.toString('latin1'))
    throw inputError(encrypted ? `--verify-key ${keyPath} is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)` : `--verify-key ${keyPath} is not a PEM private key`, error)
  }
  if (!new X509Certificate(certPem).checkPrivateKey(key)) throw inputError(`--verify-key ${keyPath} is not the private key of the certificate`)
}

/**
 * Connects presenting the certificate (and its chain) with its key, sends no AUTH, and asks the server
 * which user the connection is: the ground truth the prediction is compared with.
 */
export async function observeUser(options: ConnectOptions, certPem: Buffer, keyPem: Buffer): Promise<Observation> {
  const connectOptions: ConnectOptions = {...options, user: undefined, password: undefined, tls: {...options.tls, cert: certPem, key: keyPem}}
  let connection: ServerConnection | undefined
  try {
    connection = await ServerConnection.open(connectOptions)
    const reply = await connection.callBuffer('ACL', 'WHOAMI')
    const bytes = new Uint8Array(reply as Buffer)
    return {user: displayBytes(bytes), userBytes: bytes, authenticated: true}
  } catch (error) {
    if (!(error instanceof ValkeyTlsError)) throw error
    const cause = error.cause as (Error & {code?: string}) | undefined
    if (cause?.message?.startsWith('NOAUTH')) {
      return {user: 'default', userBytes: new TextEncoder().encode('default'), authenticated: false}
    }
    if (isCertificateRejection(cause)) return {user: null, userBytes: null, authenticated: false, error: error.message}
    throw error
  } finally {
    connection?.close()
  }
}

/** A TLS alert from the server about our certificate (TLS 1.3 delivers it on the first read). */
function isCertificateRejection(error: (Error & {code?: string}) | undefined): boolean {
  return /^ERR_SSL_.*ALERT/.test(error?.code ?? '') || /ECONNRESET/.test(error?.code ?? '')
}
