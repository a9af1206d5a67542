import {X509Certificate} from 'node:crypto'

import {inputError} from '../errors.js'
import {memoByContent} from './memo.js'
import {splitPem} from './pem.js'

/**
 * The DER of every certificate in a PEM file (or of one DER certificate), each with the name messages
 * use. Anything else in the file (a key, a CSR, junk) is an error naming the file, never a silent skip.
 */
export function certificateBlocks(data: Buffer, what: string): Array<{der: Uint8Array<ArrayBuffer>; what: string}> {
  const text = data.toString('latin1')
  if (!text.includes('-----BEGIN ')) {
    if (data[0] === 0x30) return [{der: new Uint8Array(data), what}]
    throw inputError(`${what}: not a PEM or DER certificate`)
  }
  const blocks = splitPem(text, what)
  return blocks.map((block, i) => {
    if (block.label !== 'CERTIFICATE' && block.label !== 'TRUSTED CERTIFICATE') {
      const hint = /PRIVATE KEY/.test(block.label) ? ' (this is a private key, not a certificate)' : ''
      throw inputError(`${what}: expected a CERTIFICATE, found a ${block.label} block${hint}`)
    }
    return {der: block.der, what: blocks.length > 1 ? `${what} (certificate ${i + 1})` : what}
  })
}

/**
 * Every certificate of a file as Node's X509Certificate: OpenSSL's parser, what the server's own parser accepts
 * (large certificates included), without loading @peculiar/x509 (parse.ts has those objects, for issuing).
 */
export function parseNodeCertificates(data: Buffer, what: string): X509Certificate[] {
  return [...parsedByContent([data], () => certificateBlocks(data, what).map((b) => parseWith(() => openssl(b.der), b.what)))]
}

/** A run over many nodes reads the same CA bundle once per node: parsed once (see memo.ts). */
const parsedByContent = memoByContent<X509Certificate[]>()

/** OpenSSL's reading of a certificate, with dates that are dates. */
export function openssl(der: Uint8Array): X509Certificate {
  const cert = new X509Certificate(Buffer.from(der))
  if (Number.isNaN(Date.parse(cert.validFrom)) || Number.isNaN(Date.parse(cert.validTo))) throw new Error('impossible validity dates')
  return cert
}

export function parseWith<T>(parse: () => T, what: string): T {
  try {
    return parse()
  } catch (error) {
    throw inputError(`${what}: not a valid X.509 certificate`, error)
  }
}
