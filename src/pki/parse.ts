import {Certificate} from './certificate.js'
import {certificateBlocks, openssl, parseWith} from './read-certificates.js'

export {parseNodeCertificates} from './read-certificates.js'

/**
 * Every certificate of a file, read with the project's DER readers (for issuing with a CA, and for
 * `certs inspect`); each must first be one OpenSSL accepts, so nothing it refuses is used with made-up values.
 */
export function parseCertificates(data: Buffer, what: string): Certificate[] {
  return certificateBlocks(data, what).map((b) => parseWith(() => {
    openssl(b.der)
    return new Certificate(b.der)
  }, b.what))
}
