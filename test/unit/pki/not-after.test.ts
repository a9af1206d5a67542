import {describe, expect, it} from 'vitest'

import {checkNotAfterWithinCa, parseNotAfter} from '../../../src/pki/not-after.js'

const now = new Date('2026-06-15T10:00:00.000Z')
const usage = (pattern: RegExp) => expect.objectContaining({kind: 'usage', message: expect.stringMatching(pattern)})

describe('parseNotAfter', () => {
  it.each([
    ['30m', '2026-06-15T10:30:00.000Z'],
    ['24h', '2026-06-16T10:00:00.000Z'],
    ['90d', '2026-09-13T10:00:00.000Z'],
    ['2H', '2026-06-15T12:00:00.000Z'],
    ['2027-01-31', '2027-01-31T00:00:00.000Z'],
    ['2027-01-31T12:00:00Z', '2027-01-31T12:00:00.000Z'],
    ['2027-01-31T14:00+02:00', '2027-01-31T12:00:00.000Z'],
    ['2027-01-31 12:00:00.250z', '2027-01-31T12:00:00.250Z'],
    ['2027-01-01T00:30-01:00', '2027-01-01T01:30:00.000Z'],
  ])('%s ends at %s', (raw, iso) => {
    expect(parseNotAfter(raw, now).toISOString()).toBe(iso)
  })

  it.each(['0d', '-1d', '1w', '1.5d', '1d12h', '', 'tomorrow', '2027-01-31T12:00', '2027-13-01', '2027-02-30', '2027-02-29T00:00Z'])('refuses %j', (raw) => {
    expect(() => parseNotAfter(raw, now)).toThrow(usage(/--not-after/))
  })

  it('refuses the past and now, and more than 36500 days away', () => {
    expect(() => parseNotAfter('2026-06-15T10:00:00Z', now)).toThrow(usage(/not in the future/))
    expect(() => parseNotAfter('2020-01-01', now)).toThrow(usage(/not in the future/))
    expect(parseNotAfter('36500d', now).getTime()).toBe(now.getTime() + 36_500 * 86_400_000)
    expect(() => parseNotAfter('36501d', now)).toThrow(usage(/more than 36500 days/))
  })
})

describe('checkNotAfterWithinCa', () => {
  const caEnd = new Date('2027-01-01T00:00:00.000Z')
  it('accepts an end at or before the CA end', () => {
    expect(() => checkNotAfterWithinCa(caEnd, '2027-01-01', caEnd, 'the new CA')).not.toThrow()
  })
  it('refuses a later end, naming the latest that fits', () => {
    expect(() => checkNotAfterWithinCa(new Date(caEnd.getTime() + 1000), 'x', caEnd, 'the new CA (--ca-days 1)'))
      .toThrow(usage(/outlives the new CA \(--ca-days 1\).*use --not-after 2027-01-01T00:00:00.000Z or earlier/))
  })
})
