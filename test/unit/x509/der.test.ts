import {describe, expect, it} from 'vitest'

import {DerError, type Tlv, childrenOf, decodeOid, readTlv} from '../../../src/x509/der.js'
import {oidContent} from '../../helpers/pki/raw.js'

const bytes = (...b: number[]) => new Uint8Array(b)
const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const fill = (n: number, v = 0xab) => new Array<number>(n).fill(v)

/** Asserts `fn` throws a DerError whose message contains `message`. */
function expectDerError(fn: () => unknown, message: string): void {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(DerError)
  expect((thrown as Error).message).toContain(message)
}

const encodeOid = oidContent

describe('readTlv', () => {
  it('reads a short-form primitive TLV', () => {
    const tlv = readTlv(bytes(0x04, 0x02, 0xaa, 0xbb))
    expect(tlv).toMatchObject({tagClass: 0, constructed: false, tagNumber: 4, start: 0, end: 4})
    expect([...tlv.value]).toEqual([0xaa, 0xbb])
  })

  it('reads at an offset, with offsets relative to the buffer', () => {
    const buf = bytes(0xff, 0xff, 0x02, 0x01, 0x07, 0xee)
    const tlv = readTlv(buf, 2)
    expect(tlv).toMatchObject({tagNumber: 2, start: 2, end: 5})
    expect([...tlv.value]).toEqual([7])
  })

  it('decodes the class and constructed bits', () => {
    expect(readTlv(bytes(0xa3, 0x00))).toMatchObject({tagClass: 2, constructed: true, tagNumber: 3})
    expect(readTlv(bytes(0x86, 0x00))).toMatchObject({tagClass: 2, constructed: false, tagNumber: 6})
    expect(readTlv(bytes(0x61, 0x00))).toMatchObject({tagClass: 1, constructed: true, tagNumber: 1})
    expect(readTlv(bytes(0xc5, 0x00))).toMatchObject({tagClass: 3, constructed: false, tagNumber: 5})
    expect(readTlv(bytes(0x30, 0x00))).toMatchObject({tagClass: 0, constructed: true, tagNumber: 16})
  })

  it('reads long-form lengths of 1, 2 and 3 octets', () => {
    const one = readTlv(bytes(0x04, 0x81, 0x80, ...fill(0x80)))
    expect(one.value.length).toBe(0x80)
    expect(one.end).toBe(3 + 0x80)
    const two = readTlv(bytes(0x04, 0x82, 0x01, 0x2c, ...fill(300)))
    expect(two.value.length).toBe(300)
    expect(two.end).toBe(304)
    const three = readTlv(bytes(0x04, 0x83, 0x01, 0x00, 0x01, ...fill(65537)))
    expect(three.value.length).toBe(65537)
  })

  it('accepts a 4-octet length but reports truncation when the value is missing', () => {
    expectDerError(() => readTlv(bytes(0x04, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x00)), 'truncated')
  })

  it('rejects lengths of more than 4 octets', () => {
    expectDerError(() => readTlv(bytes(0x04, 0x85, 0, 0, 0, 0, 1, 0)), 'length too large')
    expectDerError(() => readTlv(bytes(0x04, 0xff, ...fill(127, 0))), 'length too large')
  })

  it('rejects the indefinite length form', () => {
    expectDerError(() => readTlv(bytes(0x30, 0x80, 0x04, 0x00, 0x00, 0x00)), 'indefinite length is not DER')
  })

  it('reports truncation at every point', () => {
    expectDerError(() => readTlv(bytes()), 'truncated')
    expectDerError(() => readTlv(bytes(0x04)), 'truncated') // no length
    expectDerError(() => readTlv(bytes(0x04, 0x82, 0x01)), 'truncated') // length octets cut
    expectDerError(() => readTlv(bytes(0x04, 0x03, 0x01, 0x02)), 'truncated') // value cut
    expectDerError(() => readTlv(bytes(0x1f)), 'truncated') // high tag number cut
    expectDerError(() => readTlv(bytes(0x1f, 0x81)), 'truncated') // continuation octet without end
    expectDerError(() => readTlv(bytes(0x04, 0x01, 0xaa), 3), 'truncated') // offset at the end
  })

  it('respects the limit even when the buffer goes on', () => {
    const buf = bytes(0x04, 0x03, 0x01, 0x02, 0x03)
    expect(readTlv(buf, 0, 5).end).toBe(5)
    expectDerError(() => readTlv(buf, 0, 4), 'truncated')
  })

  it('every strict prefix of a nested structure is truncated', () => {
    const full = hex('30 0c 02 01 05 30 07 06 03 55 04 03 05 00')
    expect(readTlv(full).end).toBe(full.length)
    for (let n = 0; n < full.length; n++) expectDerError(() => readTlv(full.subarray(0, n)), 'truncated')
  })

  it('reads high tag numbers', () => {
    expect(readTlv(bytes(0x1f, 0x1f, 0x00))).toMatchObject({tagClass: 0, tagNumber: 31, end: 3})
    expect(readTlv(bytes(0x9f, 0x81, 0x00, 0x01, 0x09))).toMatchObject({tagClass: 2, constructed: false, tagNumber: 128, end: 5})
    expect(readTlv(bytes(0xbf, 0x87, 0x68, 0x00))).toMatchObject({tagClass: 2, constructed: true, tagNumber: 1000})
    // 4 octets: 2^28 - 1, the largest the reader takes.
    expect(readTlv(bytes(0x1f, 0xff, 0xff, 0xff, 0x7f, 0x00)).tagNumber).toBe(2 ** 28 - 1)
  })

  it('rejects tag numbers of more than 4 octets', () => {
    expectDerError(() => readTlv(bytes(0x1f, 0x81, 0x80, 0x80, 0x80, 0x00, 0x00)), 'tag number too large')
  })

  it('DerError is an Error named DerError', () => {
    const error = new DerError('x')
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('DerError')
  })
})

