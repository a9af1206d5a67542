import {EXTENSION} from './certificate.js'
import {DerError, Tag, type Tlv, childrenOf, decodeOid, expectUniversal, isContext, readTlv} from './der.js'

/** One attribute of a distinguished name, with its value's raw content bytes and ASN.1 string type. */
export interface NameAttribute {
  oid: string
  /** Universal tag number of the value (12 UTF8String, 19 PrintableString, 20 T61String, 30 BMPString, ...). */
  valueTag: number
  /** Content bytes of the value, exactly as encoded. */
  value: Uint8Array
  /** The whole value TLV (for RFC 4514's #hex form of non-string values). */
  valueDer: Uint8Array
}

/** A distinguished name as encoded: RDNs in DER order, attributes in the order of their SET. */
export type RawName = NameAttribute[][]

export type RawGeneralName =
  | {type: 'uri' | 'email' | 'dns'; value: Uint8Array}
  | {type: 'ip'; value: Uint8Array}
  | {type: 'other'; tagNumber: number}

/** The parts of a certificate whose exact bytes decide the ACL user. */
export interface RawCertificateNames {
  subject: RawName
  issuer: RawName
  /** subjectAltName entries in certificate order; empty without the extension. */
  subjectAltNames: RawGeneralName[]
  /** First byte of the obsolete Netscape cert type bit string (0x80 = SSL client), when present. */
  netscapeCertType: number | undefined
  /** The authorityKeyIdentifier's keyIdentifier: which CA key signed it (two CAs may share a name, not a key). */
  authorityKeyId: Uint8Array | undefined
  /** Whether the authorityKeyIdentifier also names the issuer's issuer and serial (OpenSSL's `issuer:always`). */
  authorityCertIssuer: boolean
  /** The subjectKeyIdentifier: this certificate's own key, as what it signs names it. */
  subjectKeyId: Uint8Array | undefined
}

export const OID = {
  commonName: '2.5.4.3',
  subjectAltName: EXTENSION.subjectAltName,
  netscapeCertType: '2.16.840.1.113730.1.1',
  authorityKeyIdentifier: EXTENSION.authorityKeyIdentifier,
  subjectKeyIdentifier: EXTENSION.subjectKeyIdentifier,
} as const

/** Reads subject, issuer and subjectAltName from a DER certificate. Throws DerError when malformed. */
export function readRawNames(der: Uint8Array): RawCertificateNames {
  const certificate = expectUniversal(readTlv(der), Tag.sequence, 'Certificate SEQUENCE')
  const tbs = childrenOf(expectUniversal(childrenOf(certificate)[0], Tag.sequence, 'TBSCertificate'))
  // version [0] EXPLICIT is optional; serial, signature, issuer, validity, subject, spki follow.
  let i = tbs[0] && isContext(tbs[0], 0) ? 1 : 0
  i += 2 // serialNumber, signature
  const issuer = readName(tbs[i++])
  i++ // validity
  const subject = readName(tbs[i++])
  i++ // subjectPublicKeyInfo
  let subjectAltNames: RawGeneralName[] = []
  let netscapeCertType: number | undefined
  let authorityKeyId: Uint8Array | undefined
  let authorityCertIssuer = false
  let subjectKeyId: Uint8Array | undefined
  for (const field of tbs.slice(i)) {
    if (!isContext(field, 3)) continue // [1] issuerUniqueID, [2] subjectUniqueID
    const extensions = childrenOf(expectUniversal(childrenOf(field)[0], Tag.sequence, 'Extensions'))
    for (const extension of extensions) {
      const parts = childrenOf(expectUniversal(extension, Tag.sequence, 'Extension'))
      const oid = decodeOid(expectUniversal(parts[0], Tag.oid, 'extension OID').value)
      if (oid !== OID.subjectAltName && oid !== OID.netscapeCertType && oid !== OID.authorityKeyIdentifier && oid !== OID.subjectKeyIdentifier) continue
      const octets = expectUniversal(parts.at(-1), Tag.octetString, 'extension value')
      if (oid === OID.subjectAltName) subjectAltNames = readGeneralNames(octets.value)
      else if (oid === OID.netscapeCertType) netscapeCertType = expectUniversal(readTlv(octets.value), Tag.bitString, 'Netscape cert type').value[1] ?? 0
      else if (oid === OID.subjectKeyIdentifier) subjectKeyId = keyIdentifierOf(octets.value)
      else {
        const parts = childrenOf(expectUniversal(readTlv(octets.value), Tag.sequence, 'authorityKeyIdentifier'))
        authorityKeyId = parts.find((part) => isContext(part, 0))?.value
        authorityCertIssuer = parts.some((part) => isContext(part, 1) || isContext(part, 2))
      }
    }
  }
  return {subject, issuer, subjectAltNames, netscapeCertType, authorityKeyId, authorityCertIssuer, subjectKeyId}
}

/** A subjectKeyIdentifier's OCTET STRING; undefined when malformed (only `check` uses it, to tell CAs apart). */
function keyIdentifierOf(value: Uint8Array): Uint8Array | undefined {
  try {
    const tlv = readTlv(value)
    return tlv.tagClass === 0 && tlv.tagNumber === Tag.octetString && !tlv.constructed && tlv.end === value.length ? tlv.value : undefined
  } catch {
    return undefined
  }
}

function readName(tlv: Tlv | undefined): RawName {
  const name = expectUniversal(tlv, Tag.sequence, 'Name')
  return childrenOf(name).map((rdn) => {
    const attributes = childrenOf(expectUniversal(rdn, Tag.set, 'RelativeDistinguishedName'))
    if (attributes.length === 0) throw new DerError('empty RelativeDistinguishedName')
    return attributes.map((attribute) => {
      const [type, value, ...rest] = childrenOf(expectUniversal(attribute, Tag.sequence, 'AttributeTypeAndValue'))
      if (!value || rest.length > 0) throw new DerError('malformed AttributeTypeAndValue')
      const oid = decodeOid(expectUniversal(type, Tag.oid, 'attribute type').value)
      // value.start/end are offsets inside the attribute's content.
      return {oid, valueTag: value.tagClass === 0 ? value.tagNumber : -1, value: value.value, valueDer: attribute.value.subarray(value.start, value.end)}
    })
  })
}

function readGeneralNames(der: Uint8Array): RawGeneralName[] {
  const names = expectUniversal(readTlv(der), Tag.sequence, 'GeneralNames')
  return childrenOf(names).map((name): RawGeneralName => {
    if (name.tagClass !== 2) throw new DerError('malformed GeneralName')
    switch (name.tagNumber) {
      case 1: return {type: 'email', value: name.value}
      case 2: return {type: 'dns', value: name.value}
      case 6: return {type: 'uri', value: name.value}
      case 7: return {type: 'ip', value: name.value}
      default: return {type: 'other', tagNumber: name.tagNumber}
    }
  })
}

/** Content bytes of the FIRST commonName in DER order (what Valkey 9.1 uses), or undefined. */
export function firstCommonName(subject: RawName): Uint8Array | undefined {
  for (const rdn of subject) {
    for (const attribute of rdn) if (attribute.oid === OID.commonName) return attribute.value
  }
  return undefined
}

export function isStringTag(tag: number): boolean {
  return [Tag.utf8String, Tag.printableString, Tag.t61String, Tag.ia5String, Tag.universalString, Tag.bmpString, 26 /* VisibleString */].includes(tag as never)
}
