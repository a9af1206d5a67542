import type {TLSSocket} from 'node:tls'

import type {Discovery, NodeTarget} from '../cluster/discover.js'
import {discoverFromSeed} from '../cluster/seed.js'
import type {Problem} from '../pki/verify.js'
import {runPool} from '../pool.js'
import type {ServedCertificate} from '../probe/handshake.js'
import {type ConnectOptions, type Endpoint, formatAddress} from '../server/connection.js'
import {type Assessment, assessNode, type CertSummary, type Peer} from './assess.js'
import {configSet, type Inspected, inspectNode, type NodeSettings, openNodeSession, servedNow, stepTimeout, TOLERATED} from './node.js'

export type Action = 'reloaded' | 'unchanged' | 'refused' | 'failed' | 'skipped' | 'would-reload'

export interface ReloadOptions {
  seed: ConnectOptions
  /** 'node': the seed alone; 'cluster': every node found from the seed; 'list': `nodes`. */
  mode: 'node' | 'cluster' | 'list'
  nodes?: Endpoint[]
  readFiles: NodeSettings['readFiles']
  minDays: number
  force: boolean
  dryRun: boolean
  /** Nodes reloaded at the same time (1: strictly one after the other). */
  parallel: number
  deadlineMs: number
  now?: Date
}

export interface NodeReport {
  address: string
  role: NodeTarget['role']
  id: string | null
  action: Action
  /** One line: what changed, why the node was refused or failed, or why it was skipped. */
  reason: string
  /** What the node served before the run, and after it (the same when nothing was loaded). */
  before: CertSummary | null
  after: CertSummary | null
  /** tls-cert-file's certificate, when it can be read here. */
  onDisk: CertSummary | null
  /** Whether the node's files were read (and validated) here. */
  filesReadHere: boolean
  problems: Problem[]
  /** Unchanged nodes serving an expired certificate, or one expiring within --min-days, with nothing newer on disk. */
  warnings: string[]
  notes: string[]
  autoReloadInterval: number | null
  durationMs: number
}

export interface ReloadReport {
  dryRun: boolean
  discovery: {mode: Discovery['mode'] | 'node'; method: Discovery['method'] | null; seed: string | null; error: string | null}
  nodes: NodeReport[]
  summary: Record<Action, number> & {nodes: number; durationMs: number}
  /** 'failed' (a node failed or was skipped after one, or discovery failed) > 'refused' > 'warning' > 'ok'. */
  status: 'ok' | 'warning' | 'refused' | 'failed'
}

interface Planned {
  target: NodeTarget
  address: string
  inspected?: Inspected
  assessment?: Assessment
  error?: string
}

/**
 * Finds the nodes, looks at all of them without changing anything (what each serves, its settings and
 * files, whom it trusts), then reloads the ones that need it, replicas first, `parallel` at a time:
 * each is re-read and re-validated just before its CONFIG SET, and after it a fresh handshake must serve
 * the certificate on disk. The first failure stops the run; nodes not yet started are left untouched.
 */
export async function runReload(options: ReloadOptions): Promise<ReloadReport> {
  const started = Date.now()
  const deadline = started + options.deadlineMs
  const sockets = new Set<TLSSocket>()
  const settings: NodeSettings = {seed: options.seed, readFiles: options.readFiles, deadline, sockets}
  try {
    const {discovery, targets} = await findTargets(options, settings)
    const planned = order(targets).map((target): Planned => ({target, address: formatAddress(target)}))
    await inspectAll(planned, settings) // runPool stops waiting at the deadline
    const peers = await clusterPeers(planned, options, settings)
    for (const p of planned) {
      if (p.inspected) p.assessment = assessNode({node: p.inspected.view, material: p.inspected.material, peers, minDays: options.minDays, force: options.force, now: options.now})
      else p.error ??= `not inspected within the overall deadline (${options.deadlineMs / 1000} s)`
    }
    const nodes = await roll(planned, options, settings, peers)
    return summarize(options, discovery, nodes, started)
  } finally {
    for (const socket of sockets) socket.destroy()
  }
}

async function findTargets(options: ReloadOptions, settings: NodeSettings): Promise<{discovery: ReloadReport['discovery']; targets: NodeTarget[]}> {
  const seed = formatAddress(options.seed)
  if (options.mode === 'list') return {discovery: {mode: 'list', method: '--nodes', seed: null, error: null}, targets: options.nodes!.map((n) => ({...n, role: 'unknown'}))}
  if (options.mode === 'node') return {discovery: {mode: 'node', method: null, seed, error: null}, targets: [{host: options.seed.host, port: options.seed.port, role: 'unknown'}]}
  try {
    const found = await discoverFromSeed(options.seed, {timeoutMs: stepTimeout(settings), tolerate: TOLERATED})
    return {discovery: {mode: found.mode, method: found.method, seed, error: null}, targets: found.nodes}
  } catch (error) {
    return {discovery: {mode: 'cluster', method: null, seed, error: (error as Error).message}, targets: []}
  }
}

