import {failureKind} from '../errors.js'
import type {ConnectOptions, Endpoint} from '../transport/options.js'
import {formatAddress} from '../transport/options.js'
import type {Discovery, NodeTarget} from './discover.js'
import {discoverFromSeed} from './seed.js'
import {discoverFromSentinel} from './sentinel.js'

export interface TargetDiscovery {
  /** list: --nodes; node: the seed alone, by request; seed-only: discovery failed, the seed alone is left. */
  mode: Discovery['mode'] | 'node' | 'seed-only'
  method: Discovery['method'] | null
  seed: string | null
  /** Why discovery failed (then `mode` is seed-only, or no targets at all). */
  error: string | null
  /** auth: the seed refused our credentials. */
  errorKind?: 'auth' | 'server'
}

export interface TargetRequest {
  seed: ConnectOptions
  /** Exactly these nodes, in this order (--nodes). */
  nodes?: Endpoint[]
  /** Find every node from the seed (else the seed alone). */
  discover: boolean
  /** The seed is a Sentinel: discover its primaries, their replicas and the other sentinels. */
  sentinel?: boolean
  /** When discovery fails: still the seed itself (check reports its precise TLS error), or nothing (reload). */
  onFailure: 'seed' | 'nothing'
  timeoutMs: number
  /** Epoch ms by which discovery must be done, all its commands together (the run's --deadline). */
  deadline?: number
  tolerate?: string[]
}

/** The nodes a command works on: --nodes as given, the seed alone, or every node found from the seed. */
export async function findTargets(request: TargetRequest): Promise<{discovery: TargetDiscovery; targets: NodeTarget[]}> {
  const {seed} = request
  const seedAddress = formatAddress(seed)
  const alone: NodeTarget[] = [{host: seed.host, port: seed.port, role: 'unknown'}]
  if (request.nodes) return {discovery: {mode: 'list', method: '--nodes', seed: null, error: null}, targets: request.nodes.map((n) => ({...n, role: 'unknown'}))}
  if (!request.discover) return {discovery: {mode: 'node', method: null, seed: seedAddress, error: null}, targets: alone}
  try {
    const discover = request.sentinel ? discoverFromSentinel : discoverFromSeed
    const found = await discover(seed, {timeoutMs: request.timeoutMs, deadline: request.deadline, tolerate: request.tolerate})
    return {discovery: {mode: found.mode, method: found.method, seed: seedAddress, error: null}, targets: found.nodes}
  } catch (error) {
    const failed = {method: null, seed: seedAddress, error: (error as Error).message, errorKind: failureKind(error)}
    return request.onFailure === 'seed'
      ? {discovery: {mode: 'seed-only', ...failed}, targets: alone}
      : {discovery: {mode: 'cluster', ...failed}, targets: []}
  }
}

/** What kind each failure was (discovery's, then each failed item's): auth (our credentials) or server. */
export function failureKinds(discovery: TargetDiscovery, failed: Array<{errorKind?: 'auth' | 'server'}>): Array<'auth' | 'server'> {
  return [...(discovery.error === null ? [] : [discovery.errorKind ?? 'server']), ...failed.map((f) => f.errorKind ?? 'server')]
}
