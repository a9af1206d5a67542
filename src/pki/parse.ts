import {certificateBlocks, openssl, parseWith} from './read-certificates.js'
import {x509} from './x509.js'

export {parseNodeCertificates} from './read-certificates.js'

/**
 * Every certificate of a file, as @peculiar/x509 objects (for issuing with a CA); each must first be one
 * OpenSSL accepts, so nothing it refuses is used with made-up values.
 */
export function parseCertificates(data: Buffer, what: string): x509.X509Certificate[] {
  return certificateBlocks(data, what).map((b) => parseWith(() => {
    openssl(b.der)
    return new x509.X509Certificate(b.der)
  }, b.what))
}
