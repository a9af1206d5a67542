import {createHash, X509Certificate} from 'node:crypto'
import type {TLSSocket} from 'node:tls'

import {type AllowFilter, outsideRules} from '../cluster/allow.js'
import type {NodeTarget} from '../cluster/discover.js'
import {failureKinds, findTargets, type TargetDiscovery} from '../cluster/targets.js'
import {discoverFromSeed} from '../cluster/seed.js'
import {failureKind} from '../errors.js'
import type {Problem} from '../pki/verify.js'
import {runPool} from '../pool.js'
import {handshake, type ServedCertificate} from '../transport/handshake.js'
import {verifyReason} from '../pki/rehearse.js'
import {type ConnectOptions, type Endpoint, formatAddress} from '../transport/options.js'
import {type Assessment, assessNode, type CertSummary, refuse} from './assess.js'
import {identityOf, type LocalMaterial} from './material.js'
import {configSet, type Inspected, inspectNode, type NodeAccess, openNodeSession, readMaterial, servedNow, stepTimeout, TOLERATED} from './node.js'
import {type PeerTrust, rehearseNode} from './rehearse.js'

export type Action = 'reloaded' | 'unchanged' | 'refused' | 'failed' | 'skipped' | 'would-reload'

export interface ReloadOptions {
  seed: ConnectOptions
  /** 'node': the seed alone; 'cluster': every node found from the seed; 'list': `nodes`. */
  mode: 'node' | 'cluster' | 'list'
  nodes?: Endpoint[]
  readFiles: NodeAccess['readFiles']
  minDays: number
  force: boolean
  dryRun: boolean
  /** Nodes reloaded at the same time (1: strictly one after the other). */
  parallel: number
  deadlineMs: number
  /** Nodes it may connect to (--allow-target); others, found by discovery, are failed without a connection. */
  allow?: AllowFilter
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
  /** A failed node: auth when our credentials were refused (exit 7). */
  errorKind?: 'auth' | 'server'
  notes: string[]
  autoReloadInterval: number | null
  durationMs: number
}

export interface ReloadReport {
  dryRun: boolean
  discovery: TargetDiscovery
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
  /** Left out by --allow-target: never connected to. */
  outside?: boolean
  /** Other addresses the run was given for the same server (same run_id). */
  aliases?: string[]
  errorKind?: 'auth' | 'server'
}

/** What every node's decision shares: the peers' trust, and rehearsal verdicts (most nodes share CAs). */
interface RunContext {
  options: ReloadOptions
  access: NodeAccess
  peers: PeerTrust[]
  /** Linked nodes (found from a node, not given) that --allow-target keeps this run from looking at. */
  unseenPeers: string[]
  cache: Map<string, Promise<string | null>>
}

/** How many times a node is loaded again when its files changed while it was being reloaded. */
const RACE_RELOADS = 2

/**
 * Finds the nodes, looks at all of them without changing anything (what each serves, its access and
 * files, whom it trusts), then reloads the ones that need it, replicas first, `parallel` at a time:
 * each is re-read and re-validated just before its CONFIG SET, and after it a fresh handshake must serve
 * the certificate on disk. The first failure stops the run; nodes not yet started are left untouched.
 */
