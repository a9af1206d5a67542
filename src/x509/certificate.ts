/**
 * The rest of what `whoami` shows of a certificate, read from its DER like the names (raw-names.ts):
 * serial, validity, public key type, keyUsage, extendedKeyUsage and basicConstraints. Node's
 * X509Certificate (OpenSSL) decides whether a file is a certificate at all (pki/parse.ts); this reads the
 * fields as @peculiar/x509 did, without loading it (tens of milliseconds at every start). Strict: anything
 * malformed in what is read throws DerError.
 */
import {childrenOf, decodeOid, DerError, expectUniversal, isContext, readTlv, Tag, type Tlv} from './der.js'

export interface CertificateFields {
  /** Content bytes of the serialNumber INTEGER, as encoded. */
  serialNumber: Uint8Array
  notBefore: Date
  notAfter: Date
  /** The SubjectPublicKeyInfo, whole. */
  spki: Uint8Array
  /** keyUsage bits, bit 0 (digitalSignature) as 1, up to bit 8 (decipherOnly) as 256; undefined without the extension. */
  keyUsage: number | undefined
  /** extendedKeyUsage OIDs in order; undefined without the extension. */
  extendedKeyUsage: string[] | undefined
  /** basicConstraints; undefined without the extension. */
  basicConstraints: {ca: boolean; pathLength: number | undefined} | undefined
}

/** The extensions read here and written by pki/encode.ts, by OID. */
export const EXTENSION = {
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
} as const

/** The TBSCertificate's fields in order, with [0] version taken off; `within` is what their offsets count in. */
export function tbsFields(der: Uint8Array): {fields: Tlv[]; within: Uint8Array} {
  const certificate = expectUniversal(readTlv(der), Tag.sequence, 'Certificate SEQUENCE')
  const tbs = expectUniversal(childrenOf(certificate)[0], Tag.sequence, 'TBSCertificate')
  const fields = childrenOf(tbs)
  return {fields: fields[0] && isContext(fields[0], 0) ? fields.slice(1) : fields, within: tbs.value}
}

/** An extension as encoded: its OID, critical flag, the content of extnValue, and the whole Extension TLV. */
export interface RawExtension {
  oid: string
  critical: boolean
  value: Uint8Array
  der: Uint8Array
}

/** Every extension, in certificate order. */
export function rawExtensionsOf(fields: Tlv[]): RawExtension[] {
  const out: RawExtension[] = []
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then [1] [2] unique IDs and [3] extensions.
  for (const field of fields.slice(6)) {
    if (!isContext(field, 3)) continue
    const list = expectUniversal(childrenOf(field)[0], Tag.sequence, 'Extensions')
    for (const extension of childrenOf(list)) {
      const parts = childrenOf(expectUniversal(extension, Tag.sequence, 'Extension'))
      const oid = decodeOid(expectUniversal(parts[0], Tag.oid, 'extension OID').value)
      // OpenSSL has already refused a malformed Extension (pki/read-certificates.ts): read leniently.
      const flag = parts.length === 3 && parts[1]!.tagClass === 0 && parts[1]!.tagNumber === Tag.boolean ? parts[1]!.value : undefined
      const value = expectUniversal(parts.at(-1), Tag.octetString, 'extension value').value
      out.push({oid, critical: flag?.[0] !== undefined && flag[0] !== 0, value, der: list.value.subarray(extension.start, extension.end)})
    }
  }
  return out
}

/** The DER of the TBSCertificate's issuer and subject Names and its SubjectPublicKeyInfo, byte for byte. */
export function tbsParts(der: Uint8Array): {issuer: Uint8Array; subject: Uint8Array; spki: Uint8Array; fields: Tlv[]} {
  const {fields, within} = tbsFields(der)
  const bytes = (tlv: Tlv | undefined, what: string) => {
    const it = expectUniversal(tlv, Tag.sequence, what)
    return within.subarray(it.start, it.end)
  }
  return {issuer: bytes(fields[2], 'issuer Name'), subject: bytes(fields[4], 'subject Name'), spki: bytes(fields[5], 'SubjectPublicKeyInfo'), fields}
}

