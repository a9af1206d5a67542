import {Tag} from './der.js'
import type {RawName} from './raw-names.js'

const utf8 = new TextDecoder('utf-8', {fatal: true})
/**
 * Characters that would hide what a name really is on a terminal: controls, backslash, invisible
 * format characters (zero-width, bidi overrides, BOM) and line/paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\\\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/

/**
 * A user or certificate name for display and JSON. Names are raw bytes to Valkey; valid UTF-8 without
 * control characters is shown as is, anything else with every byte outside printable ASCII as \xNN and
 * backslash as \\ (so two different byte strings never display the same).
 */
export function displayBytes(bytes: Uint8Array): string {
  const text = decodeUtf8(bytes)
  if (text !== undefined && !UNSAFE.test(text)) return text
  let out = ''
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\'
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b)
    else out += `\\x${b.toString(16).padStart(2, '0')}`
  }
  return out
}

/** Text a server sent (an error reply, a setting, a host name), safe to print: controls and escapes shown as \xNN. */
export function displayText(text: string): string {
  return UNSAFE.test(text) ? displayBytes(Buffer.from(text, 'utf8')) : text
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** Decodes an ASN.1 string value for display; undefined when the bytes are not valid for the type. */
export function decodeAsnString(tag: number, bytes: Uint8Array): string | undefined {
  switch (tag) {
    case Tag.bmpString:
      if (bytes.length % 2) return undefined
      return codeUnits(Array.from({length: bytes.length / 2}, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!), String.fromCharCode)
    case Tag.universalString: {
      if (bytes.length % 4) return undefined
      const points = Array.from({length: bytes.length / 4}, (_, i) => ((bytes[4 * i]! << 24) | (bytes[4 * i + 1]! << 16) | (bytes[4 * i + 2]! << 8) | bytes[4 * i + 3]!) >>> 0)
      return points.every((p) => p <= 0x10ffff) ? codeUnits(points, String.fromCodePoint) : undefined
    }
    case Tag.t61String:
      return Buffer.from(bytes).toString('latin1') // what OpenSSL prints for T61
    case Tag.utf8String:
    case Tag.printableString:
    case Tag.ia5String:
    case 26: // VisibleString
      return decodeUtf8(bytes)
    default:
      return undefined
  }
}

/** Builds a string in chunks: spreading a huge array into one call overflows the stack. */
function codeUnits(values: number[], from: (...codes: number[]) => string): string {
  let out = ''
  for (let i = 0; i < values.length; i += 8192) out += from(...values.slice(i, i + 8192))
  return out
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
}

/** RFC 4514 string of a distinguished name: last RDN first, ',' between RDNs, '+' inside one. */
export function rfc4514(name: RawName): string {
  return name.toReversed().map(rdnText).join(',')
}

/** The same in DER order with ', ' between RDNs: how `certs gen` reports subjects (@peculiar/x509's form, which it used to print). */
export function nameInDerOrder(name: RawName): string {
  return name.map(rdnText).join(', ')
}

function rdnText(rdn: RawName[number]): string {
  return rdn.map((a) => `${SHORT_NAMES[a.oid] ?? a.oid}=${attributeValue(a.valueTag, a.value, a.valueDer)}`).join('+')
}

function attributeValue(tag: number, value: Uint8Array, valueDer: Uint8Array): string {
  const text = decodeAsnString(tag, value)
  if (text === undefined) return `#${Buffer.from(valueDer).toString('hex')}`
  return escapeRfc4514(text)
}

function escapeRfc4514(text: string): string {
  const chars = [...text]
  let out = ''
  for (const [i, ch] of chars.entries()) {
    const last = i === chars.length - 1
    if (ch === '\0') out += '\\00'
    else if ('"+,;<>\\'.includes(ch) || (i === 0 && (ch === '#' || ch === ' ')) || (last && ch === ' ')) out += `\\${ch}`
    // eslint-disable-next-line no-control-regex
    else if (/[\u0001-\u001f\u007f]/.test(ch)) out += `\\${ch.charCodeAt(0).toString(16).padStart(2, '0')}`
    else out += ch
  }
  return out
}

/** An iPAddress SAN's bytes as text: dotted IPv4, IPv6 in its shortest form (RFC 5952), anything else as #hex. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.')
  if (bytes.length === 16) {
    const groups = Array.from({length: 8}, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16))
    return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
  }
  return `#${Buffer.from(bytes).toString('hex')}` // address/mask pairs belong in name constraints, not here
}
