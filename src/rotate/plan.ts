import type {NodeState} from './observe.js'

/**
 * Where a rotation stands, from what the nodes show (never from a file of our own): trust the old CA only
 * → trust both → every leaf from the new CA → trust the new CA only, with the in-between states.
 */
export type Phase = 'trust-old' | 'widening' | 'trust-both' | 'moving-leaves' | 'leaves-new' | 'narrowing' | 'trust-new'

export type StepKind = 'widen' | 'move-leaf' | 'narrow'

export interface Step {
  kind: StepKind
  node: NodeState
}

/** The node trusts the new CA: as the running node says (probe), else as its CA file says. */
export const trustsNew = (n: NodeState): boolean => n.trustsNew ?? n.caFile?.new ?? false
/** Its leaves (the server certificate, and tls-client-cert-file if set) come from the new CA. */
export const leavesNew = (n: NodeState): boolean => n.served === 'new' && (!n.hasClientCert || n.clientCertFile === 'new')
/** It still trusts something besides the new CA: its CA file says so, or the running node does (unknown counts as yes). */
const trustsOld = (n: NodeState): boolean => (n.caFile?.old ?? true) || n.loadedOld === true

export function phaseOf(nodes: NodeState[]): Phase {
  if (!nodes.every(trustsNew)) return nodes.some(trustsNew) ? 'widening' : 'trust-old'
  if (!nodes.every(leavesNew)) return nodes.some(leavesNew) ? 'moving-leaves' : 'trust-both'
  if (nodes.every(trustsOld)) return 'leaves-new'
  return nodes.some(trustsOld) ? 'narrowing' : 'trust-new'
}

/** The steps that are safe in this phase, replicas first (a mistake then hurts least); `finish` allows narrowing. */
export function safeSteps(nodes: NodeState[], finish: boolean): Step[] {
  const phase = phaseOf(nodes)
  const replicasFirst = [...nodes.filter((n) => n.role === 'replica'), ...nodes.filter((n) => n.role !== 'replica')]
  const of = (kind: StepKind, wanted: (n: NodeState) => boolean) => replicasFirst.filter(wanted).map((node) => ({kind, node}))
  switch (phase) {
    case 'trust-old':
    case 'widening': return of('widen', (n) => !trustsNew(n))
    case 'trust-both':
    case 'moving-leaves': return of('move-leaf', (n) => !leavesNew(n))
    case 'leaves-new':
    case 'narrowing': return finish ? of('narrow', trustsOld) : []
    case 'trust-new': return []
  }
}

/** Why --finish must wait, or null when narrowing is safe now (every node serves a new-CA leaf and trusts the new CA). */
export function finishRefusal(nodes: NodeState[]): string | null {
  const untrusting = nodes.filter((n) => !trustsNew(n)).map((n) => n.address)
  if (untrusting.length > 0) return `not every node trusts the new CA yet (${untrusting.join(', ')}): narrowing now would cut them off; run --apply first`
  const old = nodes.filter((n) => !leavesNew(n)).map((n) => n.address)
  if (old.length > 0) return `not every node serves a certificate from the new CA yet (${old.join(', ')}): narrowing now would make its peers refuse it; run --apply first`
  return null
}

export const PHASE_TEXT: Record<Phase, string> = {
  'trust-old': 'trust the old CA only (nothing done yet)',
  widening: 'phase 1 under way: some nodes trust both CAs',
  'trust-both': 'phase 1 done: every node trusts both CAs',
  'moving-leaves': 'phase 2 under way: some nodes serve certificates from the new CA',
  'leaves-new': 'phase 2 done: every node serves a certificate from the new CA and trusts both',
  narrowing: 'phase 3 under way: some nodes trust the new CA only',
  'trust-new': 'done: every node serves a certificate from the new CA and trusts it alone',
}

export const NEXT_TEXT: Record<Phase, string> = {
  'trust-old': 'next: --apply adds the new CA to every node\'s CA file and reloads it (phase 1)',
  widening: 'next: --apply adds the new CA to the remaining nodes (phase 1)',
  'trust-both': 'next: --apply re-issues every node\'s certificate from the new CA (--new-ca-key) and reloads it (phase 2)',
  'moving-leaves': 'next: --apply moves the remaining nodes to certificates from the new CA (phase 2)',
  'leaves-new': 'next: --apply --finish narrows every node\'s trust to the new CA (phase 3); clients still presenting old-CA certificates will be refused from then on',
  narrowing: 'next: --apply --finish narrows the remaining nodes (phase 3)',
  'trust-new': 'nothing to do',
}
