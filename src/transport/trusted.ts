import {type KeyObject, verify, X509Certificate} from 'node:crypto'

import {derFingerprint256} from '../pki/fingerprint.js'
import {splitPem} from '../pki/pem.js'
import {readCertificateFields} from '../x509/certificate.js'
import {childrenOf, decodeOid, expectUniversal, readTlv, Tag} from '../x509/der.js'
import {type RawName, readRawNames} from '../x509/raw-names.js'
import {decodeAsnString, rfc4514} from '../x509/text.js'

/** What `check` reports of a certificate's names: RFC 4514 subject and issuer (read from the DER as `whoami` does), key identifiers. */
export interface CertificateNames {
  subject: string
  issuer: string
  /** Subject and issuer as OpenSSL compares names (canonicalName): the keys a bundle's CAs are found by. */
  subjectKey: string | undefined
  issuerKey: string | undefined
  /** Hex with colons, as OpenSSL prints it. */
  authorityKeyId: string | null
  subjectKeyId: string | null
  /** The authorityKeyIdentifier names the issuer's own issuer and serial too (OpenSSL's `issuer:always`). */
  authorityCertIssuer: boolean
}

/** A CA certificate of a trust bundle (--cacert, --cacertdir), read once a run. */
export interface TrustedCa {
  raw: Buffer
  fingerprint256: string
  names: CertificateNames
}

/** keyUsage's keyCertSign bit (bit 5), as readCertificateFields numbers them. */
const KEY_CERT_SIGN = 1 << 5

const HEX = Array.from({length: 256}, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'))
const keyId = (id: Uint8Array | undefined) => (id ? Array.from(id, (b) => HEX[b]).join(':') : null)

/** Subject, issuer and key identifiers of a DER certificate; undefined when it cannot be read. */
export function readNames(der: Uint8Array | undefined): CertificateNames | undefined {
  if (!der) return undefined
  try {
    const raw = readRawNames(der)
    return {
      subject: rfc4514(raw.subject), issuer: rfc4514(raw.issuer), subjectKey: canonicalName(raw.subject), issuerKey: canonicalName(raw.issuer),
      authorityKeyId: keyId(raw.authorityKeyId), subjectKeyId: keyId(raw.subjectKeyId), authorityCertIssuer: raw.authorityCertIssuer,
    }
  } catch {
    return undefined
  }
}

/** A bundle's CA, with what OpenSSL would weigh before taking it as an issuer, read when first needed. */
interface Entry extends TrustedCa {
  parsed?: {key: KeyObject; issuer: boolean; validFrom: number; validTo: number} | null
  selfSigned?: boolean
  /** Its own issuer in the bundle (null: none certain). */
  above?: Entry | null
}

/**
 * The same bundle Buffer comes with every handshake of a run: read once, its CAs by name as OpenSSL compares names
 * (canonicalName). Null for a bundle whose choice of issuer cannot be read from names, keys and
 * signatures alone: one holding TRUSTED CERTIFICATE blocks (trust settings, such as an intermediate trusted as an
 * anchor) or one this reader cannot split.
 */
const bundles = new WeakMap<Buffer, Map<string, Entry[]> | null>()

/** The string types OpenSSL compares as text (ASN1_MASK_CANON), by universal tag. */
const CANON_STRINGS = new Set([Tag.utf8String, Tag.printableString, Tag.t61String, Tag.ia5String, 26 /* VisibleString */, Tag.universalString, Tag.bmpString])

/**
 * A string value as OpenSSL turns it into text to compare (ASN1_STRING_to_UTF8): UTF8String as UTF-8, BMPString and
 * UniversalString as UCS-2 and UCS-4, and every other string type one byte a character.
 */
function canonText(tag: number, bytes: Uint8Array): string | undefined {
  return tag === Tag.utf8String || tag === Tag.bmpString || tag === Tag.universalString ? decodeAsnString(tag, bytes) : Buffer.from(bytes).toString('latin1')
}

/**
 * A name as OpenSSL compares two (x509_name_canon, used by X509_NAME_cmp and its issuer lookup): each attribute
 * value of a string type as text, without leading and trailing whitespace, inner runs of it as one space, ASCII
 * letters in lower case, whatever its string type; any other value as its DER; the attributes of a multi-valued RDN
 * in a fixed order.
 */
export function canonicalName(name: RawName): string | undefined {
  let readable = true
  const key = JSON.stringify(name.map((rdn) => rdn.map((a) => {
    const string = CANON_STRINGS.has(a.valueTag as never)
    const text = string ? canonText(a.valueTag, a.value) : undefined
    if (string && text === undefined) readable = false // not text OpenSSL can compare (invalid UTF-8): no key
    const value = text === undefined ? `#${Buffer.from(a.valueDer).toString('hex')}` : text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '').replace(/[ \t\n\v\f\r]+/g, ' ').replace(/[A-Z]/g, (c) => c.toLowerCase())
    return `${a.oid}=${value}`
  }).sort()))
  return readable ? key : undefined
}

