import {createHash} from 'node:crypto'

import type {x509} from './x509.js'

/** SHA-256 of the DER certificate as colon-separated upper-case hex, as openssl and Node print it. */
export function fingerprint256(cert: x509.X509Certificate): string {
  return derFingerprint256(new Uint8Array(cert.rawData))
}

/** The same, of the DER bytes. */
export function derFingerprint256(der: Uint8Array): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase()
  return hex.match(/../g)!.join(':')
}
