import {isIP} from 'node:net'

import {usageError} from '../errors.js'
import type {Endpoint} from '../transport/options.js'
import {parseInfo} from '../server/facts.js'
import {displayText} from '../x509/text.js'

export type NodeRole = 'primary' | 'replica' | 'standalone' | 'sentinel' | 'unknown'

export interface NodeTarget extends Endpoint {
  role: NodeRole
  /** Cluster node id, when known. */
  id?: string
  /** Cluster bus port, when known (cluster mode). */
  busPort?: number
  /** What the cluster says of the node's health (CLUSTER SHARDS) or its flags (CLUSTER NODES). */
  health?: string
}

/** Runs one command on the seed and returns its reply; error replies throw. */
export type CommandRunner = (...args: string[]) => Promise<unknown>

export interface Discovery {
  mode: 'cluster' | 'standalone' | 'sentinel' | 'list'
  method: 'CLUSTER SHARDS' | 'CLUSTER NODES' | 'INFO replication' | 'SENTINEL MASTERS' | '--nodes'
  nodes: NodeTarget[]
}

/** A DNS name or an IP address (IPv6 with an optional zone): nothing a terminal or a resolver could be fooled by. */
export function isHostName(host: string): boolean {
  return isIP(host) !== 0 || (host.length <= 253 && /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/.test(host))
}

/** Parses `--nodes host:port,[::1]:port,...`. */
export function parseNodeList(raw: string): Endpoint[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean)
  if (entries.length === 0) throw usageError('--nodes needs at least one host:port')
  return entries.map((entry) => {
    const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(entry)
    const port = Number(match?.[3])
    if (!match || port < 1 || port > 65_535) throw usageError(`--nodes entry "${displayText(entry)}" is not host:port (IPv6 as [addr]:port)`)
    const host = match[1] ?? match[2]!
    if (match[1] && isIP(host) !== 6) throw usageError(`--nodes entry "${displayText(entry)}": "${displayText(host)}" is not an IPv6 address`)
    if (!isHostName(host)) throw usageError(`--nodes entry "${displayText(entry)}": "${displayText(host)}" is not a host name or IP address`)
    return {host, port}
  })
}

/**
 * Every node reachable from a seed: the cluster's primaries and replicas (CLUSTER SHARDS for roles and
 * health, CLUSTER NODES for bus ports, and alone on servers without SHARDS), or a standalone server and
 * its replicas (INFO replication).
 */
export async function discoverNodes(call: CommandRunner, seed: Endpoint): Promise<Discovery> {
  const found = await discover(call, seed)
  for (const node of found.nodes) {
    // What a seed reports is connected to and printed: a hostile or broken one gets no further than this.
    if (!isHostName(node.host)) throw new Error(`the seed reported a node at "${displayText(node.host)}", which is not a host name or IP address`)
    if (node.health !== undefined) node.health = displayText(node.health)
    if (node.id !== undefined) node.id = displayText(node.id)
  }
  return found
}

async function discover(call: CommandRunner, seed: Endpoint): Promise<Discovery> {
  const clusterInfo = parseInfo(String(await call('INFO', 'cluster')))
  if (clusterInfo.cluster_enabled !== '1') return discoverStandalone(call, seed)
  const fromNodes = parseClusterNodes(String(await call('CLUSTER', 'NODES')))
  let shards: NodeTarget[] | undefined
  try {
    shards = parseClusterShards(await call('CLUSTER', 'SHARDS'))
  } catch (error) {
    if (!/unknown (sub)?command|ERR Unknown/i.test(String((error as Error).message) + String((error as {cause?: Error}).cause?.message))) throw error
  }
  if (!shards) return {mode: 'cluster', method: 'CLUSTER NODES', nodes: fromNodes}
  const busPorts = new Map(fromNodes.map((n) => [n.id, n.busPort]))
  return {mode: 'cluster', method: 'CLUSTER SHARDS', nodes: shards.map((n) => ({...n, busPort: busPorts.get(n.id)}))}
}

async function discoverStandalone(call: CommandRunner, seed: Endpoint): Promise<Discovery> {
  const info = parseInfo(String(await call('INFO', 'replication')))
  const nodes: NodeTarget[] = []
  if (info.role === 'slave' && info.master_host) {
    nodes.push({host: info.master_host, port: Number(info.master_port), role: 'primary'})
    nodes.push({...seed, role: 'replica'})
  } else {
    nodes.push({...seed, role: 'standalone'})
  }
  for (const [key, value] of Object.entries(info)) {
    if (!/^slave\d+$/.test(key)) continue
    const fields = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]))
    if (fields.ip && fields.port) nodes.push({host: fields.ip, port: Number(fields.port), role: 'replica', health: fields.state})
  }
  if (nodes.length > 1 && nodes[0]!.role === 'standalone') nodes[0]!.role = 'primary'
  return {mode: 'standalone', method: 'INFO replication', nodes}
}

/** CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> ...`; nodes without an address are skipped. */
export function parseClusterNodes(text: string): NodeTarget[] {
  const nodes: NodeTarget[] = []
  for (const line of text.split('\n')) {
    const [id, address, flags] = line.trim().split(' ')
    if (!id || !address || !flags || /noaddr/.test(flags)) continue
    const match = /^(.*):(\d+)@(\d+)/.exec(address.split(',')[0]!)
    if (!match || match[1] === '' || match[2] === '0') continue
    const role: NodeRole = /master/.test(flags) ? 'primary' : /slave|replica/.test(flags) ? 'replica' : 'unknown'
    const health = flags.split(',').filter((f) => /^(fail\??|pfail|handshake)$/.test(f)).join(',') || 'online'
    nodes.push({id, host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]), busPort: Number(match[3]), role, health})
  }
  return nodes
}

/** CLUSTER SHARDS (RESP2: flat key/value lists). Prefers `endpoint`, then `ip`; `tls-port`, then `port`. */
export function parseClusterShards(reply: unknown): NodeTarget[] {
  if (!Array.isArray(reply)) throw new Error('CLUSTER SHARDS: unexpected reply')
  const nodes: NodeTarget[] = []
  for (const shard of reply) {
    const shardMap = toMap(shard)
    for (const node of (shardMap.get('nodes') as unknown[] | undefined) ?? []) {
      const n = toMap(node)
      const endpoint = String(n.get('endpoint') ?? '')
      const host = endpoint && endpoint !== '?' ? endpoint : String(n.get('ip') ?? '')
      const port = Number(n.get('tls-port') ?? n.get('port'))
      if (!host || !port) continue
      const role = n.get('role') === 'master' ? 'primary' : n.get('role') === 'replica' ? 'replica' : 'unknown'
      nodes.push({id: String(n.get('id')), host, port, role, health: String(n.get('health') ?? 'unknown')})
    }
  }
  return nodes
}

function toMap(flat: unknown): Map<string, unknown> {
  const map = new Map<string, unknown>()
  if (!Array.isArray(flat)) return map
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1])
  return map
}
