/**
 * A minimal, strict DER reader. Valkey compares certificate names as raw ASN.1 bytes, and
 * @peculiar/x509 hands back decoded strings, so the names that matter are read here from the DER
 * itself. Every read is bounds-checked; malformed input throws DerError, never anything else.
 */
export class DerError extends Error {
  override name = 'DerError'
}

export interface Tlv {
  /** The identifier octet's class bits (0 universal, 1 application, 2 context-specific, 3 private). */
  tagClass: number
  constructed: boolean
  tagNumber: number
  /** Offset of the identifier octet in the buffer. */
  start: number
  /** Offset just past the value. */
  end: number
  /** The value (content) bytes. */
  value: Uint8Array
}

export const Tag = {
  boolean: 1,
  integer: 2,
  bitString: 3,
  octetString: 4,
  oid: 6,
  utf8String: 12,
  sequence: 16,
  set: 17,
  printableString: 19,
  t61String: 20,
  ia5String: 22,
  utcTime: 23,
  generalizedTime: 24,
  universalString: 28,
  bmpString: 30,
} as const

const MAX_LENGTH_BYTES = 4

/** Reads one TLV at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset = 0, limit = buf.length): Tlv {
  let pos = offset
  const byte = (): number => {
    if (pos >= limit) throw new DerError('truncated')
    return buf[pos++]!
  }
  const id = byte()
  const tagClass = id >> 6
  const constructed = (id & 0x20) !== 0
  let tagNumber = id & 0x1f
  if (tagNumber === 0x1f) {
    tagNumber = 0
    for (let i = 0; ; i++) {
      if (i === 4) throw new DerError('tag number too large')
      const b = byte()
      tagNumber = tagNumber * 128 + (b & 0x7f)
      if ((b & 0x80) === 0) break
    }
  }
  const first = byte()
  let length = first
  if (first === 0x80) throw new DerError('indefinite length is not DER')
  if (first > 0x80) {
    const n = first & 0x7f
    if (n > MAX_LENGTH_BYTES) throw new DerError('length too large')
    length = 0
    for (let i = 0; i < n; i++) length = length * 256 + byte()
  }
  const valueStart = pos
  const end = valueStart + length
  if (end > limit) throw new DerError('truncated')
  return {tagClass, constructed, tagNumber, start: offset, end, value: buf.subarray(valueStart, end)}
}

/** The TLVs inside a constructed value, which must fill it exactly. */
export function childrenOf(tlv: Tlv): Tlv[] {
  if (!tlv.constructed) throw new DerError('expected a constructed value')
  const out: Tlv[] = []
  let offset = 0
  while (offset < tlv.value.length) {
    const child = readTlv(tlv.value, offset)
    out.push(child)
    offset = child.end
  }
  return out
}

export function isUniversal(tlv: Tlv, tagNumber: number): boolean {
  return tlv.tagClass === 0 && tlv.tagNumber === tagNumber
}

export function expectUniversal(tlv: Tlv | undefined, tagNumber: number, what: string): Tlv {
  if (!tlv || !isUniversal(tlv, tagNumber)) throw new DerError(`expected ${what}`)
  return tlv
}

export function isContext(tlv: Tlv, tagNumber: number): boolean {
  return tlv.tagClass === 2 && tlv.tagNumber === tagNumber
}

/** Dotted form of an OBJECT IDENTIFIER's content bytes. */
export function decodeOid(value: Uint8Array): string {
  if (value.length === 0) throw new DerError('empty OID')
  const arcs: number[] = []
  let arc = 0
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!
    arc = arc * 128 + (b & 0x7f)
    if (arc > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large')
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = arc < 80 ? Math.floor(arc / 40) : 2
        arcs.push(first, arc - first * 40)
      } else {
        arcs.push(arc)
      }
      arc = 0
    } else if (i === value.length - 1) {
      throw new DerError('truncated OID')
    }
  }
  return arcs.join('.')
}
