/**
 * The DER writer for the few shapes a certificate is made of (pki/encode.ts), the counterpart of der.ts.
 * Why not a library: @peculiar/x509 takes about 40 ms to load and asn1js about 8, of the 120 ms that
 * `certs gen` may take above a bare Node start (issue 11); what is written here is checked byte for byte
 * against @peculiar/x509's encoding and read back by OpenSSL in the tests.
 */
import {DerError, Tag} from './der.js'

const CONSTRUCTED = 0x20
const CONTEXT = 0x80

/** One TLV with a low tag number (< 31, all that a certificate uses): identifier, DER length, contents. */
export function tlv(identifier: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents)
  const n = body.length
  let length: number[]
  if (n < 0x80) length = [n]
  else {
    length = []
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) length.unshift(rest % 256)
    length.unshift(0x80 | length.length)
  }
  return Buffer.concat([Buffer.from([identifier, ...length]), body])
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(CONSTRUCTED | Tag.sequence, ...items)
export const set = (...items: Uint8Array[]): Buffer => tlv(CONSTRUCTED | Tag.set, ...items)
/** [n] EXPLICIT: the context tag around a whole TLV. */
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(CONTEXT | CONSTRUCTED | n, inner)
/** [n] IMPLICIT of a primitive type: the context tag instead of the type's own. */
export const implicit = (n: number, contents: Uint8Array): Buffer => tlv(CONTEXT | n, contents)
export const boolean = (value: boolean): Buffer => tlv(Tag.boolean, Buffer.from([value ? 0xff : 0]))
export const octetString = (bytes: Uint8Array): Buffer => tlv(Tag.octetString, bytes)

/** A non-negative INTEGER from its big-endian magnitude: minimal, with a 00 only where the high bit is set. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const bytes = magnitude.subarray(start)
  return tlv(Tag.integer, bytes.length === 0 || bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
}

export const smallInteger = (n: number): Buffer => unsignedInteger(Buffer.from([n]))

/** A BIT STRING of whole bytes (keys, signatures): no unused bits. */
export const bitString = (bytes: Uint8Array): Buffer => tlv(Tag.bitString, Buffer.from([0]), bytes)

/**
 * A named-bit BIT STRING (keyUsage) from bit numbers: DER drops trailing zero bits, and says in the first
 * byte how many bits of the last byte are unused.
 */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return tlv(Tag.bitString, Buffer.from([0]))
  const highest = Math.max(...bits)
  const bytes = Buffer.alloc((highest >> 3) + 1)
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7)
  return tlv(Tag.bitString, Buffer.from([7 - (highest & 7)]), bytes)
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number)
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0) || arcs[0]! > 2 || (arcs[0]! < 2 && arcs[1]! > 39)) throw new DerError(`bad OID ${dotted}`)
  const out: number[] = []
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const groups = [arc % 128]
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) groups.unshift(0x80 | (rest % 128))
    out.push(...groups)
  }
  return tlv(Tag.oid, Buffer.from(out))
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, in UTC, with Z. */
export function time(date: Date): Buffer {
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '')
  const year = date.getUTCFullYear()
  if (year < 1950 || year > 9999) throw new DerError(`date out of range: ${iso}`)
  return year < 2050 ? tlv(Tag.utcTime, Buffer.from(`${digits.slice(2)}Z`, 'latin1')) : tlv(Tag.generalizedTime, Buffer.from(`${digits}Z`, 'latin1'))
}

/** PrintableString where every character allows it, UTF8String otherwise (as @peculiar/x509 chose). */
export function directoryString(text: string): Buffer {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text) ? tlv(Tag.printableString, Buffer.from(text, 'latin1')) : tlv(Tag.utf8String, Buffer.from(text, 'utf8'))
}