/** Replicas first: if a new certificate breaks something after all, it breaks where it hurts least. */
function order(targets: NodeTarget[]): NodeTarget[] {
  return [...targets.filter((t) => t.role === 'replica'), ...targets.filter((t) => t.role !== 'replica')]
}

async function inspectAll(planned: Planned[], settings: NodeSettings): Promise<void> {
  await runPool(planned, {
    limit: 16, deadline: settings.deadline,
    work: async (p) => {
      try {
        const session = await openNodeSession(p.target, settings)
        try {
          p.inspected = await inspectNode(p.target, session, settings, p.address)
        } finally {
          session.close()
        }
      } catch (error) {
        p.error = (error as Error).message
      }
    },
  })
}

/**
 * The other nodes of the cluster, for tls-cluster trust checks: the run's own nodes with --cluster;
 * otherwise found from the first node with tls-cluster on, and looked at the same way.
 */
async function clusterPeers(planned: Planned[], options: ReloadOptions, settings: NodeSettings): Promise<Peer[]> {
  const clustered = planned.find((p) => p.inspected?.view.config.tlsCluster)
  if (!clustered) return []
  let all = planned
  if (options.mode !== 'cluster') {
    try {
      const found = await discoverFromSeed({...options.seed, host: clustered.target.host, port: clustered.target.port}, {timeoutMs: stepTimeout(settings), tolerate: TOLERATED})
      const known = new Set(planned.map((p) => p.address))
      const extra = found.nodes.filter((n) => !known.has(formatAddress(n))).map((target): Planned => ({target, address: formatAddress(target)}))
      await inspectAll(extra, settings)
      all = [...planned, ...extra]
    } catch {
      // Without the list, the checks run against the run's own nodes only (assessNode notes nothing more).
    }
  }
  return all.filter((p) => p.inspected).map((p) => {
    const {view, material} = p.inspected!
    const cas = 'caCerts' in material && material.caCerts.length > 0 ? material.caCerts : null
    return {address: p.address, caCerts: cas, servedChain: view.servedChain}
  })
}

async function roll(planned: Planned[], options: ReloadOptions, settings: NodeSettings, peers: Peer[]): Promise<NodeReport[]> {
  const {results, started} = await runPool(planned, {
    limit: options.parallel, deadline: settings.deadline,
    work: (p) => processNode(p, options, settings, peers),
    stopAfter: (report) => report.action === 'failed',
  })
  const firstFailure = results.find((r) => r?.action === 'failed')
  return planned.map((p, i) => {
    const result = results[i]
    if (result) return result
    const report = baseReport(p)
    if (started[i]) return {...report, action: 'failed', reason: `not finished within the overall deadline (${options.deadlineMs / 1000} s): whether it reloaded is unknown`}
    const would = p.assessment ? ` (it was to be ${p.assessment.decision === 'reload' ? 'reloaded' : p.assessment.decision})` : ''
    const why = firstFailure ? `the run stopped after ${firstFailure.address} failed` : `the overall deadline (${options.deadlineMs / 1000} s) passed`
    return {...report, action: 'skipped', reason: `not attempted: ${why}${would}`}
  })
}

async function processNode(p: Planned, options: ReloadOptions, settings: NodeSettings, peers: Peer[]): Promise<NodeReport> {
  const start = Date.now()
  const report = baseReport(p)
  const done = (action: Action, reason: string, extra: Partial<NodeReport> = {}): NodeReport => ({...report, ...extra, action, reason, durationMs: Date.now() - start})
  if (!p.assessment) return done('failed', p.error ?? 'not inspected')
  if (p.assessment.decision !== 'reload') return done(p.assessment.decision, p.assessment.reason)
  if (options.dryRun) return done('would-reload', p.assessment.reason)

  let session
  try {
    session = await openNodeSession(p.target, settings)
  } catch (error) {
    return done('failed', (error as Error).message)
  }
  let assessment: Assessment
  let inspected: Inspected
  try {
    // Files may have changed since the first look: validate what is there now, just before loading it.
    inspected = await inspectNode(p.target, session, settings, p.address)
    assessment = assessNode({node: inspected.view, material: inspected.material, peers, minDays: options.minDays, force: options.force, now: options.now})
    const fresh = {before: summary(inspected.view.served), after: summary(inspected.view.served), onDisk: assessment.onDisk, problems: assessment.problems, warnings: assessment.warnings ?? [], notes: assessment.notes}
    if (assessment.decision !== 'reload') return done(assessment.decision, assessment.reason, fresh)
    await configSet(session, inspected.view)
  } catch (error) {
    return done('failed', (error as Error).message)
  } finally {
    session.close()
  }
  return verify(p, inspected, assessment, options, settings, done)
}