export async function runReload(options: ReloadOptions): Promise<ReloadReport> {
  const started = Date.now()
  const deadline = started + options.deadlineMs
  const sockets = new Set<TLSSocket>()
  const access: NodeAccess = {seed: options.seed, readFiles: options.readFiles, deadline, sockets, allow: options.allow}
  try {
    const {discovery, targets} = await findTargets({
      seed: options.seed, nodes: options.mode === 'list' ? options.nodes : undefined, discover: options.mode === 'cluster',
      onFailure: 'nothing', timeoutMs: stepTimeout(access), deadline, tolerate: TOLERATED,
    })
    const given = order(targets).map((target): Planned => ({target, address: formatAddress(target)}))
    await inspectAll(given, access) // runPool stops waiting at the deadline
    const planned = oneEntryPerServer(given)
    const linked = await linkedPeers(planned, options, access)
    const context: RunContext = {options, access, peers: linked.peers, unseenPeers: linked.unseen, cache: new Map()}
    for (const p of planned) {
      if (p.inspected) p.assessment = await decide(p, p.inspected, context)
      else p.error ??= `not inspected within the overall deadline (${options.deadlineMs / 1000} s)`
    }
    const outside = planned.filter((p) => p.outside)
    const nodes = outside.length === 0 ? await roll(planned, context) : planned.map((p): NodeReport => (p.outside
      ? {...baseReport(p), action: 'failed', reason: p.error!}
      : {...baseReport(p), action: 'skipped', reason: `not attempted: ${outside.map((o) => o.address).join(', ')} ${outside.length > 1 ? 'are' : 'is'} outside --allow-target, and a run that cannot look at every node changes none`}))
    return summarize(options, discovery, nodes, started)
  } finally {
    for (const socket of sockets) socket.destroy()
  }
}

/** Replicas first: if a new certificate breaks something after all, it breaks where it hurts least. */
function order(targets: NodeTarget[]): NodeTarget[] {
  return [...targets.filter((t) => t.role === 'replica'), ...targets.filter((t) => t.role !== 'replica')]
}

async function inspectAll(planned: Planned[], access: NodeAccess): Promise<void> {
  await runPool(planned, {
    limit: 16, deadline: access.deadline,
    work: async (p) => {
      if (access.allow && !access.allow(p.target)) {
        p.outside = true
        p.error = outsideRules(p.target, access.allow, '--allow-target')
        return
      }
      try {
        const session = await openNodeSession(p.target, access)
        try {
          p.inspected = await inspectNode(p.target, session, access, p.address)
        } finally {
          session.close()
        }
      } catch (error) {
        p.error = (error as Error).message
        p.errorKind = failureKind(error)
      }
    },
  })
}

/** Targets naming one server several ways (host names, IPs, duplicates) are one node: the first, with the others as aliases. */
function oneEntryPerServer(planned: Planned[]): Planned[] {
  const byRunId = new Map<string, Planned>()
  const kept: Planned[] = []
  for (const p of planned) {
    const runId = p.inspected?.view.config.runId
    const first = runId ? byRunId.get(runId) : undefined
    if (first) {
      (first.aliases ??= []).push(p.address)
      continue
    }
    if (runId) byRunId.set(runId, p)
    kept.push(p)
  }
  return kept
}

/**
 * The nodes a node talks to over TLS with its certificate (tls-cluster bus peers, tls-replication primary
 * and replicas), for the rehearsals: the run's own nodes with --cluster; otherwise found from the first
 * such node, and looked at the same way.
 */
async function linkedPeers(planned: Planned[], options: ReloadOptions, access: NodeAccess): Promise<{peers: PeerTrust[]; unseen: string[]}> {
  const linked = planned.find((p) => p.inspected?.view.config.tlsCluster || p.inspected?.view.config.tlsReplication)
  if (!linked) return {peers: [], unseen: []}
  let all = planned
  let unseen: string[] = []
  if (options.mode !== 'cluster') {
    try {
      const found = await discoverFromSeed({...options.seed, host: linked.target.host, port: linked.target.port}, {timeoutMs: stepTimeout(access), deadline: access.deadline, tolerate: TOLERATED})
      const known = new Set(planned.map((p) => p.address))
      const extra = found.nodes.filter((n) => !known.has(formatAddress(n))).map((target): Planned => ({target, address: formatAddress(target)}))
      await inspectAll(extra, access)
      unseen = extra.filter((p) => p.outside).map((p) => p.address)
      const runIds = new Set(planned.map((p) => p.inspected?.view.config.runId).filter(Boolean))
      all = [...planned, ...extra.filter((p) => !runIds.has(p.inspected?.view.config.runId))]
    } catch {
      // Without the list, the rehearsals run against the run's own nodes only.
    }
  }
  const peers = all.filter((p) => p.inspected).map((p): PeerTrust => {
    const {view, material} = p.inspected!
    const local = 'reads' in material ? material : undefined
    const identity = local && identityOf(view.config, local, 'server')
    const onDisk = local?.reads['tls-cert-file']
    // Its own files stand for it only when they hold what it serves (else it is verified as served).
    const same = identity && onDisk && 'data' in onDisk && view.servedLeafDer && sameLeaf(onDisk.data, view.servedLeafDer)
    return {
      host: p.target.host, port: p.target.port, address: p.address,
      caBundle: local?.caBundle ?? null,
      identity: same ? identity : undefined,
      clientIdentity: same && local ? identityOf(view.config, local, 'client') : undefined,
      servedLeafDer: view.servedLeafDer,
      verifiesClients: view.config.tlsCluster || view.config.authClients !== 'no',
    }
  })
  return {peers, unseen}
}

