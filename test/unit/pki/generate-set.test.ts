import {describe, expect, it} from 'vitest'

import {checkDays, checkLeafWithinCa, planClients, planServers} from '../../../src/pki/generate-set.js'
import {mergeSans, parseSan, parseServer} from '../../../src/pki/names.js'

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

describe('planServers', () => {
  const clients = planClients(['alice'], [])
  it('without --server: one "server" with the default SANs and --san, CN from the first DNS --san', () => {
    expect(planServers([], [parseSan('db.example')], clients)).toEqual([{name: 'server', commonName: 'db.example', sans: mergeSans([parseSan('db.example')])}])
  })

  it('with --server: NAME.crt per node, CN=NAME, its own SANs then the shared --san ones after the defaults', () => {
    const planned = planServers([parseServer('node1=10.0.0.1'), parseServer('node2')], [parseSan('vip.example')], clients)
    expect(planned.map((p) => [p.name, p.commonName, p.sans.map((s) => s.value)])).toEqual([
      ['node1', 'node1', ['localhost', '127.0.0.1', '::1', 'node1', '10.0.0.1', 'vip.example']],
      ['node2', 'node2', ['localhost', '127.0.0.1', '::1', 'node2', 'vip.example']],
    ])
  })

  it.each([['node1', 'NODE1'], ['Alice'], ['client']])('refuses names that clash (%s)', (...names) => {
    expect(() => planServers(names.map((n) => parseServer(n)), [], clients)).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringMatching(/--server .* clashes/)}))
  })
})
