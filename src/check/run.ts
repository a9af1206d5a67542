import type {TLSSocket} from 'node:tls'

import {type AllowFilter, outsideRules} from '../cluster/allow.js'
import type {NodeTarget} from '../cluster/discover.js'
import {failureKinds, findTargets, type TargetDiscovery} from '../cluster/targets.js'
import type {ConnectOptions, Endpoint} from '../transport/options.js'
import {runPool} from '../pool.js'
import {findInconsistencies} from './consistency.js'
import {emptyResult, type NodeResult, probeNode, type ProbeScope} from './probe.js'

export interface CheckOptions {
  /** The seed to discover from, and the connection options for every node. */
  connection: ConnectOptions
  /** Check exactly these nodes instead. */
  nodes?: Endpoint[]
  sentinel?: boolean
  warnDays: number
  concurrency: number
  deadlineMs: number
  /** With a client certificate: also try every node without one (see ProbeScope.anonymousProbe). */
  anonymousProbe?: boolean
  /** Nodes it may connect to (--allow-target, an exporter module's targets); others, found by discovery, are failed without a connection. */
  allow?: AllowFilter
  onProgress?: (done: number, total: number) => void
  now?: Date
}

export interface CheckReport {
  discovery: TargetDiscovery
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
  const {connection} = options
  const {discovery, targets} = await findTargets({seed: connection, nodes: options.nodes, sentinel: options.sentinel, discover: true, onFailure: 'seed', timeoutMs: Math.min(connection.timeoutMs, options.deadlineMs), deadline})
  const sockets = new Set<TLSSocket>()
  const scope: ProbeScope = {connection: {...connection, timeoutMs: Math.min(connection.timeoutMs, options.deadlineMs)}, warnDays: options.warnDays, now, sockets, deadline, anonymousProbe: options.anonymousProbe, allow: options.allow}
  const {results} = await runPool(targets, {
    limit: options.concurrency, deadline, work: async (target) => (options.allow && !options.allow(target) ? notAllowed(target, options.allow) : probeNode(target, scope)),
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

function notAllowed(target: NodeTarget, allow: AllowFilter): NodeResult {
  return {...emptyResult(target), error: outsideRules(target, allow, '--allow-target, or the module\'s targets'), reason: 'not-allowed'}
}

function timedOut(target: NodeTarget, deadlineMs: number): NodeResult {
  return {...emptyResult(target), error: `not finished within the overall deadline (${deadlineMs / 1000} s)`, reason: 'deadline'}
}

/** The failures of a run, for its exit code: discovery's, and each failed node's. */
export const runFailures = (report: Pick<CheckReport, 'discovery' | 'nodes'>) => failureKinds(report.discovery, report.nodes.filter((n) => n.status === 'failed'))
