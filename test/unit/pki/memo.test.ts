import {describe, expect, it} from 'vitest'

import {memoByContent} from '../../../src/pki/memo.js'

describe('memoByContent', () => {
  it('parses each content once; other bytes, another part or a missing part parse again', () => {
    const memo = memoByContent<string>()
    let parses = 0
    const parse = (parts: Array<Buffer | string | undefined>) => memo(parts, () => `#${++parses}`)
    expect(parse([Buffer.from('key'), 'pass'])).toBe('#1')
    expect(parse([Buffer.from('key'), 'pass'])).toBe('#1')
    expect(parse([Buffer.from('key'), 'other'])).toBe('#2')
    expect(parse([Buffer.from('key'), undefined])).toBe('#3')
    expect(parse([Buffer.from('key'), ''])).toBe('#4')
    // Parts are length-prefixed: moving a byte from one part to the next is other content.
    expect(parse([Buffer.from('ke'), 'ypass'])).toBe('#5')
    expect(parses).toBe(5)
  })

  it('keeps no failure: a parse that throws is tried again', () => {
    const memo = memoByContent<number>()
    let tries = 0
    const attempt = () => memo(['x'], () => {
      tries++
      throw new Error('bad')
    })
    expect(attempt).toThrow('bad')
    expect(attempt).toThrow('bad')
    expect(tries).toBe(2)
  })

  it('keeps at most `limit` entries, dropping the oldest', () => {
    const memo = memoByContent<number>(2)
    let parses = 0
    const parse = (s: string) => memo([s], () => ++parses)
    parse('a')
    parse('b')
    parse('c') // drops a
    expect(parse('b')).toBe(2)
    expect(parse('a')).toBe(4)
    expect(parses).toBe(4)
  })
})