function indexOf(bundle: Buffer): Map<string, Entry[]> | null {
  let index = bundles.get(bundle)
  if (index !== undefined) return index
  index = new Map()
  const text = bundle.toString('latin1')
  try {
    if (!readAsOpenSsl(text)) throw new Error('not every block as OpenSSL reads it')
    for (const block of splitPem(text, 'CA')) {
      if (block.label !== 'CERTIFICATE') {
        if (block.label.endsWith('CERTIFICATE')) index = null
        if (index === null) break
        continue
      }
      const names = readNames(block.der)
      // A CA this reader cannot read (or whose name OpenSSL cannot compare as text) could be the one OpenSSL took.
      if (!names?.subjectKey) throw new Error('a CA not read here')
      index.set(names.subjectKey, [...(index.get(names.subjectKey) ?? []), {raw: Buffer.from(block.der), fingerprint256: derFingerprint256(block.der), names}])
    }
  } catch {
    index = null
  }
  bundles.set(bundle, index)
  return index
}

/**
 * The trusted CA that a chain OpenSSL verified ends in, found from the leaf in the bundle it was verified with, the
 * way OpenSSL looks in its trust store first: issuer by issuer, the one CA of the bundle that could be it (onlyIssuer)
 * and whose key verifies the certificate's signature, up to a self-signed root. Undefined wherever that is not
 * certain, and then the caller reads the chain Node built: an issuer not in the bundle (an intermediate only the
 * server sends), two CAs that names and key identifiers do not tell apart, an authorityKeyIdentifier naming issuer
 * and serial, a signature algorithm not known here, a self-signed leaf, a bundle with trust settings (TRUSTED
 * CERTIFICATE) or that cannot be read.
 */
export function trustedRoot(leafDer: Uint8Array, leaf: CertificateNames, bundle: Buffer | undefined, now = Date.now()): TrustedCa | undefined {
  const index = bundle && indexOf(bundle)
  if (!index || leaf.subject === leaf.issuer) return undefined
  const issuerOf = (der: Uint8Array, names: CertificateNames) => {
    const ca = onlyIssuer(names, index, now)
    return ca && signedBy(der, ca.parsed!.key) ? ca : null
  }
  let issuer = issuerOf(leafDer, leaf)
  for (let depth = 0; issuer && depth < 10; depth++) {
    if (isSelfSigned(issuer)) return issuer
    issuer = issuer.above === undefined ? (issuer.above = issuerOf(issuer.raw, issuer.names)) : issuer.above // the same for every leaf of the run
  }
  return undefined
}

/**
 * The one CA of the bundle OpenSSL could take as the issuer of a certificate with these names, if there is exactly
 * one: of the CAs of that name, those whose key identifier does not contradict the one named (X509_check_issued);
 * it must then be an issuer (CA, keyCertSign where keyUsage is set) valid now.
 */