/** Reads the fields above from a DER certificate. Throws DerError when malformed. */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  const {fields, within} = tbsFields(der)
  const serial = expectUniversal(fields[0], Tag.integer, 'serialNumber')
  const validity = childrenOf(expectUniversal(fields[3], Tag.sequence, 'Validity'))
  const spki = expectUniversal(fields[5], Tag.sequence, 'SubjectPublicKeyInfo')
  const extensions = rawExtensionsOf(fields)
  // The first of a repeated extension, as @peculiar/x509's getExtension found it.
  const first = (oid: string) => extensions.find((e) => e.oid === oid)?.value
  const ku = first(EXTENSION.keyUsage)
  const eku = first(EXTENSION.extendedKeyUsage)
  const bc = first(EXTENSION.basicConstraints)
  return {
    serialNumber: serial.value,
    notBefore: readTime(validity[0], 'notBefore'),
    notAfter: readTime(validity[1], 'notAfter'),
    spki: within.subarray(spki.start, spki.end),
    keyUsage: ku === undefined ? undefined : readKeyUsage(ku),
    extendedKeyUsage: eku === undefined ? undefined : readExtendedKeyUsage(eku),
    basicConstraints: bc === undefined ? undefined : readBasicConstraints(bc),
  }
}

/**
 * UTCTime YYMMDDHHMMSSZ (years 50-99 are 19xx) or GeneralizedTime YYYYMMDDHHMMSSZ: the only forms RFC 5280
 * allows in a certificate, and the forms the ASN.1 library of @peculiar/x509 read.
 */
export function readTime(tlv: Tlv | undefined, what: string): Date {
  if (!tlv || tlv.tagClass !== 0 || (tlv.tagNumber !== Tag.utcTime && tlv.tagNumber !== Tag.generalizedTime)) throw new DerError(`expected ${what} time`)
  const text = Buffer.from(tlv.value).toString('latin1')
  const match = tlv.tagNumber === Tag.utcTime ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (!match) throw new DerError(`${what}: unsupported time ${JSON.stringify(text)}`)
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number]
  const fullYear = tlv.tagNumber === Tag.utcTime ? (year >= 50 ? 1900 + year : 2000 + year) : year
  const date = new Date(Date.UTC(fullYear, month - 1, day, hour, minute, second))
  if (fullYear < 100) date.setUTCFullYear(fullYear) // Date.UTC reads 0-99 as 1900-1999
  return date
}

/** keyUsage BIT STRING: bit n (ASN.1 order, first bit = the high bit of the first byte) becomes 1 << n; unused bits ignored. */
export function readKeyUsage(value: Uint8Array): number {
  const bits = expectUniversal(readTlv(value), Tag.bitString, 'keyUsage BIT STRING').value
  if (bits.length === 0) throw new DerError('empty BIT STRING')
  const unused = bits[0]!
  if (unused > 7 || (bits.length === 1 && unused !== 0)) throw new DerError('malformed BIT STRING')
  const count = (bits.length - 1) * 8 - unused
  let flags = 0
  for (let n = 0; n < Math.min(count, 9); n++) if (bits[1 + (n >> 3)]! & (0x80 >> (n & 7))) flags |= 1 << n
  return flags
}

/** extendedKeyUsage: SEQUENCE OF KeyPurposeId. */
export function readExtendedKeyUsage(value: Uint8Array): string[] {
  return childrenOf(expectUniversal(readTlv(value), Tag.sequence, 'ExtendedKeyUsage')).map((oid) => decodeOid(expectUniversal(oid, Tag.oid, 'KeyPurposeId').value))
}

/** basicConstraints: SEQUENCE {cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL}. */
export function readBasicConstraints(value: Uint8Array): {ca: boolean; pathLength: number | undefined} {
  const parts = childrenOf(expectUniversal(readTlv(value), Tag.sequence, 'BasicConstraints'))
  let i = 0
  let ca = false
  if (parts[i]?.tagClass === 0 && parts[i]!.tagNumber === Tag.boolean) {
    const b = parts[i++]!.value
    if (b.length !== 1) throw new DerError('malformed BOOLEAN')
    ca = b[0] !== 0
  }
  let pathLength: number | undefined
  if (parts[i]) {
    const n = expectUniversal(parts[i++], Tag.integer, 'pathLenConstraint').value
    if (n.length === 0 || n.length > 6 || n[0]! & 0x80) throw new DerError('malformed pathLenConstraint')
    pathLength = n.reduce((acc, b) => acc * 256 + b, 0)
  }
  if (parts[i]) throw new DerError('malformed BasicConstraints')
  return {ca, pathLength}
}

