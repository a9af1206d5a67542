/**
 * X.509 certificates as `certs gen` and `ca rotate` make them: the TBSCertificate in DER (x509/der-write.ts),
 * signed with node:crypto. The encoding is @peculiar/x509's, which made them before (test/unit/pki/encode.test.ts
 * compares the bytes), without its start-up cost.
 */
import {createHash, type KeyObject, sign} from 'node:crypto'

import {inputError} from '../errors.js'
import {EXTENSION} from '../x509/certificate.js'
import {childrenOf, expectUniversal, readTlv, Tag} from '../x509/der.js'
import {bitString, boolean, directoryString, explicit, implicit, namedBits, octetString, oid, sequence, set, smallInteger, time, tlv, unsignedInteger} from '../x509/der-write.js'

export const EKU = {serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2'} as const

/** keyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KEY_USAGE = {digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6} as const

const ATTRIBUTE = {O: '2.5.4.10', CN: '2.5.4.3'} as const

export interface TbsInput {
  /** Big-endian magnitude of the serial number. */
  serial: Uint8Array
  /** The issuer's subject Name, as its certificate encodes it (RFC 5280: byte for byte). */
  issuer: Uint8Array
  subject: Uint8Array
  notBefore: Date
  notAfter: Date
  /** SubjectPublicKeyInfo DER of the certificate's key. */
  spki: Uint8Array
  /** Extension DERs in order (extension() makes them). */
  extensions: Uint8Array[]
}

/** The signed certificate, DER. */
export function signCertificate(tbs: TbsInput, signer: KeyObject): Buffer {
  const {hash, algorithm} = signatureOf(signer)
  const tbsDer = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(tbs.serial),
    algorithm,
    Buffer.from(tbs.issuer),
    sequence(time(tbs.notBefore), time(tbs.notAfter)),
    Buffer.from(tbs.subject),
    Buffer.from(tbs.spki),
    ...(tbs.extensions.length > 0 ? [explicit(3, sequence(...tbs.extensions))] : []),
  )
  return sequence(tbsDer, algorithm, bitString(sign(hash, tbsDer, signer)))
}

/** How a key signs certificates: the digest, and the AlgorithmIdentifier that says so. */
function signatureOf(key: KeyObject): {hash: string | null; algorithm: Buffer} {
  switch (key.asymmetricKeyType) {
    case 'rsa': return {hash: 'sha256', algorithm: sequence(oid('1.2.840.113549.1.1.11'), tlv(5))} // sha256WithRSAEncryption, NULL parameters
    case 'ed25519': return {hash: null, algorithm: sequence(oid('1.3.101.112'))}
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      const bits = curve === 'prime256v1' ? 256 : curve === 'secp384r1' ? 384 : curve === 'secp521r1' ? 512 : undefined
      if (bits === undefined) throw inputError(`cannot sign with a key on the elliptic curve ${curve}`)
      return {hash: `sha${bits}`, algorithm: sequence(oid(`1.2.840.10045.4.3.${bits === 256 ? 2 : bits === 384 ? 3 : 4}`))}
    }
    default: throw inputError(`cannot sign with a ${key.asymmetricKeyType} key; use RSA, ECDSA or Ed25519`)
  }
}

/** A Name of one attribute per RDN: O (when given), then CN. */
export function encodeName(fields: {commonName: string; organization?: string}): Buffer {
  const attributes: Array<[string, string]> = [...(fields.organization ? [[ATTRIBUTE.O, fields.organization] as [string, string]] : []), [ATTRIBUTE.CN, fields.commonName]]
  return sequence(...attributes.map(([type, value]) => set(sequence(oid(type), directoryString(value)))))
}

/** One Extension: critical only when it is (DER leaves out a FALSE default). */
export function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value))
}

export const basicConstraints = (ca: boolean): Buffer => extension(EXTENSION.basicConstraints, true, sequence(...(ca ? [boolean(true)] : [])))
export const keyUsage = (bits: number[]): Buffer => extension(EXTENSION.keyUsage, true, namedBits(bits))
export const extendedKeyUsage = (purposes: string[]): Buffer => extension(EXTENSION.extendedKeyUsage, false, sequence(...purposes.map(oid)))
export const subjectKeyIdentifier = (keyId: Uint8Array): Buffer => extension(EXTENSION.subjectKeyIdentifier, false, octetString(keyId))
export const authorityKeyIdentifier = (keyId: Uint8Array): Buffer => extension(EXTENSION.authorityKeyIdentifier, false, sequence(implicit(0, keyId)))

export type AltName = {type: 'dns' | 'uri'; value: string} | {type: 'ip'; value: string}

/** subjectAltName: dNSName [2], uniformResourceIdentifier [6] (IA5String), iPAddress [7] (4 or 16 bytes). */
export function subjectAltName(names: AltName[]): Buffer {
  return extension(EXTENSION.subjectAltName, false, sequence(...names.map((n) => {
    if (n.type === 'ip') return implicit(7, ipBytes(n.value))
    return implicit(n.type === 'dns' ? 2 : 6, Buffer.from(n.value, 'latin1')) // IA5String content (ASCII, checked in names.ts)
  })))
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value (without the unused-bits byte). */
export function keyIdentifier(spki: Uint8Array): Buffer {
  const [, key] = childrenOf(expectUniversal(readTlv(spki), Tag.sequence, 'SubjectPublicKeyInfo'))
  return createHash('sha1').update(expectUniversal(key, Tag.bitString, 'subjectPublicKey').value.subarray(1)).digest()
}

/** The 4 or 16 bytes of an IP address (IPv6 in any form URL parsing takes, embedded IPv4 included). */
export function ipBytes(address: string): Buffer {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    const parts = address.split('.').map(Number)
    if (parts.every((p) => p <= 255)) return Buffer.from(parts)
  } else {
    const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1) // hex groups only, one "::" at most
    const [head, tail] = canonical.includes('::') ? canonical.split('::') : [canonical, undefined]
    const groups = (s: string | undefined) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : [])
    const front = groups(head)
    const back = groups(tail)
    const all = tail === undefined ? front : [...front, ...Array.from({length: 8 - front.length - back.length}, () => 0), ...back]
    if (all.length === 8) return Buffer.from(all.flatMap((g) => [g >> 8, g & 0xff]))
  }
  throw inputError(`not an IP address: ${address}`)
}
