import {describe, expect, it} from 'vitest'

import {EARLY_EXPIRY_DAYS, findInconsistencies} from '../../../src/check/consistency.js'
import {makeFailedNode, makeNode, makeSettings} from './factory.js'

/** n nodes 10.0.0.1..n, port 6379. */
const cluster = (n: number, overrides: (i: number) => Parameters<typeof makeNode>[0] = () => ({})) =>
  Array.from({length: n}, (_, i) => makeNode({host: `10.0.0.${i + 1}`, ...overrides(i)}))

describe('findInconsistencies', () => {
  it('tells two CAs with the same name apart by their key (certs gen names every test CA alike)', () => {
    const nodes = [
      makeNode({host: '10.0.0.1', caKeyId: 'AA:AA:AA:AA:AA:AA:AA:AA:AA:AA'}),
      makeNode({host: '10.0.0.2', caKeyId: 'AA:AA:AA:AA:AA:AA:AA:AA:AA:AA'}),
      makeNode({host: '10.0.0.3', caKeyId: 'BB:BB:BB:BB:BB:BB:BB:BB:BB:BB'}),
    ]
    expect(findInconsistencies(nodes)).toEqual(['different CAs: "CN=Test CA (key id AA:AA:AA:AA:AA:AA:AA:AA…)" on 10.0.0.1:6379, 10.0.0.2:6379; "CN=Test CA (key id BB:BB:BB:BB:BB:BB:BB:BB…)" on 10.0.0.3:6379'])
    // The same key everywhere is one CA, whatever else differs.
    expect(findInconsistencies(nodes.slice(0, 2))).toEqual([])
  })

  it('finds nothing when every node agrees (and nothing for no nodes or one node)', () => {
    expect(findInconsistencies(cluster(6))).toEqual([])
    expect(findInconsistencies([])).toEqual([])
    expect(findInconsistencies(cluster(1, () => ({ca: 'CN=Other', daysLeft: 1})))).toEqual([])
  })

  it('names the minority node when one node has a different CA', () => {
    const nodes = cluster(3, (i) => (i === 2 ? {ca: 'CN=New CA'} : {}))
    expect(findInconsistencies(nodes)).toEqual(['different CAs: "CN=Test CA" on 10.0.0.1:6379, 10.0.0.2:6379; "CN=New CA" on 10.0.0.3:6379'])
  })

  it('reports different issuers separately from CAs', () => {
    const nodes = cluster(3, (i) => (i === 0 ? {issuer: 'CN=Intermediate 2'} : {}))
    expect(findInconsistencies(nodes)).toEqual(['different issuers: "CN=Test CA" on 10.0.0.2:6379, 10.0.0.3:6379; "CN=Intermediate 2" on 10.0.0.1:6379'])
  })

  it('summarises groups of more than 3 nodes as "N nodes" and lists groups of 3 or fewer', () => {
    const nodes = cluster(7, (i) => (i >= 4 ? {ca: 'CN=New CA'} : {}))
    expect(findInconsistencies(nodes)).toEqual(['different CAs: "CN=Test CA" on 4 nodes; "CN=New CA" on 10.0.0.5:6379, 10.0.0.6:6379, 10.0.0.7:6379'])
  })

  it('ignores nodes without a certificate (not reached), whatever their CA field says', () => {
    const nodes = [...cluster(2), makeFailedNode({host: '10.0.0.9', ca: 'CN=Stale', issuer: 'CN=Stale', daysLeft: -400})]
    expect(findInconsistencies(nodes)).toEqual([])
  })

  it.each([
    ['tlsAuthClients', 'tls-auth-clients', 'optional'],
    ['tlsAuthClientsUser', 'tls-auth-clients-user', 'CN'],
    ['tlsProtocols', 'tls-protocols', 'TLSv1.3'],
    ['tlsCluster', 'tls-cluster', 'no'],
  ] as const)('reports a different %s as "%s settings"', (key, name, odd) => {
    const nodes = cluster(4, (i) => (i === 3 ? {settings: makeSettings({[key]: odd})} : {}))
    const expected = `different ${name} settings: "${makeSettings()[key]}" on 10.0.0.1:6379, 10.0.0.2:6379, 10.0.0.3:6379; "${odd}" on 10.0.0.4:6379`
    expect(findInconsistencies(nodes)).toEqual([expected])
  })

  it('ignores nodes whose settings could not be read, and calls a missing setting "(not supported)"', () => {
    const unread = cluster(3, (i) => (i === 0 ? {settings: null} : {}))
    expect(findInconsistencies(unread)).toEqual([])
    const old = cluster(2, (i) => (i === 1 ? {settings: makeSettings({tlsAuthClientsUser: null})} : {}))
    expect(findInconsistencies(old)).toEqual(['different tls-auth-clients-user settings: "off" on 10.0.0.1:6379; "(not supported)" on 10.0.0.2:6379'])
  })

  it('reports every kind of difference, CAs first, then issuers, settings, expiry', () => {
    const nodes = cluster(3, (i) => (i === 2 ? {ca: 'CN=B', issuer: 'CN=B', settings: makeSettings({tlsProtocols: 'TLSv1.2'}), daysLeft: 1} : {}))
    const findings = findInconsistencies(nodes)
    expect(findings.map((f) => f.split(':')[0])).toEqual([
      'different CAs',
      'different issuers',
      'different tls-protocols settings',
      'certificates expiring much earlier than the others (median 365 days)',
    ])
  })

  describe('early expiry', () => {
    it(`names a node whose certificate expires at least ${EARLY_EXPIRY_DAYS} days before the median`, () => {
      const nodes = cluster(5, (i) => ({daysLeft: [300, 310, 320, 330, 320 - EARLY_EXPIRY_DAYS][i]}))
      // sorted: 290 300 310 320 330 -> median 310; 290 is only 20 below.
      expect(findInconsistencies(nodes)).toEqual([])
      const late = cluster(5, (i) => ({daysLeft: [300, 310, 320, 330, 310 - EARLY_EXPIRY_DAYS][i]}))
      // sorted: 280 300 310 320 330 -> median 310; 280 is exactly EARLY_EXPIRY_DAYS below.
      expect(findInconsistencies(late)).toEqual(['certificates expiring much earlier than the others (median 310 days): 10.0.0.5:6379 in 280 days'])
    })

    it('does not call out a spread just under the threshold', () => {
      const nodes = cluster(3, (i) => ({daysLeft: [100, 100, 100 - EARLY_EXPIRY_DAYS + 1][i]}))
      expect(findInconsistencies(nodes)).toEqual([])
    })

    it('lists every early node with its days, including expired ones', () => {
      const nodes = cluster(5, (i) => ({daysLeft: [-3, 365, 364, 12, 366][i]}))
      expect(findInconsistencies(nodes)).toEqual(['certificates expiring much earlier than the others (median 364 days): 10.0.0.1:6379 in -3 days, 10.0.0.4:6379 in 12 days'])
    })

    it('takes only nodes with a certificate into the median', () => {
      const nodes = [...cluster(2, (i) => ({daysLeft: [200, 20][i]})), makeFailedNode({host: '10.0.0.8', daysLeft: 0}), makeFailedNode({host: '10.0.0.9', daysLeft: 0})]
      // Were the failed nodes counted, the median would be 20 and nothing would be early.
      expect(findInconsistencies(nodes)).toEqual(['certificates expiring much earlier than the others (median 200 days): 10.0.0.2:6379 in 20 days'])
    })
  })
})
