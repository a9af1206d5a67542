import {X509Certificate} from 'node:crypto'
import {chown, copyFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import type {TLSSocket} from 'node:tls'

import type {NodeTarget} from '../cluster/discover.js'
import {failureKinds, findTargets, type TargetDiscovery} from '../cluster/targets.js'
import {replaceFile} from '../fsutil/atomic.js'
import {readInputFile} from '../fsutil/read.js'
import type {LoadedCa} from '../pki/ca.js'
import {toPem} from '../pki/pem.js'
import {parseNodeCertificates} from '../pki/read-certificates.js'
import {runPool} from '../pool.js'
import {type NodeAccess, stepTimeout, TOLERATED} from '../reload/node.js'
import {runReload} from '../reload/run.js'
import {parseInfo} from '../server/facts.js'
import {handshake} from '../transport/handshake.js'
import {type ConnectOptions, type Endpoint} from '../transport/options.js'
import {openSession} from '../transport/session.js'
import {mintProbe, reissue} from './mint.js'
import {type NodeState, type ObserveContext, observeNode, unobserved} from './observe.js'
import {finishRefusal, leavesNew, NEXT_TEXT, type Phase, phaseOf, safeSteps, type Step, type StepKind, trustsNew} from './plan.js'
import {originOf, sameCa} from './trust.js'

export interface RotateOptions {
  /** The connection (its CA bundle already holds the new CA, so new leaves verify), and the seed. */
  seed: ConnectOptions
  /** Exactly these nodes (else every node found from the seed: a rotation is of a whole cluster). */
  nodes?: Endpoint[]
  newCa: X509Certificate
  /** With the new CA's key: probe certificates, and re-issued leaves. */
  signer?: LoadedCa
  /**
   * Without the key: renewed certificates from the new CA, for each node's own key, named after the node:
   * HOST_PORT.crt (and HOST_PORT.client.crt for tls-client-cert-file; IPv6 colons as underscores).
   */
  leafDir?: string
  apply: boolean
  finish: boolean
  minDays: number
  deadlineMs: number
  /** Whose files are read (and changed) here: as reload's --read-files (auto: nodes at an address of this machine). */
  readFiles: NodeAccess['readFiles']
  /** Progress, one line per step, as it happens. */
  onStep?: (line: string) => void
}

export interface NodeSummary {
  address: string
  role: NodeTarget['role']
  served: string | null
  certFile: string | null
  clientCertFile: string | null
  caFile: {new: boolean; old: boolean} | null
  trustsNew: boolean | null
  local: boolean
  manualBecause: string | null
  error: string | null
  notes: string[]
}

export interface StepReport {
  address: string
  kind: StepKind
  outcome: 'done' | 'refused' | 'failed' | 'would'
  reason: string
  /** Files replaced, each with the copy of what it held before. */
  files: Array<{path: string; previous: string}>
}

export interface RotateReport {
  discovery: TargetDiscovery
  phaseBefore: Phase | null
  phase: Phase | null
  nodes: NodeSummary[]
  steps: StepReport[]
  /** Per node, what to do by hand where the files are not changed from here. */
  manual: string[]
  next: string
  /** ok: nothing wrong (done, or stopped where the next step waits for the operator); refused: an unsafe step was refused; failed: a node failed. */
  status: 'ok' | 'refused' | 'failed'
  error: string | null
  errorKind?: 'auth' | 'server'
}

/** Suffixes of the copies kept beside a replaced file: what it held before each phase touched it. */
const BEFORE: Record<StepKind, string> = {widen: '.before-widen', 'move-leaf': '.before-new-leaf', narrow: '.before-narrow'}

/**
 * Looks at every node; with --apply performs the steps that are safe now, node by node, re-looking after
 * each phase, until the next step needs the operator (--finish, files not writable here) or all is done.
 * Every reload goes through `reload` (its rehearsals refuse what peers would not accept); after every
 * node, the cluster must be ok and replicas linked, or the run stops.
 */
export async function runRotate(options: RotateOptions): Promise<RotateReport> {
  const deadline = Date.now() + options.deadlineMs
  const sockets = new Set<TLSSocket>()
  const access: NodeAccess = {seed: options.seed, readFiles: options.readFiles, deadline, sockets}
  const probe = options.signer ? await mintProbe(options.signer, options.deadlineMs) : undefined
  const context: ObserveContext = {access, newCa: options.newCa, probe}
  const report: RotateReport = {discovery: undefined as unknown as TargetDiscovery, phaseBefore: null, phase: null, nodes: [], steps: [], manual: [], next: '', status: 'ok', error: null}
  try {
    const {discovery, targets} = await findTargets({
      seed: options.seed, nodes: options.nodes, discover: !options.nodes, onFailure: 'nothing', timeoutMs: stepTimeout(access), deadline, tolerate: TOLERATED,
    })
    report.discovery = discovery
    if (discovery.error) return {...report, status: 'failed', error: discovery.error, errorKind: discovery.errorKind}
    const look = async () => {
      const states = await observeAll(targets, context)
      report.nodes = states.map(summarize)
      return states
    }
    let states = await look()
    const broken = states.filter((s) => s.error)
    if (broken.length > 0) {
      const kinds = failureKinds(discovery, broken)
      return {...report, status: 'failed', error: `${broken.map((s) => `${s.address}: ${s.error}`).join('; ')}: the phase cannot be told without every node`, errorKind: kinds.every((k) => k === 'auth') ? 'auth' : 'server'}
    }
    report.phaseBefore = phaseOf(states)
    const finishOnly = options.finish && !options.apply
    const refusal = finishOnly ? finishRefusal(states) : null
    if (refusal) return {...report, phase: report.phaseBefore, status: 'refused', error: `--finish refused: ${refusal}`, next: NEXT_TEXT[report.phaseBefore]}
    let reasserted = false
    for (let round = 0; round < 4; round++) {
      const phase = phaseOf(states)
      report.phase = phase
      report.next = NEXT_TEXT[phase]
      const steps = safeSteps(states, options.finish)
      if (steps.length === 0) break
      if (!options.apply && !finishOnly) {
        report.steps.push(...steps.map((s) => ({address: s.node.address, kind: s.kind, outcome: 'would' as const, reason: whatStepDoes(s), files: []})))
        report.manual = manualSteps(steps, options)
        break
      }
      if (steps[0]!.kind === 'move-leaf' && !options.signer && !options.leafDir) {
        report.next = 'next: phase 2 needs the new CA\'s key (--new-ca-key) to re-issue each node\'s certificate, or the renewed certificates (--leaf-dir)'
        break
      }
      const manual = steps.filter((s) => !s.node.local)
      let local = steps.filter((s) => s.node.local)
      if (local[0]?.kind === 'move-leaf' && !probe && manual.length === 0 && !reasserted) {
        // Without a probe the CA files are all there is to go by, and a file can be ahead of what its node
        // loaded (a run killed between the two): load every node's files once more before any leaf moves.
        local = [...states.map((node) => ({kind: 'widen' as const, node})), ...local]
        reasserted = true
      }
      for (const step of local) {
        const done = await runStep(step, options, context, states)
        report.steps.push(done)
        options.onStep?.(`${done.address}: ${done.kind} ${done.outcome}: ${done.reason}`)
        if (done.outcome !== 'done') {
          report.status = done.outcome === 'refused' ? 'refused' : 'failed'
          report.error = `${done.address}: ${done.reason}`
          report.next = rollbackText(done)
          states = await look()
          report.phase = phaseOf(states)
          return report
        }
      }
      states = await look()
      if (manual.length > 0) {
        report.manual = manualSteps(manual, options)
        report.phase = phaseOf(states)
        report.next = `next: the steps below, by hand, on ${manual.length} node(s); then run again (status confirms each one)`
        return report
      }
    }
    report.phase = phaseOf(states)
    return report
  } finally {
    for (const socket of sockets) socket.destroy()
  }
}

async function observeAll(targets: NodeTarget[], context: ObserveContext): Promise<NodeState[]> {
  const {results} = await runPool(targets, {limit: 16, deadline: context.access.deadline, work: (t) => observeNode(t, context)})
  return results.map((r, i) => r ?? unobserved(targets[i]!, 'not looked at within the overall deadline'))
}

function summarize(s: NodeState): NodeSummary {
  return {address: s.address, role: s.role, served: s.served, certFile: s.certFile, clientCertFile: s.hasClientCert ? s.clientCertFile : null, caFile: s.caFile, trustsNew: s.trustsNew, local: s.local, manualBecause: s.manualBecause, error: s.error, notes: s.notes}
}

function whatStepDoes(step: Step): string {
  const {node} = step
  switch (step.kind) {
    case 'widen': return node.caFile?.new ? 'reload, so the node loads its CA file, which holds the new CA already' : `add the new CA to ${node.paths.ca ?? 'its CA file'} (kept as ${node.paths.ca}${BEFORE.widen}), then reload`
    case 'move-leaf': return `replace ${node.paths.cert}${node.hasClientCert ? ` and ${node.paths.clientCert}` : ''} with a certificate from the new CA (re-issued with the same subject, names and key, or from --leaf-dir), then reload`
    case 'narrow': return node.caFile?.old === false ? 'reload, so the node loads its CA file, which holds the new CA alone already' : `make ${node.paths.ca} hold the new CA alone (kept as ${node.paths.ca}${BEFORE.narrow}), then reload`
  }
}

/** The per-node steps for nodes whose files are not changed from here. */
function manualSteps(steps: Step[], options: RotateOptions): string[] {
  return steps.filter((s) => !s.node.local).map(({kind, node}) => {
    const reload = `valkey-tls reload --force --nodes ${node.address}`
    const why = node.manualBecause ? ` (${node.manualBecause})` : ''
    switch (kind) {
      case 'widen': return `${node.address}${why}: append the new CA (${options.newCa.subject.replace(/\n/g, ', ')}) to its tls-ca-cert-file ${node.config?.files['tls-ca-cert-file'] ?? ''}, then ${reload}`
      case 'move-leaf': return `${node.address}${why}: install a certificate from the new CA with the same subject and names as tls-cert-file ${node.config?.files['tls-cert-file'] ?? ''}${node.hasClientCert ? ' (and tls-client-cert-file)' : ''}, then valkey-tls reload --nodes ${node.address}`
      case 'narrow': return `${node.address}${why}: make its tls-ca-cert-file hold the new CA alone, then ${reload}`
    }
  })
}

function rollbackText(step: StepReport): string {
  if (step.files.length === 0) return `nothing was changed on ${step.address}; the cluster keeps working as it did`
  const restore = step.files.map((f) => `cp -p ${f.previous} ${f.path}`).join('; ')
  const newCert = step.kind === 'narrow' && /this tool's client certificate/.test(step.reason) ? '; to narrow, this tool must present a certificate from the new CA (--cert/--key)' : ''
  return step.outcome === 'refused'
    ? `nothing was loaded on ${step.address}, and its files were put back${newCert}`
    : `to roll ${step.address} back: ${restore}; then valkey-tls reload --force --nodes ${step.address}`
}

/** One node's step: the files replaced (the previous ones kept beside them), the reload, and the checks after it. */
async function runStep(step: Step, options: RotateOptions, context: ObserveContext, states: NodeState[]): Promise<StepReport> {
  const {node} = step
  const {access} = context
  const report: StepReport = {address: node.address, kind: step.kind, outcome: 'done', reason: '', files: []}
  const replace = async (path: string, data: Buffer) => {
    const previous = `${path}${BEFORE[step.kind]}`
    const {mode, uid, gid} = await stat(path)
    await copyFile(path, previous)
    // The roll-back is `cp -p` of it: it must bring the owner back too.
    const copy = await stat(previous)
    if (copy.uid !== uid || copy.gid !== gid) await chown(previous, uid, gid)
    await replaceFile(path, data, mode & 0o777, {uid, gid})
    report.files.push({path, previous})
  }
  try {
    if (step.kind === 'widen' && !node.caFile?.new) {
      const current = await readInputFile(node.paths.ca!, 'tls-ca-cert-file')
      const newPem = toPem('CERTIFICATE', options.newCa.raw)
      await replace(node.paths.ca!, Buffer.concat([current, current.length > 0 && current[current.length - 1] !== 0x0a ? Buffer.from('\n') : Buffer.alloc(0), Buffer.from(newPem)]))
    } else if (step.kind === 'move-leaf') {
      for (const [path, which] of [[node.paths.cert, 'crt'], [node.hasClientCert ? node.paths.clientCert : undefined, 'client.crt']] as const) {
        if (!path) continue
        const [leaf] = parseNodeCertificates(await readInputFile(path, which === 'crt' ? 'tls-cert-file' : 'tls-client-cert-file'), path)
        if (originOf(leaf!, options.newCa) === 'new') continue // moved already (a resumed run)
        if (options.signer) {
          await replace(path, await reissue(leaf!.raw, options.signer))
          continue
        }
        const renewed = join(options.leafDir!, `${node.target.host.replace(/:/g, '_')}_${node.target.port}.${which}`)
        const data = await readInputFile(renewed, '--leaf-dir certificate')
        const [first] = parseNodeCertificates(data, renewed)
        if (originOf(first!, options.newCa) !== 'new') return {...report, outcome: 'refused', reason: `${renewed} is not issued by the new CA`}
        await replace(path, data)
      }
    } else if (step.kind === 'narrow') {
      const cas = node.material?.caCerts ?? []
      if (cas.some((c) => !sameCa(c, options.newCa))) await replace(node.paths.ca!, Buffer.from(toPem('CERTIFICATE', options.newCa.raw)))
    }
  } catch (error) {
    return {...report, outcome: 'failed', reason: `cannot write the node's files: ${(error as Error).message}`}
  }

  const reloaded = await runReload({
    seed: access.seed, mode: 'list', nodes: [node.target], readFiles: access.readFiles, minDays: options.minDays,
    force: step.kind !== 'move-leaf', dryRun: false, parallel: 1, deadlineMs: Math.max(1000, access.deadline - Date.now()),
  })
  const result = reloaded.nodes[0]
  if (!result || result.action !== 'reloaded') {
    const why = result ? `${result.action}: ${result.reason}` : 'reload found no node'
    if (result?.action === 'refused' || result?.action === 'unchanged') {
      // Nothing was loaded: put the files back, so that what is on disk is what runs.
      for (const f of report.files) await copyFile(f.previous, f.path)
      return {...report, outcome: 'refused', reason: `reload ${why}`}
    }
    return {...report, outcome: 'failed', reason: `reload ${why}`}
  }
  const problem = await checkAfter(step, options, context, states)
  if (problem) return {...report, outcome: 'failed', reason: problem}
  report.reason = step.kind === 'widen' ? 'trusts both CAs' : step.kind === 'move-leaf' ? 'serves a certificate from the new CA' : 'trusts the new CA alone'
  return report
}

/** After a node's step: it shows the change (trusts the new CA; its bus serves a new-CA chain), and the whole cluster is ok with replicas linked. */
async function checkAfter(step: Step, options: RotateOptions, context: ObserveContext, states: NodeState[]): Promise<string | null> {
  const {node} = step
  const {access} = context
  if (step.kind !== 'narrow' && context.probe) {
    const again = await observeNode(node.target, context)
    if (!trustsNew(again)) return 'reloaded, but the node does not accept a certificate from the new CA'
    if (step.kind === 'move-leaf' && !leavesNew(again)) return 'reloaded, but the node does not serve a certificate from the new CA'
  }
  if (step.kind === 'move-leaf' && node.config.tlsCluster && node.target.busPort) {
    const hs = await handshake(access.seed, {at: {host: node.target.host, port: node.target.busPort}, ca: Buffer.from(toPem('CERTIFICATE', options.newCa.raw)), timeoutMs: stepTimeout(access), sockets: access.sockets})
    if (!hs.ok) return `cluster bus ${node.target.busPort}: ${hs.failure.cause}`
    hs.socket.destroy()
    if (hs.verifyError && hs.verifyError !== 'ERR_TLS_CERT_ALTNAME_INVALID') return `cluster bus ${node.target.busPort} serves a chain the new CA does not verify (${hs.verifyError})`
  }
  return healthy(states.map((s) => s.target), access)
}

/** Every cluster node says cluster_state:ok and every replica's link to its primary is up (15 s to settle). */
export async function healthy(targets: NodeTarget[], access: NodeAccess): Promise<string | null> {
  const until = Math.min(access.deadline, Date.now() + 15_000)
  let problem: string | null = null
  for (;;) {
    problem = null
    for (const target of targets) {
      try {
        const session = await openSession(access.seed, {at: target, timeoutMs: stepTimeout(access), deadline: access.deadline, tolerate: TOLERATED})
        try {
          const info = parseInfo(String(await session.call('INFO', 'replication', 'cluster')))
          if (info.cluster_enabled === '1') {
            const state = parseInfo(String(await session.call('CLUSTER', 'INFO'))).cluster_state
            if (state !== 'ok') problem = `${session.address}: cluster_state:${state}`
          }
          if (info.role === 'slave' && info.master_link_status !== 'up') problem = `${session.address}: replication link ${info.master_link_status}`
        } finally {
          session.close()
        }
      } catch (error) {
        problem = (error as Error).message
      }
      if (problem) break
    }
    if (!problem || Date.now() > until) return problem
    await new Promise((r) => setTimeout(r, 500))
  }
}
