import {describe, expect, it} from 'vitest'

import {splitPem, toPem} from '../../../src/pki/pem.js'

const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05])

describe('splitPem', () => {
  it('round-trips toPem and keeps every block of a bundle in order', () => {
    const text = `subject=CN = x\n${toPem('CERTIFICATE', der)}\n${toPem('PRIVATE KEY', new Uint8Array([1, 2, 3]))}`
    const blocks = splitPem(text, 'f.pem')
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE', 'PRIVATE KEY'])
    expect([...blocks[0].der]).toEqual([...der])
    expect([...blocks[1].der]).toEqual([1, 2, 3])
  })

  it.each([
    ['an empty file', '', /no PEM data/],
    ['text without PEM', 'hello world\n', /no PEM data/],
    ['a truncated block', toPem('CERTIFICATE', der).slice(0, 40), /truncated PEM/],
    ['a block with bad base64', '-----BEGIN CERTIFICATE-----\nMII*&^\n-----END CERTIFICATE-----\n', /not valid base64/],
    ['an empty block', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', /not valid base64/],
    ['mismatched labels', '-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END PRIVATE KEY-----\n', /truncated PEM|unmatched/],
    ['binary junk between blocks', `${toPem('CERTIFICATE', der)}\u0000\u0001\u0002${toPem('CERTIFICATE', der)}`, /binary data/],
  ])('rejects %s naming the file', (_, text, message) => {
    expect(() => splitPem(text, 'bad.pem')).toThrow(message)
    expect(() => splitPem(text, 'bad.pem')).toThrow(/^bad\.pem: /)
  })
})

describe('splitPem on pathological input', () => {
  it('reports thousands of unmatched BEGIN lines as truncated PEM (one linear pass)', () => {
    expect(() => splitPem('-----BEGIN CERTIFICATE-----\n'.repeat(30_000), 'x.pem')).toThrow(/^x\.pem: truncated PEM/)
  })

  it('does not pair a BEGIN with the END of another label', () => {
    expect(() => splitPem(`-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n`, 'x.pem')).toThrow(/x\.pem: (truncated|malformed) PEM/)
  })
})