function sameLeaf(certFile: Buffer, servedDer: Buffer): boolean {
  try {
    return new X509Certificate(certFile).raw.equals(servedDer)
  } catch {
    return false
  }
}

/** assessNode, then, for a node to be reloaded, the rehearsals of every handshake its new files must survive. */
async function decide(p: Planned, inspected: Inspected, context: RunContext, force = context.options.force): Promise<Assessment> {
  const {options, access} = context
  const assessment = assessNode({node: inspected.view, material: inspected.material, minDays: options.minDays, force, now: options.now})
  const material = 'reads' in inspected.material ? inspected.material : undefined
  const leaf = assessment.validated?.server?.chain[0]
  if (assessment.decision !== 'reload' || !material || !leaf) return assessment
  const {config} = inspected.view
  const server = identityOf(config, material, 'server')
  if (!server) return {...assessment, notes: [...assessment.notes, 'tls-key-file cannot be read here: no handshake rehearsed']}
  const clientFiles = config.files['tls-client-cert-file'] ? identityOf(config, material, 'client') : undefined
  const {tls} = options.seed
  const {problems, notes} = await rehearseNode({
    address: p.address,
    names: [tls.servername ?? p.target.host],
    server, client: clientFiles ?? server, clientIsServer: !clientFiles,
    leaf, servedLeaf: inspected.view.servedLeafDer && new X509Certificate(inspected.view.servedLeafDer),
    ownTrust: material.caBundle,
    clientTrust: tls.ca ?? material.caBundle,
    clientTrustName: tls.ca ? '--cacert' : 'the node\'s CA files',
    usesCertAsClient: config.tlsCluster || config.tlsReplication || Boolean(config.files['tls-client-cert-file']),
    verifiesClients: config.tlsCluster || config.authClients !== 'no',
    toolClient: config.authClients !== 'no' && tls.cert && tls.key ? {cert: tls.cert, key: tls.key} : undefined,
    peers: context.peers,
    liveVerify: (peer, trust) => liveVerify(peer, trust, options, access),
    cache: context.cache,
  })
  const unseen = context.unseenPeers.map((address) => `${address} (linked to this node) is outside --allow-target: whether it accepts the new certificate was not rehearsed`)
  if (problems.length > 0) return refuse(problems, assessment.onDisk, [...assessment.notes, ...notes, ...unseen])
  return {...assessment, notes: [...assessment.notes, ...notes, ...unseen]}
}

/** A peer whose files are not here: a real handshake verifying its chain with `trust` (names are not checked on bus links). */
async function liveVerify(peer: PeerTrust, trust: Buffer, options: ReloadOptions, access: NodeAccess): Promise<string | null> {
  const hs = await handshake(options.seed, {at: peer, ca: trust, timeoutMs: stepTimeout(access), sockets: access.sockets})
  if (!hs.ok) return null // unreachable now: nothing to say about its chain
  hs.socket.destroy()
  return hs.verifyError && hs.verifyError !== 'ERR_TLS_CERT_ALTNAME_INVALID' ? verifyReason(hs.verifyError) : null
}

