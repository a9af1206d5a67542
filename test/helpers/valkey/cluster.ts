/**
 * Valkey clusters over TLS for integration tests: `startCluster` starts the nodes (./server.ts), joins them
 * with `valkey-cli --cluster create` and waits until every node agrees the cluster is whole.
 */
import {parseInfo} from '../resp.js'
import {sleep} from '../server-process.js'
import {startValkey, type ValkeyConfig, type ValkeyHandle, type ValkeyTls} from './server.js'

export interface StartClusterOptions {
  primaries?: number
  replicasPerPrimary?: number
  tls: ValkeyTls
  /** Node i's own TLS files (default: `tls` for every node). */
  tlsFor?: (index: number) => ValkeyTls
  authClients?: 'yes' | 'no' | 'optional'
  config?: ValkeyConfig
  /** Overall deadline for create + convergence. Default 60 s. */
  timeoutMs?: number
}

export interface ValkeyCluster {
  nodes: ValkeyHandle[]
  /** Stops every node (in parallel). */
  stop(): Promise<void>
}

export interface ClusterNodeLine {
  id: string
  address: string
  flags: string[]
  primaryId: string
  linkState: string
  slots: string[]
}

export function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ')
      return {
        id: f[0]!,
        address: f[1]!,
        flags: f[2]!.split(','),
        primaryId: f[3]!,
        linkState: f[7]!,
        slots: f.slice(8),
      }
    })
}

/**
 * Start `primaries * (1 + replicasPerPrimary)` cluster nodes (tls-cluster,
 * tls-replication), join them with `valkey-cli --cluster create` over TLS and
 * wait until every node reports cluster_state:ok, knows all nodes, sees the
 * expected number of replicas, and every replica's master_link_status is up.
 */
export async function startCluster(opts: StartClusterOptions): Promise<ValkeyCluster> {
  const primaries = opts.primaries ?? 3
  const replicas = opts.replicasPerPrimary ?? 1
  const total = primaries * (1 + replicas)
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
  const nodes: ValkeyHandle[] = []
  const cluster: ValkeyCluster = {
    nodes,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()))
    },
  }
  try {
    const started = await Promise.allSettled(
      Array.from({length: total}, (_, i) =>
        startValkey({tls: opts.tlsFor?.(i) ?? opts.tls, authClients: opts.authClients, config: opts.config, cluster: true, name: `cluster-node${i}`}),
      ),
    )
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value)
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed) throw failed.reason

    const first = nodes[0]!
    await first.cli(
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      {timeoutMs: Math.max(5000, deadline - Date.now())},
    )

    let last = ''
    for (;;) {
      const problems: string[] = []
      await Promise.all(
        nodes.map(async (n) => {
          try {
            const info = parseInfo(String(await n.command('CLUSTER', 'INFO')))
            const lines = parseClusterNodes(String(await n.command('CLUSTER', 'NODES')))
            const nReplicas = lines.filter((l) => l.flags.includes('slave') || l.flags.includes('replica')).length
            const bad = lines.filter((l) => l.flags.some((f) => /fail|handshake|noaddr/.test(f)) || l.linkState !== 'connected')
            if (info.cluster_state !== 'ok') problems.push(`${n.port}: cluster_state:${info.cluster_state}`)
            if (Number(info.cluster_known_nodes) !== total) problems.push(`${n.port}: known_nodes ${info.cluster_known_nodes}/${total}`)
            if (nReplicas !== primaries * replicas) problems.push(`${n.port}: sees ${nReplicas} replicas`)
            const self = lines.find((l) => l.flags.includes('myself'))
            if (self && (self.flags.includes('slave') || self.flags.includes('replica'))) {
              const link = parseInfo(String(await n.command('INFO', 'replication'))).master_link_status
              if (link !== 'up') problems.push(`${n.port}: master_link_status:${link}`)
            }
            if (bad.length) problems.push(`${n.port}: ${bad.map((b) => `${b.address} ${b.flags.join(',')} ${b.linkState}`).join('; ')}`)
          } catch (e) {
            problems.push(`${n.port}: ${(e as Error).message}`)
          }
        }),
      )
      if (problems.length === 0) break
      last = problems.join('\n')
      if (Date.now() > deadline) throw new Error(`cluster did not converge:\n${last}\n${nodes[0]!.logTail(20)}`)
      await sleep(200)
    }
    return cluster
  } catch (e) {
    await cluster.stop()
    throw e
  }
}
