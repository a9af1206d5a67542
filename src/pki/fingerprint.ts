import {createHash} from 'node:crypto'

/** SHA-256 of a DER certificate as colon-separated upper-case hex, as openssl and Node print it. */
export function derFingerprint256(der: Uint8Array): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase()
  return hex.match(/../g)!.join(':')
}
