import {describe, expect, it} from 'vitest'

import type {NameAttribute, RawName} from '../../../src/x509/raw-names.js'
import {decodeAsnString, displayBytes, rfc4514} from '../../../src/x509/text.js'
import {seededRandom} from '../../helpers/random.js'

const b = (...bytes: number[]) => new Uint8Array(bytes)
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'))

/** The inverse of displayBytes, written from its documented contract: no backslash means UTF-8 text. */
function undisplay(shown: string): Uint8Array {
  if (!shown.includes('\\')) return utf8(shown)
  const out: number[] = []
  for (let i = 0; i < shown.length; i++) {
    const ch = shown[i]!
    if (ch !== '\\') {
      expect(ch.charCodeAt(0)).toBeGreaterThanOrEqual(0x20)
      expect(ch.charCodeAt(0)).toBeLessThan(0x7f)
      out.push(ch.charCodeAt(0))
    } else if (shown[i + 1] === '\\') {
      out.push(0x5c)
      i++
    } else {
      expect(shown.slice(i + 1, i + 2)).toBe('x')
      const hex = shown.slice(i + 2, i + 4)
      expect(hex).toMatch(/^[0-9a-f]{2}$/)
      out.push(parseInt(hex, 16))
      i += 3
    }
  }
  return new Uint8Array(out)
}

describe('displayBytes', () => {
  it.each([
    ['alice', 'alice'],
    ['ünï', 'ünï'],
    ['Ωmega 😀', 'Ωmega 😀'],
    ['', ''],
    ['a,b+c=d', 'a,b+c=d'],
  ])('shows valid UTF-8 %j as is', (input, shown) => {
    expect(displayBytes(utf8(input))).toBe(shown)
  })

  it.each([
    [b(0xfc, 0x6e, 0xef), '\\xfcn\\xef'], // T61 Latin-1, not UTF-8
    [b(0xff, 0xfe), '\\xff\\xfe'],
    [utf8('ali\0ce'), 'ali\\x00ce'],
    [utf8('a\tb\nc'), 'a\\x09b\\x0ac'],
    [b(0x61, 0x7f), 'a\\x7f'],
    [utf8('a\u0085b'), 'a\\xc2\\x85b'], // a C1 control: valid UTF-8, still escaped byte by byte
    [utf8('é\0'), '\\xc3\\xa9\\x00'], // once escaping, every non-ASCII byte is escaped
    [utf8('a\\b'), 'a\\\\b'],
    [utf8('\\x00'), '\\\\x00'], // looks like an escape, is not
  ])('escapes %j as %j', (input, shown) => {
    expect(displayBytes(input)).toBe(shown)
  })

  it('never shows two different byte strings the same, and never shows control characters', () => {
    const random = seededRandom(4514)
    // Mostly bytes that interact with the escaping: backslash, 'x', hex digits, NUL, UTF-8 lead/continuation bytes.
    const tricky = [0x5c, 0x78, 0x30, 0x61, 0x66, 0x00, 0x0a, 0x20, 0x7f, 0xc3, 0xa9, 0x80, 0xc2, 0x85, 0xe2, 0x82, 0xac, 0xff]
    const seen = new Map<string, string>()
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(random() * 7)
      const bytes = new Uint8Array(Array.from({length}, () => (random() < 0.8 ? tricky[Math.floor(random() * tricky.length)]! : Math.floor(random() * 256))))
      const hex = Buffer.from(bytes).toString('hex')
      const shown = displayBytes(bytes)
      const previous = seen.get(shown)
      if (previous !== undefined && previous !== hex) expect.fail(`${previous} and ${hex} both display as ${JSON.stringify(shown)}`)
      seen.set(shown, hex)
      expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
      if (i < 3000) expect(Buffer.from(undisplay(shown)).toString('hex')).toBe(hex)
    }
    expect(seen.size).toBeGreaterThan(5000) // the loop really explored many distinct strings
  })

  it('round-trips long random byte strings', () => {
    const random = seededRandom(99)
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(Array.from({length: 1 + Math.floor(random() * 64)}, () => Math.floor(random() * 256)))
      expect(Buffer.from(undisplay(displayBytes(bytes))).toString('hex')).toBe(Buffer.from(bytes).toString('hex'))
    }
  })
})

describe('displayBytes and invisible characters', () => {
  it('escapes bidi overrides, zero-width characters and line separators, which would disguise a name', () => {
    expect(displayBytes(Buffer.from('admin\u202Egnp.exe'))).toBe('admin\\xe2\\x80\\xaegnp.exe')
    expect(displayBytes(Buffer.from('al\u200Bice'))).toBe('al\\xe2\\x80\\x8bice')
    expect(displayBytes(Buffer.from('a\u2028b'))).toBe('a\\xe2\\x80\\xa8b')
    expect(displayBytes(Buffer.from('ünï Ωmega'))).toBe('ünï Ωmega')
  })
})