describe('childrenOf', () => {
  it('lists the children with offsets relative to the parent value', () => {
    const parent = readTlv(hex('30 08 02 01 05 04 03 61 62 63'))
    const children = childrenOf(parent)
    expect(children.map((c) => [c.tagNumber, c.start, c.end])).toEqual([[2, 0, 3], [4, 3, 8]])
    expect(Buffer.from(children[1]!.value).toString()).toBe('abc')
  })

  it('returns no children for an empty constructed value', () => {
    expect(childrenOf(readTlv(bytes(0x31, 0x00)))).toEqual([])
  })

  it('refuses a primitive value', () => {
    expectDerError(() => childrenOf(readTlv(bytes(0x04, 0x02, 0x02, 0x00))), 'expected a constructed value')
  })

  it('refuses children that overrun the parent', () => {
    expectDerError(() => childrenOf(readTlv(hex('30 03 04 05 00'))), 'truncated')
  })

  it('refuses trailing bytes that are not a whole child', () => {
    expectDerError(() => childrenOf(readTlv(hex('30 03 05 00 00'))), 'truncated')
    expectDerError(() => childrenOf(readTlv(hex('30 04 05 00 04 02'))), 'truncated')
  })

  it('does not read past the parent even when the buffer continues', () => {
    const parent: Tlv = readTlv(hex('30 02 04 03 61 62 63'))
    expect(parent.end).toBe(4)
    expectDerError(() => childrenOf(parent), 'truncated')
  })
})

describe('decodeOid', () => {
  it.each([
    ['55 04 03', '2.5.4.3'],
    ['2a 86 48 86 f7 0d 01 01 0b', '1.2.840.113549.1.1.11'],
    ['88 37 03', '2.999.3'],
    ['55 1d 11', '2.5.29.17'],
    ['60 86 48 01 86 f8 42 01 01', '2.16.840.1.113730.1.1'],
    ['09 92 26 89 93 f2 2c 64 01 19', '0.9.2342.19200300.100.1.25'],
    ['00', '0.0'],
    ['27', '0.39'],
    ['28', '1.0'],
    ['4f', '1.39'],
    ['50', '2.0'],
    ['7f', '2.47'],
  ])('%s is %s', (h, dotted) => {
    expect(decodeOid(hex(h))).toBe(dotted)
  })

  it('round-trips random OIDs through an independent encoder', () => {
    let seed = 7
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
    }
    const rand = (n: number) => Math.floor(random() * n)
    for (let i = 0; i < 500; i++) {
      const first = rand(3)
      const arcs = [first, first < 2 ? rand(40) : rand(100_000), ...Array.from({length: rand(6)}, () => rand(2 ** (1 + rand(40))))]
      expect(decodeOid(encodeOid(arcs))).toBe(arcs.join('.'))
    }
  })

  it('rejects an empty OID', () => {
    expectDerError(() => decodeOid(bytes()), 'empty OID')
  })

  it('rejects an OID whose last arc is cut', () => {
    expectDerError(() => decodeOid(hex('55 04 83')), 'truncated OID')
    expectDerError(() => decodeOid(hex('88')), 'truncated OID')
  })

  it('rejects arcs too large for exact numbers', () => {
    expectDerError(() => decodeOid(hex('2a ff ff ff ff ff ff ff ff 7f')), 'OID arc too large')
  })
})