function onlyIssuer(names: CertificateNames, index: Map<string, Entry[]>, now: number): Entry | undefined {
  if (names.authorityCertIssuer || names.issuerKey === undefined) return undefined
  const candidates = (index.get(names.issuerKey) ?? [])
    .filter((ca) => names.authorityKeyId === null || ca.names.subjectKeyId === null || ca.names.subjectKeyId === names.authorityKeyId)
  if (candidates.length !== 1) return undefined
  const [ca] = candidates as [Entry]
  const parsed = parsedOf(ca)
  return ca.names.subject === names.issuer && parsed?.issuer && parsed.validFrom <= now && now <= parsed.validTo ? ca : undefined
}

/** What OpenSSL reads of a CA (its key, basicConstraints, dates), and its keyUsage; null when either cannot read it. */
function parsedOf(ca: Entry): Entry['parsed'] {
  if (ca.parsed === undefined) {
    try {
      const x509 = new X509Certificate(ca.raw)
      // Bytes OpenSSL reads as a certificate but that are not its DER (a length in a longer form, bytes after it):
      // the fingerprint OpenSSL and Node give it is not the file's, and the reading here may differ too.
      if (!x509.raw.equals(ca.raw)) throw new Error('not DER')
      const keyUsage = readCertificateFields(ca.raw).keyUsage
      ca.parsed = {key: x509.publicKey, issuer: x509.ca && (keyUsage === undefined || (keyUsage & KEY_CERT_SIGN) !== 0), validFrom: Date.parse(x509.validFrom), validTo: Date.parse(x509.validTo)}
    } catch {
      ca.parsed = null
    }
  }
  return ca.parsed
}

/**
 * Whether every PEM block of `text` is one OpenSSL's reader (and so Node's `ca`) takes as it is: BEGIN and END lines
 * at the start of a line, base64 lines with no blank line between them. OpenSSL skips a block otherwise, and Node
 * stops reading the bundle at it, where splitPem reads on.
 */
function readAsOpenSsl(text: string): boolean {
  const blocks = text.match(/-----BEGIN [^\n]*/g) ?? []
  const clean = text.match(/(?:^|\n)-----BEGIN ([A-Z0-9 ]+)-----\r?\n(?:[A-Za-z0-9+/=]+[ \t]*\r?\n)+-----END \1-----/g) ?? []
  return clean.length === blocks.length
}

/** Its own issuer, as OpenSSL tells: the same name, key identifiers that agree, and its own key verifies its signature. */
function isSelfSigned(ca: Entry): boolean {
  const {names} = ca
  ca.selfSigned ??= names.subject === names.issuer && !names.authorityCertIssuer
    && (names.authorityKeyId === null || names.subjectKeyId === null || names.authorityKeyId === names.subjectKeyId)
    && signedBy(ca.raw, parsedOf(ca)!.key)
  return ca.selfSigned
}

/** The signature algorithms of certificates whose check is one node:crypto verify: the digest to name (null: none). */
const SIGNATURES: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512', // ECDSA
  '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512', // RSA PKCS#1 v1.5
  '1.3.101.112': null, '1.3.101.113': null, // Ed25519, Ed448
}

/** Whether `key` verifies the signature of the DER certificate `der` (OpenSSL's verify, through node:crypto). */
function signedBy(der: Uint8Array, key: KeyObject): boolean {
  try {
    const certificate = expectUniversal(readTlv(der), Tag.sequence, 'Certificate')
    const [tbs, algorithm, signature] = childrenOf(certificate)
    const oid = decodeOid(expectUniversal(childrenOf(expectUniversal(algorithm, Tag.sequence, 'signatureAlgorithm'))[0], Tag.oid, 'algorithm').value)
    const bits = expectUniversal(signature, Tag.bitString, 'signature').value
    if (!(oid in SIGNATURES) || bits[0] !== 0) return false
    // Offsets of a child are within its parent's content.
    return verify(SIGNATURES[oid] ?? null, certificate.value.subarray(tbs!.start, tbs!.end), key, bits.subarray(1))
  } catch {
    return false
  }
}