describe('decodeAsnString on very long values', () => {
  it('decodes a 200,000-character BMPString without overflowing the stack', () => {
    expect(decodeAsnString(30, new Uint8Array(400_000).fill(0x41))).toBe('\u4141'.repeat(200_000))
  })
})

describe('decodeAsnString', () => {
  it('decodes BMPString as UTF-16BE and refuses an odd length', () => {
    expect(decodeAsnString(30, b(0x00, 0x41, 0x03, 0xa9))).toBe('AΩ')
    expect(decodeAsnString(30, b(0x00, 0x41, 0x00))).toBeUndefined()
  })

  it('decodes UniversalString as UTF-32BE and refuses bad lengths or code points', () => {
    expect(decodeAsnString(28, b(0, 0, 0, 0x41, 0, 0x01, 0xf6, 0x00))).toBe('A😀')
    expect(decodeAsnString(28, b(0, 0, 0x41))).toBeUndefined()
    expect(decodeAsnString(28, b(0, 0x11, 0, 0))).toBeUndefined()
    expect(decodeAsnString(28, b(0xff, 0xff, 0xff, 0xff))).toBeUndefined()
  })

  it('decodes T61String as Latin-1', () => {
    expect(decodeAsnString(20, b(0xfc, 0x6e, 0xef))).toBe('ünï')
  })

  it.each([12, 19, 22, 26])('decodes tag %i as UTF-8, undefined when invalid', (tag) => {
    expect(decodeAsnString(tag, utf8('ünï'))).toBe('ünï')
    expect(decodeAsnString(tag, b(0xfc, 0x6e))).toBeUndefined()
  })

  it.each([4, 2, 6, 1, 3])('has no string for non-string tag %i', (tag) => {
    expect(decodeAsnString(tag, utf8('abc'))).toBeUndefined()
  })
})

describe('rfc4514', () => {
  const attr = (oid: string, value: string | Uint8Array, valueTag = 12): NameAttribute => {
    const bytes = typeof value === 'string' ? utf8(value) : value
    return {oid, valueTag, value: bytes, valueDer: new Uint8Array([valueTag, bytes.length, ...bytes])}
  }
  const CN = (v: string | Uint8Array, tag?: number) => attr('2.5.4.3', v, tag)
  const one = (a: NameAttribute): RawName => [[a]]

  it('writes the last RDN first, with short names', () => {
    const name: RawName = [[attr('2.5.4.6', 'US', 19)], [attr('2.5.4.10', 'Acme')], [attr('2.5.4.11', 'Ops')], [CN('alice')]]
    expect(rfc4514(name)).toBe('CN=alice,OU=Ops,O=Acme,C=US')
  })

  it('joins a multi-valued RDN with + in its encoded order', () => {
    expect(rfc4514([[attr('2.5.4.10', 'Acme')], [CN('zeta'), CN('alpha')]])).toBe('CN=zeta+CN=alpha,O=Acme')
  })

  it('knows L, ST, STREET, UID and DC, and writes other types as dotted OIDs', () => {
    const name: RawName = [['2.5.4.7', '2.5.4.8', '2.5.4.9', '0.9.2342.19200300.100.1.1', '0.9.2342.19200300.100.1.25', '1.2.3.4'].map((oid) => attr(oid, 'v'))]
    expect(rfc4514(name)).toBe('L=v+ST=v+STREET=v+UID=v+DC=v+1.2.3.4=v')
  })

  it('is empty for an empty name', () => {
    expect(rfc4514([])).toBe('')
  })

  it.each([
    ['a,b+c"d\\e<f>g;h', 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h'],
    ['#hash', '\\#hash'],
    ['mid#dle', 'mid#dle'],
    [' lead', '\\ lead'],
    ['trail ', 'trail\\ '],
    [' ', '\\ '],
    ['  ', '\\ \\ '],
    ['in side', 'in side'],
    ['a=b', 'a=b'],
    ['ali\0ce', 'ali\\00ce'],
    ['a\u0001b\u001fc\u007f', 'a\\01b\\1fc\\7f'],
    ['ünï', 'ünï'],
  ])('escapes %j as %j', (value, escaped) => {
    expect(rfc4514(one(CN(value)))).toBe(`CN=${escaped}`)
  })

  it('decodes T61 and BMP values before escaping', () => {
    expect(rfc4514(one(CN(b(0xfc, 0x2c, 0xef), 20)))).toBe('CN=ü\\,ï')
    expect(rfc4514(one(CN(b(0x00, 0x23, 0x03, 0xa9), 30)))).toBe('CN=\\#Ω')
  })

  it('writes #hex of the whole value for non-string and undecodable values', () => {
    expect(rfc4514(one(attr('2.5.4.10', b(1, 2), 4)))).toBe('O=#04020102')
    expect(rfc4514(one(CN(b(0xff, 0xfe))))).toBe('CN=#0c02fffe')
    expect(rfc4514(one(CN(b(0x00, 0x41, 0x00), 30)))).toBe('CN=#1e03004100')
  })
})
