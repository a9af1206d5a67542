import {Tag} from './der.js'
import type {NameAttribute, RawName} from './raw-names.js'

/**
 * A distinguished name as an RFC 2253 string, byte for byte what `openssl x509 -noout -subject -nameopt
 * RFC2253` prints (OpenSSL 3's X509_NAME_print_ex with XN_FLAG_RFC2253, crypto/x509/x_name.c and
 * crypto/asn1/a_strex.c), checked against it in test/unit/x509/rfc2253.test.ts:
 * - every attribute in reverse DER order, the attributes inside a multi-valued RDN too, with `+` between
 *   the attributes of one RDN and `,` between RDNs, no spaces;
 * - attribute types by OpenSSL's short name (`CN`, `emailAddress`, `serialNumber`, `DC`, ...); a type
 *   OpenSSL has no name for as its dotted OID, its value as `#` and the value's DER in upper-case hex;
 * - string values read per ASN.1 type as OpenSSL does (PrintableString, IA5String, T61String and the other
 *   one-byte types byte by byte as Latin-1, BMPString as UCS-2, UTF8String as UTF-8), written as UTF-8,
 *   then escaped: `,+"\<>;` with a backslash, a leading `#` or space and a trailing space with a backslash,
 *   control characters (00-1F, 7F) and every byte above 7F as `\XX` (so the string is plain ASCII);
 *   `=` is not escaped;
 * - a value of any other type as `#` and its DER; so is invalid UTF-8 in a UTF8String (OpenSSL refuses to
 *   load such a certificate at all).
 * OpenSSL quirk kept: the last character is checked only against the trailing-space rule, so a value
 * that is exactly `#` is printed unescaped.
 * Not followed: a UniversalString character beyond U+FFFF (OpenSSL 3.0 prints a wrong character).
 */
export function rfc2253(name: RawName): string {
  let out = ''
  let previousRdn = -1
  for (let r = name.length - 1; r >= 0; r--) {
    const rdn = name[r]!
    for (let a = rdn.length - 1; a >= 0; a--) {
      if (previousRdn !== -1) out += previousRdn === r ? '+' : ','
      out += attribute(rdn[a]!)
      previousRdn = r
    }
  }
  return out
}

/** OpenSSL's short names (obj_dat.h) of the attribute types certificates use; others print as OIDs. */
const OPENSSL_SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.13': 'description',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.18': 'postOfficeBox',
  '2.5.4.41': 'name',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.45': 'x500UniqueIdentifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.51': 'houseIdentifier',
  '2.5.4.54': 'dmdName',
  '2.5.4.65': 'pseudonym',
  '2.5.4.72': 'role',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '1.2.840.113549.1.9.2': 'unstructuredName',
  '1.3.6.1.4.1.311.60.2.1.1': 'jurisdictionL',
  '1.3.6.1.4.1.311.60.2.1.2': 'jurisdictionST',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
}

/** Bytes per character of the string types OpenSSL prints (a_strex.c's tag2nbyte); 0 is UTF-8. */
const CHAR_WIDTH: Record<number, 0 | 1 | 2 | 4> = {
  [Tag.utf8String]: 0,
  18: 1, // NumericString
  [Tag.printableString]: 1,
  [Tag.t61String]: 1,
  [Tag.ia5String]: 1,
  [Tag.utcTime]: 1,
  [Tag.generalizedTime]: 1,
  26: 1, // VisibleString
  [Tag.universalString]: 4,
  [Tag.bmpString]: 2,
}

function attribute(a: NameAttribute): string {
  const type = OPENSSL_SHORT_NAMES[a.oid]
  if (type === undefined) return `${a.oid}=${hexDump(a.valueDer)}`
  const codePoints = a.valueTag >= 0 ? readCodePoints(CHAR_WIDTH[a.valueTag], a.value) : undefined
  return `${type}=${codePoints === undefined ? hexDump(a.valueDer) : escape(codePoints)}`
}

const hexDump = (der: Uint8Array): string => `#${Buffer.from(der).toString('hex').toUpperCase()}`

function readCodePoints(width: 0 | 1 | 2 | 4 | undefined, bytes: Uint8Array): number[] | undefined {
  if (width === undefined) return undefined
  if (width === 1) return [...bytes]
  if (width === 0) {
    try {
      return [...new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes)].map((ch) => ch.codePointAt(0)!)
    } catch {
      return undefined
    }
  }
  if (bytes.length % width !== 0) return undefined
  const points: number[] = []
  for (let i = 0; i < bytes.length; i += width) {
    let c = 0
    for (let j = 0; j < width; j++) c = c * 256 + bytes[i + j]!
    if (c > 0x10ffff) return undefined
    points.push(c)
  }
  return points
}

const BACKSLASH_ESCAPED = new Set([...',+"\\<>;'].map((ch) => ch.charCodeAt(0)))

function escape(codePoints: number[]): string {
  let out = ''
  for (const [i, c] of codePoints.entries()) {
    // OpenSSL decides first/last per character, and the last-character rule replaces the first's.
    const last = i === codePoints.length - 1
    const first = i === 0 && !last
    for (const byte of utf8Bytes(c)) {
      if (byte > 0x7f || byte < 0x20 || byte === 0x7f) out += `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`
      else if (BACKSLASH_ESCAPED.has(byte) || (byte === 0x20 && (first || last)) || (byte === 0x23 && first)) out += `\\${String.fromCharCode(byte)}`
      else out += String.fromCharCode(byte)
    }
  }
  return out
}

/** UTF-8 of one code point, surrogates included (as OpenSSL's UTF8_putc writes them). */
function utf8Bytes(c: number): number[] {
  if (c < 0x80) return [c]
  if (c < 0x800) return [0xc0 | (c >> 6), 0x80 | (c & 0x3f)]
  if (c < 0x10000) return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
  return [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
}
