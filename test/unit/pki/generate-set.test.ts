import {describe, expect, it} from 'vitest'

import {checkDays, checkLeafWithinCa} from '../../../src/pki/generate-set.js'

describe('checkDays', () => {
  it.each([0, -1, 1.5, Number.NaN, 36_501, 1e12])('refuses %s with a usage error naming the flag', (days) => {
    expect(() => checkDays(days, '--days')).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringContaining('--days')}))
  })

  it('accepts 1 to 100 years', () => {
    expect(checkDays(1, '--days')).toBe(1)
    expect(checkDays(36_500, '--days')).toBe(36_500)
  })
})

describe('checkLeafWithinCa', () => {
  it('refuses a leaf that would outlive a new CA, and says what fits', () => {
    expect(() => checkLeafWithinCa(2, 1)).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringMatching(/^--days 2 is longer than --ca-days 1: .*use --days 1 or less/)}))
  })

  it('accepts a leaf that ends with its CA or before', () => {
    expect(() => checkLeafWithinCa(1, 1)).not.toThrow()
    expect(() => checkLeafWithinCa(365, 3650)).not.toThrow()
  })
})
