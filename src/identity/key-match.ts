import {createPrivateKey, X509Certificate} from 'node:crypto'

import {inputError} from '../errors.js'

/**
 * Checks that `keyPem` is the private key of the leaf in `certPem` before using them. Apart from observe.ts,
 * which loads the transport: whoami checks the key before it loads anything for the server.
 */
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