/** After CONFIG SET: a new client must be served the certificate on disk (or, unread, a valid one). */
async function verify(p: Planned, inspected: Inspected, assessment: Assessment, options: ReloadOptions, settings: NodeSettings,
  done: (action: Action, reason: string, extra?: Partial<NodeReport>) => NodeReport): Promise<NodeReport> {
  const before = inspected.view.served
  const extra = {before: summary(before), onDisk: assessment.onDisk, problems: assessment.problems, notes: [...assessment.notes]}
  const now = await servedNow(p.target, settings)
  if (!now.ok) return done('failed', `reloaded, but a new handshake then failed: ${now.error}`, {...extra, after: null})
  const after = summary(now.served)
  const result = {...extra, after}
  if (assessment.onDisk) {
    if (now.served?.fingerprint256 !== assessment.onDisk.fingerprint256) {
      return done('failed', `CONFIG SET answered OK, but the node serves ${short(now.served?.fingerprint256)} instead of the certificate on disk ${short(assessment.onDisk.fingerprint256)}`, result)
    }
  } else {
    const expiry = now.served ? Date.parse(now.served.notAfter) : 0
    const nowMs = (options.now ?? new Date()).getTime()
    if (!now.served || expiry < nowMs + options.minDays * 86_400_000 || Date.parse(now.served.notBefore) > nowMs) {
      return done('failed', `after the reload the node serves a certificate valid from ${now.served?.notBefore} to ${now.served?.notAfter}: not valid for --min-days ${options.minDays} (the files were not checked here)`, result)
    }
    if (now.verifyError && now.verifyError !== inspected.verifyError) {
      return done('failed', `after the reload the node's certificate does not verify (${now.verifyError}); the files were not checked here`, result)
    }
    if (before?.fingerprint256 === now.served.fingerprint256) result.notes.push('the node serves the same certificate as before: its files had not changed')
  }
  if (now.verifyError && !TOLERATED.includes(now.verifyError) && now.verifyError !== inspected.verifyError) result.notes.push(`the new certificate does not verify for this client: ${now.verifyError}`)
  return done('reloaded', assessment.reason, result)
}

function baseReport(p: Planned): NodeReport {
  const view = p.inspected?.view
  const served = summary(view?.served ?? null)
  return {
    address: p.address,
    role: p.target.role,
    id: p.target.id ?? null,
    action: 'skipped',
    reason: '',
    before: served,
    after: served,
    onDisk: p.assessment?.onDisk ?? null,
    filesReadHere: p.inspected ? !('unreadable' in p.inspected.material) : false,
    problems: p.assessment?.problems ?? [],
    warnings: p.assessment?.warnings ?? [],
    notes: p.assessment?.notes ?? [],
    autoReloadInterval: view?.config.autoReloadInterval ?? null,
    durationMs: 0,
  }
}

function summary(served: ServedCertificate | null): CertSummary | null {
  return served ? {subject: served.subject, notAfter: served.notAfter, fingerprint256: served.fingerprint256} : null
}

const short = (fingerprint: string | undefined) => (fingerprint ? `SHA256 ${fingerprint.slice(0, 11)}…` : 'no certificate')

function summarize(options: ReloadOptions, discovery: ReloadReport['discovery'], nodes: NodeReport[], started: number): ReloadReport {
  const count = (action: Action) => nodes.filter((n) => n.action === action).length
  const summaryCounts = {
    nodes: nodes.length, reloaded: count('reloaded'), unchanged: count('unchanged'), refused: count('refused'),
    failed: count('failed'), skipped: count('skipped'), 'would-reload': count('would-reload'), durationMs: Date.now() - started,
  }
  const failed = summaryCounts.failed > 0 || summaryCounts.skipped > 0 || discovery.error !== null
  const warned = nodes.some((n) => n.warnings.length > 0)
  return {dryRun: Boolean(options.dryRun), discovery, nodes, summary: summaryCounts, status: failed ? 'failed' : summaryCounts.refused > 0 ? 'refused' : warned ? 'warning' : 'ok'}
}