/** A digest of every file as read, to tell whether the files changed since they were validated. */
function filesDigest(material: Inspected['material']): string {
  const hash = createHash('sha256')
  if ('reads' in material) {
    for (const [name, read] of Object.entries(material.reads).sort(([a], [b]) => a.localeCompare(b))) hash.update(name).update('data' in read ? read.data : '-')
    hash.update((material as LocalMaterial).caBundle ?? '-')
  }
  return hash.digest('hex')
}

async function roll(planned: Planned[], context: RunContext): Promise<NodeReport[]> {
  const {options, access} = context
  const {results, started} = await runPool(planned, {
    limit: options.parallel, deadline: access.deadline,
    work: (p) => processNode(p, context),
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

interface Outcome {
  action: Action
  reason: string
  extra: Partial<NodeReport>
  /** The files changed between validation and loading: validate and load again. */
  raced?: boolean
}

type Loaded = {inspected: Inspected; assessment: Assessment} | Outcome

async function processNode(p: Planned, context: RunContext): Promise<NodeReport> {
  const start = Date.now()
  const report = baseReport(p)
  const done = ({action, reason, extra}: Outcome): NodeReport => ({...report, ...extra, notes: [...aliasNotes(p), ...(extra.notes ?? p.assessment?.notes ?? [])], action, reason, durationMs: Date.now() - start})
  if (!p.assessment) return done({action: 'failed', reason: p.error ?? 'not inspected', extra: {errorKind: p.errorKind}})
  if (p.assessment.decision !== 'reload') return done({action: p.assessment.decision, reason: p.assessment.reason, extra: {}})
  if (context.options.dryRun) return done({action: 'would-reload', reason: p.assessment.reason, extra: {}})

  let loaded = await loadValidated(p, context, context.options.force)
  if (!('inspected' in loaded)) return done(loaded)
  const before = {before: summary(loaded.inspected.view.served)}
  for (let loads = 1; ; loads++) {
    const checked = await verify(p, loaded.inspected, loaded.assessment, context, loads > 1)
    if (!checked.raced) return done({...checked, extra: {...checked.extra, ...before}})
    const served = short(checked.extra.after?.fingerprint256)
    if (loads > RACE_RELOADS) {
      return done({action: 'failed', reason: `the files kept changing while the node was being reloaded (${loads} loads): it serves ${served}, which may not be what was validated; run again once the files are in place`, extra: {...checked.extra, ...before}})
    }
    // What the server read is not what was validated: validate what is on disk now, and load that.
    const again = await loadValidated(p, context, true)
    if (!('inspected' in again)) {
      return done({action: 'failed', reason: `the files changed while the node was being reloaded, so it may serve a certificate that was not validated (${served}), and what is on disk now is not loaded: ${again.reason}`, extra: {...again.extra, ...before, after: checked.extra.after}})
    }
    loaded = again
  }
}

/** Reads and validates the node's files as they are now, and loads them if they pass (the decision otherwise). */
async function loadValidated(p: Planned, context: RunContext, force: boolean): Promise<Loaded> {
  let session
  try {
    session = await openNodeSession(p.target, context.access)
  } catch (error) {
    return {action: 'failed', reason: (error as Error).message, extra: {errorKind: failureKind(error)}}
  }
  try {
    const inspected = await inspectNode(p.target, session, context.access, p.address)
    const assessment = await decide(p, inspected, context, force)
    if (assessment.decision !== 'reload') {
      const served = summary(inspected.view.served)
      return {action: assessment.decision, reason: assessment.reason, extra: {before: served, after: served, onDisk: assessment.onDisk, problems: assessment.problems, warnings: assessment.warnings ?? [], notes: assessment.notes}}
    }
    await configSet(session, inspected.view)
    return {inspected, assessment}
  } catch (error) {
    return {action: 'failed', reason: (error as Error).message, extra: {errorKind: failureKind(error)}}
  } finally {
    session.close()
  }
}

/**
 * After CONFIG SET: a new client must be served the certificate that was validated, and the files must
 * still be the ones validated (else the server may have read others: `raced`). Files not read here: the
 * certificate served must be valid for --min-days and verify.
 */
async function verify(p: Planned, inspected: Inspected, assessment: Assessment, context: RunContext, retry = false): Promise<Outcome> {
  const {options, access} = context
  const extra = {onDisk: assessment.onDisk, problems: assessment.problems, notes: [...assessment.notes]}
  const now = await servedNow(p.target, access)
  if (!now.ok) return {action: 'failed', reason: `reloaded, but a new handshake then failed: ${now.error}`, extra: {...extra, after: null}}
  const after = summary(now.served)
  const result = {...extra, after}
  if (assessment.onDisk) {
    const filesNow = await readMaterial(p.target, inspected.view, access)
    if (filesDigest(filesNow) !== filesDigest(inspected.material)) return {action: 'failed', reason: 'the files changed during the reload', extra: result, raced: true}
    if (now.served?.fingerprint256 !== assessment.onDisk.fingerprint256) {
      // Neither what it served before nor what was validated (or, loading again after a race, anything but
      // what was validated): it read other files than the ones validated, replaced and put back around the
      // CONFIG SET, so validate and load again.
      if (now.served && (retry || now.served.fingerprint256 !== inspected.view.served?.fingerprint256)) return {action: 'failed', reason: 'the node loaded other files than the ones validated', extra: result, raced: true}
      return {action: 'failed', reason: `CONFIG SET answered OK, but the node serves ${short(now.served?.fingerprint256)} instead of the certificate on disk ${short(assessment.onDisk.fingerprint256)}`, extra: result}
    }
  } else {
    const expiry = now.served ? Date.parse(now.served.notAfter) : 0
    const nowMs = (options.now ?? new Date()).getTime()
    const same = now.served !== null && inspected.view.served?.fingerprint256 === now.served.fingerprint256
    if (same && expiry > nowMs && expiry < nowMs + options.minDays * 86_400_000 && !now.verifyError) {
      // Reloaded because it was due: nothing renewed came back, which is for the operator, not a failure of the reload.
      return {action: 'reloaded', reason: assessment.reason, extra: {...result, warnings: [`the node serves the same certificate as before, which expires on ${now.served!.notAfter}, within --min-days ${options.minDays}: its files were not renewed`]}}
    }
    if (!now.served || expiry < nowMs + options.minDays * 86_400_000 || Date.parse(now.served.notBefore) > nowMs) {
      return {action: 'failed', reason: `after the reload the node serves a certificate valid from ${now.served?.notBefore} to ${now.served?.notAfter}: not valid for --min-days ${options.minDays} (the files were not checked here)`, extra: result}
    }
    if (now.verifyError && now.verifyError !== inspected.verifyError) {
      return {action: 'failed', reason: `after the reload the node's certificate does not verify (${now.verifyError}); the files were not checked here`, extra: result}
    }
    if (inspected.view.served?.fingerprint256 === now.served.fingerprint256) result.notes.push('the node serves the same certificate as before: its files had not changed')
  }
  if (now.verifyError && !TOLERATED.includes(now.verifyError) && now.verifyError !== inspected.verifyError) result.notes.push(`the new certificate does not verify for this client: ${now.verifyError}`)
  return {action: 'reloaded', reason: assessment.reason, extra: result}
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
    notes: [...aliasNotes(p), ...(p.assessment?.notes ?? [])],
    autoReloadInterval: view?.config.autoReloadInterval ?? null,
    durationMs: 0,
  }
}

const aliasNotes = (p: Planned) => (p.aliases ?? []).map((a) => `${a} is the same server (run_id): handled once, as ${p.address}`)

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

/** The failures of a run, for its exit code: discovery's, and each failed node's (skipped ones follow from those). */
export const runFailures = (report: Pick<ReloadReport, 'discovery' | 'nodes'>) => failureKinds(report.discovery, report.nodes.filter((n) => n.action === 'failed'))
