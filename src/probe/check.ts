import type {TLSSocket} from 'node:tls'

import {type Discovery, discoverNodes, type NodeTarget} from '../cluster/discover.js'
import {type ConnectOptions, type Endpoint, formatAddress} from '../server/connection.js'
import {findInconsistencies} from './consistency.js'
import {emptyResult, type NodeResult, probeNode, type ProbeSettings} from './node.js'
import {openRawSession, type RawSession} from './session.js'

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
  const results = await runPool(targets, options.concurrency, deadline, options.onProgress, (target) => probeNode(target, settings))
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
  let session: RawSession | undefined
  try {
    const {tls} = seed
    session = await openRawSession({
      host: seed.host, port: seed.port, ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername, insecure: tls.insecure,
      user: seed.user, password: seed.password, timeoutMs: Math.min(seed.timeoutMs, options.deadlineMs),
    })
    const found = await discoverNodes(session.call, seed)
    return {discovery: {mode: found.mode, method: found.method, seed: seedAddress, error: null}, targets: found.nodes}
  } catch (error) {
    // The seed itself is still checked, so its precise TLS error is reported (and exported as a metric).
    const message = (error as Error).message
    return {discovery: {mode: 'seed-only', method: null, seed: seedAddress, error: message}, targets: [{host: seed.host, port: seed.port, role: 'unknown'}]}
  } finally {
    session?.close()
  }
}

/** Runs `work` over `items` with at most `limit` at once; results still missing at `deadline` are undefined. */
async function runPool<T, R>(items: T[], limit: number, deadline: number, onProgress: CheckOptions['onProgress'], work: (item: T) => Promise<R>): Promise<Array<R | undefined>> {
  const results: Array<R | undefined> = Array.from({length: items.length})
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < items.length && Date.now() < deadline) {
      const index = next++
      results[index] = await work(items[index]!)
      onProgress?.(++done, items.length)
    }
  }
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
  })
  await Promise.race([Promise.all(Array.from({length: Math.min(limit, items.length)}, worker)), expired])
  clearTimeout(timer)
  return [...results]
}

function timedOut(target: NodeTarget, deadlineMs: number): NodeResult {
  return {...emptyResult(target), error: `not finished within the overall deadline (${deadlineMs / 1000} s)`}
}
