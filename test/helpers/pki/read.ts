/**
 * Certificate files seen the way the code under test sees them: Node X509Certificate views (one per
 * certificate, in file order), what a handshake reports of a served certificate, and identities
 * (certificate and key contents) for the handshake rehearsals.
 */
import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'

import type {TlsIdentity} from '../../../src/pki/rehearse.js'
import type {ServedCertificate} from '../../../src/transport/handshake.js'
import type {KeyPair} from './openssl.js'

/** Every certificate of a PEM file, in order. */
export function certsOf(path: string): X509Certificate[] {
  const blocks = readFileSync(path, 'latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((b) => new X509Certificate(b))
}

/** The first certificate of a PEM file. */
export function certOf(path: string): X509Certificate {
  const [first] = certsOf(path)
  if (!first) throw new Error(`${path}: no certificate`)
  return first
}

/** What a handshake would report for a server sending `cert`. */
export function servedOf(cert: X509Certificate): ServedCertificate {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprint256: cert.fingerprint256,
    caName: cert.issuer.replace(/\n/g, ', '),
    caFingerprint256: null,
    caKeyId: null,
  }
}

/** A certificate file and its key as a server or client loads them (what the rehearsals take). */
export function tlsIdentity(kp: KeyPair, passphrase?: string): TlsIdentity {
  return {cert: readFileSync(kp.cert), key: readFileSync(kp.key), passphrase}
}