const EC_CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.10': 'K-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  ...Object.fromEntries(['P160r1', 'P160t1', 'P192r1', 'P192t1', 'P224r1', 'P224t1', 'P256r1', 'P256t1', 'P320r1', 'P320t1', 'P384r1', 'P384t1', 'P512r1', 'P512t1']
    .map((curve, i) => [`1.3.36.3.3.2.8.1.1.${i + 1}`, `brainpool${curve}`])),
}

/** Key algorithms by OID, under the names @peculiar/x509 gives them (WebCrypto's where there is one). */
const KEY_NAMES: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'RSA', '1.2.840.113549.1.1.11': 'RSA', '1.2.840.113549.1.1.12': 'RSA', '1.2.840.113549.1.1.13': 'RSA', '1.2.840.113549.1.1.10': 'RSA',
  '1.2.840.10045.4.1': 'EC (unknown curve)', '1.2.840.10045.4.3.2': 'EC (unknown curve)', '1.2.840.10045.4.3.3': 'EC (unknown curve)', '1.2.840.10045.4.3.4': 'EC (unknown curve)',
  '1.3.101.112': 'Ed25519', '1.3.101.113': 'EdDSA', '1.3.101.110': 'X25519', '1.3.101.111': 'ECDH-ES',
  '1.3.14.3.2.26': 'SHA-1', '2.16.840.1.101.3.4.2.1': 'SHA-256', '2.16.840.1.101.3.4.2.2': 'SHA-384', '2.16.840.1.101.3.4.2.3': 'SHA-512',
  ...Object.fromEntries(['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87', 'SLH-DSA-SHA2-128s', 'SLH-DSA-SHA2-128f', 'SLH-DSA-SHA2-192s', 'SLH-DSA-SHA2-192f', 'SLH-DSA-SHA2-256s',
    'SLH-DSA-SHA2-256f', 'SLH-DSA-SHAKE-128s', 'SLH-DSA-SHAKE-128f', 'SLH-DSA-SHAKE-192s', 'SLH-DSA-SHAKE-192f', 'SLH-DSA-SHAKE-256s', 'SLH-DSA-SHAKE-256f']
    .map((name, i) => [`2.16.840.1.101.3.4.3.${17 + i}`, name])),
}

/** "EC P-256", "RSA 2048", "Ed25519", ...; the algorithm's OID when it has no name. */
export function keyTypeOf(spki: Uint8Array): string {
  const [algorithm, key] = childrenOf(expectUniversal(readTlv(spki), Tag.sequence, 'SubjectPublicKeyInfo'))
  const [oidTlv, parameters] = childrenOf(expectUniversal(algorithm, Tag.sequence, 'AlgorithmIdentifier'))
  const oid = decodeOid(expectUniversal(oidTlv, Tag.oid, 'algorithm OID').value)
  if (oid === '1.2.840.113549.1.1.1') { // rsaEncryption: the modulus's size, as @peculiar/x509 counts it
    const bits = expectUniversal(key, Tag.bitString, 'subjectPublicKey').value
    const [modulus] = childrenOf(expectUniversal(readTlv(bits.subarray(1)), Tag.sequence, 'RSAPublicKey'))
    const bytes = expectUniversal(modulus, Tag.integer, 'modulus').value
    const length = (bytes[0] ? bytes.length : Math.max(0, bytes.length - 1)) * 8
    return length ? `RSA ${length}` : 'RSA'
  }
  if (oid === '1.2.840.10045.2.1') { // id-ecPublicKey: a named curve, or (explicit parameters) no name
    if (!parameters) throw new DerError('Cannot get required parameters from EC algorithm')
    if (parameters.tagClass === 0 && parameters.tagNumber === Tag.oid) {
      const curve = EC_CURVES[decodeOid(parameters.value)]
      return curve ? `EC ${curve}` : oid
    }
    // ECParameters' other choices: implicitCurve NULL, specifiedCurve SEQUENCE (explicit parameters, unnamed).
    const isNull = parameters.tagClass === 0 && parameters.tagNumber === 5 && !parameters.constructed && parameters.value.length === 0
    if (!isNull) childrenOf(expectUniversal(parameters, Tag.sequence, 'ECParameters')) // well-formed, at least
    return oid
  }
  return KEY_NAMES[oid] ?? oid
}
