import {X509Certificate} from 'node:crypto'

import {inputError} from '../errors.js'
import {splitPem} from './pem.js'
import {x509} from './x509.js'

/**
 * Parses every certificate in a PEM file (or one DER certificate). Anything else in the file — a key,
 * a CSR, junk — is an error naming the file, never a silent skip.
 */
export function parseCertificates(data: Buffer, what: string): x509.X509Certificate[] {
  const text = data.toString('latin1')
  if (!text.includes('-----BEGIN ')) {
    if (data[0] === 0x30) return [parseDer(new Uint8Array(data), what)]
    throw inputError(`${what}: not a PEM or DER certificate`)
  }
  const blocks = splitPem(text, what)
  return blocks.map((block, i) => {
    if (block.label !== 'CERTIFICATE' && block.label !== 'TRUSTED CERTIFICATE') {
      const hint = /PRIVATE KEY/.test(block.label) ? ' (this is a private key, not a certificate)' : ''
      throw inputError(`${what}: expected a CERTIFICATE, found a ${block.label} block${hint}`)
    }
    return parseDer(block.der, blocks.length > 1 ? `${what} (certificate ${i + 1})` : what)
  })
}

/** parseCertificates, as Node's X509Certificate (for chain building, signatures and key checks). */
export function parseNodeCertificates(data: Buffer, what: string): X509Certificate[] {
  return parseCertificates(data, what).map((c) => new X509Certificate(Buffer.from(c.rawData)))
}

function parseDer(der: Uint8Array<ArrayBuffer>, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(der)
  } catch (error) {
    throw inputError(`${what}: not a valid X.509 certificate`, error)
  }
}
