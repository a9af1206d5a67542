import type {TLSSocket} from 'node:tls'

import type {Discovery, NodeTarget} from '../cluster/discover.js'
import {discoverFromSeed} from '../cluster/seed.js'
import {type ConnectOptions, type Endpoint, formatAddress} from '../server/connection.js'
import {runPool} from '../pool.js'
import {findInconsistencies} from './consistency.js'
import {emptyResult, type NodeResult, probeNode, type ProbeSettings} from './node.js'

export interface CheckOptions {
  /** Discover from this seed... */
  seed?: ConnectOptions
  /** ...or check exactly these nodes. */
  nodes?: Endpoint[]
  warnDays: number
  concurrency: number
  deadlineMs: number
  onProgress?: (done: number, total: number) => void
  now?: Date
}

export interface CheckReport {
  discovery: {mode: Discovery['mode'] | 'seed-only'; method: Discovery['method'] | null; seed: string | null; error: string | null}
  nodes: NodeResult[]
  /** Cross-node findings: different CAs, issuers, settings, much earlier expiry. */
  findings: string[]
  summary: {nodes: number; ok: number; warning: number; failed: number; findings: number; durationMs: number}
  /** 'ok', 'warning' (warnings or findings only) or 'failed' (any node failed, or discovery failed). */
  status: 'ok' | 'warning' | 'failed'
}

/** Discovers the nodes and checks them all concurrently, within an overall deadline. */
export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const started = Date.now()
  const deadline = started + options.deadlineMs
  const now = options.now ?? new Date()
  const tls = options.seed?.tls ?? {}
  const {discovery, targets} = await findTargets(options)
  const sockets = new Set<TLSSocket>()
  const settings: ProbeSettings = {
    ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername, insecure: tls.insecure,
    user: options.seed?.user, password: options.seed?.password,
    timeoutMs: Math.min(options.seed?.timeoutMs ?? 5000, options.deadlineMs), warnDays: options.warnDays, now, sockets,
  }
  const {results} = await runPool(targets, {
    limit: options.concurrency, deadline, work: (target) => probeNode(target, settings),
    onDone: options.onProgress && ((_, done, total) => options.onProgress!(done, total)),
  })
  for (const socket of sockets) socket.destroy()
  const nodes = results.map((r, i) => r ?? timedOut(targets[i]!, options.deadlineMs))
  const findings = findInconsistencies(nodes)
  const count = (status: NodeResult['status']) => nodes.filter((n) => n.status === status).length
  const failed = count('failed') > 0 || discovery.error !== null
  return {
    discovery,
    nodes,
    findings,
    summary: {nodes: nodes.length, ok: count('ok'), warning: count('warning'), failed: count('failed'), findings: findings.length, durationMs: Date.now() - started},
    status: failed ? 'failed' : count('warning') > 0 || findings.length > 0 ? 'warning' : 'ok',
  }
}

async function findTargets(options: CheckOptions): Promise<{discovery: CheckReport['discovery']; targets: NodeTarget[]}> {
  if (options.nodes) {
    return {discovery: {mode: 'list', method: '--nodes', seed: null, error: null}, targets: options.nodes.map((n) => ({...n, role: 'unknown'}))}
  }
  const seed = options.seed!
  const seedAddress = formatAddress(seed)
  try {
    const found = await discoverFromSeed(seed, {timeoutMs: Math.min(seed.timeoutMs, options.deadlineMs)})
    return {discovery: {mode: found.mode, method: found.method, seed: seedAddress, error: null}, targets: found.nodes}
  } catch (error) {
    // The seed itself is still checked, so its precise TLS error is reported (and exported as a metric).
    const message = (error as Error).message
    return {discovery: {mode: 'seed-only', method: null, seed: seedAddress, error: message}, targets: [{host: seed.host, port: seed.port, role: 'unknown'}]}
  }
}

function timedOut(target: NodeTarget, deadlineMs: number): NodeResult {
  return {...emptyResult(target), error: `not finished within the overall deadline (${deadlineMs / 1000} s)`}
}
