import {X509Certificate} from 'node:crypto'

import {splitPem} from '../pki/pem.js'

/**
 * Whether a served chain (leaf first) leads, signature by signature and through CA certificates only, to
 * a CA of `caPem`. This is no substitute for OpenSSL's verification: it is the guard that lets `reload`
 * connect to a node whose certificate OpenSSL refused for its dates or its purpose (the very certificate
 * it is there to replace) without sending a password to an impostor. OpenSSL reports only its last error,
 * so "expired" could otherwise hide "untrusted".
 */
export function anchoredIn(chain: X509Certificate[], caPem: Buffer | undefined): boolean {
  if (!caPem || chain.length === 0) return false
  let cas: X509Certificate[]
  try {
    cas = splitPem(caPem.toString('latin1'), 'CA').filter((b) => b.label === 'CERTIFICATE').map((b) => new X509Certificate(Buffer.from(b.der)))
  } catch {
    return false
  }
  const signs = (issuer: X509Certificate, cert: X509Certificate) => issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
  let current = chain[0]!
  const used = new Set([current.fingerprint256])
  for (let depth = 0; depth < 10; depth++) {
    if (cas.some((ca) => signs(ca, current))) return true
    const next = chain.find((c) => !used.has(c.fingerprint256) && signs(c, current))
    if (!next) return false
    used.add(next.fingerprint256)
    current = next
  }
  return false
}
