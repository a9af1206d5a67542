import {describe, expect, it} from 'vitest'

import type {NodeState} from '../../../src/rotate/observe.js'
import {finishRefusal, phaseOf, safeSteps} from '../../../src/rotate/plan.js'

/** A node in the rotation's terms: o = old, n = new; trust from the probe unless `probe` is null. */
function node(address: string, role: NodeState['role'], served: 'old' | 'new', ca: 'old' | 'both' | 'new', probe: boolean | null = ca !== 'old', clientCert?: 'old' | 'new'): NodeState {
  return {
    target: {host: '127.0.0.1', port: Number(address.split(':')[1]), role}, address, role, served, certFile: served, clientCertFile: clientCert ?? null, hasClientCert: clientCert !== undefined,
    caFile: {new: ca !== 'old', old: ca !== 'new'}, trustsNew: probe, loadedOld: null, local: true, manualBecause: null, paths: {}, config: undefined as never, material: null, servedLeaf: null, error: null, notes: [],
  }
}

describe('phaseOf: the phase from what the nodes show', () => {
  const cases: Array<[string, NodeState[], string]> = [
    ['nothing done', [node('a:1', 'primary', 'old', 'old'), node('a:2', 'replica', 'old', 'old')], 'trust-old'],
    ['one node widened', [node('a:1', 'primary', 'old', 'both'), node('a:2', 'replica', 'old', 'old')], 'widening'],
    ['a file widened but not reloaded (killed in between): the running node is what counts', [node('a:1', 'primary', 'old', 'both', false), node('a:2', 'replica', 'old', 'both')], 'widening'],
    ['without a probe, the CA file says', [node('a:1', 'primary', 'old', 'both', null), node('a:2', 'replica', 'old', 'both', null)], 'trust-both'],
    ['all widened', [node('a:1', 'primary', 'old', 'both'), node('a:2', 'replica', 'old', 'both')], 'trust-both'],
    ['one leaf moved', [node('a:1', 'primary', 'new', 'both'), node('a:2', 'replica', 'old', 'both')], 'moving-leaves'],
    ['server leaf moved, client certificate not yet', [node('a:1', 'primary', 'new', 'both', true, 'old'), node('a:2', 'replica', 'new', 'both')], 'moving-leaves'],
    ['all leaves moved', [node('a:1', 'primary', 'new', 'both', true, 'new'), node('a:2', 'replica', 'new', 'both')], 'leaves-new'],
    ['one narrowed', [node('a:1', 'primary', 'new', 'new'), node('a:2', 'replica', 'new', 'both')], 'narrowing'],
    ['done', [node('a:1', 'primary', 'new', 'new'), node('a:2', 'replica', 'new', 'new')], 'trust-new'],
    ['every file narrowed, one not reloaded (INFO tls still names another CA)', [node('a:1', 'primary', 'new', 'new'), {...node('a:2', 'replica', 'new', 'new'), loadedOld: true}], 'narrowing'],
  ]
  for (const [what, nodes, phase] of cases) it(`${what}: ${phase}`, () => expect(phaseOf(nodes)).toBe(phase))
})

describe('safeSteps: what is safe now, replicas first', () => {
  it('phase 1 widens the nodes that do not trust the new CA yet, replicas first', () => {
    const nodes = [node('a:1', 'primary', 'old', 'old'), node('a:2', 'replica', 'old', 'both'), node('a:3', 'replica', 'old', 'old')]
    expect(safeSteps(nodes, true).map((s) => `${s.kind} ${s.node.address}`)).toEqual(['widen a:3', 'widen a:1'])
  })

  it('never moves a leaf while a node does not trust the new CA, never narrows before every leaf moved', () => {
    const widening = [node('a:1', 'primary', 'old', 'both'), node('a:2', 'replica', 'old', 'old')]
    expect(safeSteps(widening, true).every((s) => s.kind === 'widen')).toBe(true)
    const moving = [node('a:1', 'primary', 'new', 'both'), node('a:2', 'replica', 'old', 'both')]
    expect(safeSteps(moving, true).map((s) => `${s.kind} ${s.node.address}`)).toEqual(['move-leaf a:2'])
  })

  it('narrows only with finish; nothing when done', () => {
    const moved = [node('a:1', 'primary', 'new', 'both'), node('a:2', 'replica', 'new', 'new')]
    expect(safeSteps(moved, false)).toEqual([])
    expect(safeSteps(moved, true).map((s) => `${s.kind} ${s.node.address}`)).toEqual(['narrow a:1'])
    expect(safeSteps([node('a:1', 'primary', 'new', 'new')], true)).toEqual([])
  })
})

describe('finishRefusal', () => {
  it('names the nodes that do not trust the new CA, then those still serving old-CA leaves; null when safe', () => {
    expect(finishRefusal([node('a:1', 'primary', 'old', 'old'), node('a:2', 'replica', 'old', 'both')])).toMatch(/not every node trusts the new CA yet \(a:1\)/)
    expect(finishRefusal([node('a:1', 'primary', 'new', 'both'), node('a:2', 'replica', 'old', 'both')])).toMatch(/serves a certificate from the new CA yet \(a:2\)/)
    expect(finishRefusal([node('a:1', 'primary', 'new', 'both'), node('a:2', 'replica', 'new', 'both')])).toBeNull()
  })
})
