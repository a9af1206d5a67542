import {type LoadedCa} from '../pki/ca.js'
import {Certificate} from '../pki/certificate.js'
import {authorityKeyIdentifier, signCertificate} from '../pki/encode.js'
import {EXTENSION} from '../x509/certificate.js'
import {authorityKeyOf, BACKDATE_MS, issueLeaf, randomSerial} from '../pki/issue.js'
import {privateKeyToPem} from '../pki/keys.js'
import {toPem} from '../pki/pem.js'

const HOUR_MS = 3_600_000
/**
 * A short-lived certificate from the new CA, made in memory to see whether a node already trusts that CA
 * (it presents it as a client). Never written anywhere; valid for `validMs` (an hour at least: the run's
 * deadline, so one probe serves the whole run).
 */
export async function mintProbe(newCa: LoadedCa, validMs = HOUR_MS, now = new Date()): Promise<{cert: Buffer; key: Buffer}> {
  const days = Math.max(HOUR_MS, validMs) / 86_400_000
  const {cert, keys} = await issueLeaf({issuer: newCa, keyType: 'ec-p256', days, subject: {commonName: 'valkey-tls CA rotation probe'}, profile: 'server', now})
  return {cert: Buffer.from(cert.pem), key: Buffer.from(privateKeyToPem(keys.privateKey))}
}

/**
 * The node's certificate again, from the new CA: the same subject, subjectAltNames, key usages and other
 * extensions, and the same public key (so the key file stays as it is: a certificate and key replaced as
 * two files could be seen half-done by a restart), for the same lifetime (within the new CA's), with a
 * new serial and the new CA's key identifier. PEM, the leaf alone.
 */
export async function reissue(leafDer: Buffer, newCa: LoadedCa, now = new Date()): Promise<Buffer> {
  const old = new Certificate(leafDer)
  const lifetime = Math.max(HOUR_MS, old.notAfter.getTime() - old.notBefore.getTime())
  const notBefore = new Date(now.getTime() - BACKDATE_MS)
  const notAfter = new Date(Math.min(notBefore.getTime() + lifetime, newCa.cert.notAfter.getTime()))
  const der = signCertificate({
    serial: Buffer.from(randomSerial(), 'hex'),
    issuer: newCa.cert.subjectDer,
    subject: old.subjectDer,
    notBefore,
    notAfter,
    spki: old.spki,
    extensions: [
      ...old.extensions.filter((e) => e.oid !== EXTENSION.authorityKeyIdentifier).map((e) => e.der),
      authorityKeyIdentifier(authorityKeyOf(newCa.cert)),
    ],
  }, newCa.keys.privateKey)
  return Buffer.from(toPem('CERTIFICATE', der))
}
