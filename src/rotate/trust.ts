import {X509Certificate} from 'node:crypto'

/**
 * Which CA a certificate comes from, as OpenSSL decides it: `ca` issued `cert` (names and key identifiers
 * match) and its signature verifies with the CA's key.
 */
export function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey)
  } catch {
    return false
  }
}

/** The same CA: the same certificate, or one with the same subject and key (a re-issued CA certificate). */
export function sameCa(a: X509Certificate, b: X509Certificate): boolean {
  if (a.raw.equals(b.raw)) return true
  try {
    return a.subject === b.subject && a.publicKey.equals(b.publicKey)
  } catch {
    return false
  }
}

/** Where a certificate comes from, in the rotation's terms. */
export type Origin = 'new' | 'old'

/** 'new' when the new CA issued it, else 'old' (the CA being rotated away from, whichever it is). */
export const originOf = (cert: X509Certificate, newCa: X509Certificate): Origin => (issuedBy(cert, newCa) ? 'new' : 'old')

/** What a CA bundle trusts: the new CA, and anything else (the old CA, among others). */
export function bundleTrust(cas: X509Certificate[], newCa: X509Certificate): {new: boolean; old: boolean} {
  const isNew = cas.map((c) => sameCa(c, newCa))
  return {new: isNew.some(Boolean), old: isNew.some((n) => !n)}
}
