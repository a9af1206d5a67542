import {serverError} from '../errors.js'
import {TransportError} from '../transport/errors.js'
import {type ConnectOptions, type Endpoint, formatAddress} from '../transport/options.js'
import {openSession} from '../transport/session.js'
import {displayText} from '../x509/text.js'
import {type CommandRunner, type Discovery, isHostName, type NodeRole, type NodeTarget} from './discover.js'

/** Flags of a Sentinel entry that say it is not healthy (the rest: master, slave, sentinel, promoted, ...). */
const UNHEALTHY = new Set(['s_down', 'o_down', 'disconnected'])

/** One entry of SENTINEL MASTERS / REPLICAS / SENTINELS: its fields, by name. */
export type SentinelEntry = Map<string, string>

/**
 * Every node a Sentinel knows of, asked over one TLS session (closed afterwards): the primaries it
 * monitors, their replicas, the other sentinels, and the sentinel itself. Failures throw one line.
 */
export async function discoverFromSentinel(sentinel: ConnectOptions, options: {timeoutMs: number; deadline?: number; tolerate?: string[]}): Promise<Discovery> {
  const session = await openSession(sentinel, {timeoutMs: options.timeoutMs, deadline: options.deadline, tolerate: options.tolerate})
  try {
    return await askSentinel(session.call, sentinel)
  } finally {
    session.close()
  }
}

/**
 * SENTINEL MASTERS, then per primary SENTINEL REPLICAS (SLAVES before Redis 5) and SENTINEL SENTINELS.
 * Each node once (by address; the sentinel asked by its id too, as others may know it by another address),
 * in this order: each primary and its replicas, then the sentinel asked, then the other sentinels.
 */
export async function askSentinel(call: CommandRunner, sentinel: Endpoint): Promise<Discovery> {
  const masters = parseSentinelEntries(await notASentinel(sentinel, () => call('SENTINEL', 'MASTERS')), 'SENTINEL MASTERS')
  const myId = await call('SENTINEL', 'MYID').then((id) => (isRunId(id) ? id : undefined), () => undefined) // Redis 6.2+, every Valkey
  const data: NodeTarget[] = []
  const sentinels: NodeTarget[] = [{host: sentinel.host, port: sentinel.port, role: 'sentinel', ...(myId ? {id: myId} : {}), health: 'online'}]
  for (const master of masters) {
    const name = master.get('name') ?? ''
    data.push(...toTargets([master], 'primary'))
    const replicas = await call('SENTINEL', 'REPLICAS', name).catch((error: unknown) => {
      if (!isUnknownSubcommand(error)) throw error
      return call('SENTINEL', 'SLAVES', name)
    })
    data.push(...toTargets(parseSentinelEntries(replicas, 'SENTINEL REPLICAS'), 'replica'))
    const others = parseSentinelEntries(await call('SENTINEL', 'SENTINELS', name), 'SENTINEL SENTINELS')
    sentinels.push(...toTargets(others.filter((s) => myId === undefined || s.get('runid') !== myId), 'sentinel'))
  }
  const seen = new Set<string>()
  const nodes = [...data, ...sentinels].filter((node) => {
    const key = formatAddress(node)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  return {mode: 'sentinel', method: 'SENTINEL MASTERS', nodes}
}

/**
 * A SENTINEL MASTERS / REPLICAS / SENTINELS reply (RESP2: an array of flat field/value arrays) as one
 * map per entry. Anything else is an error naming `command`.
 */
export function parseSentinelEntries(reply: unknown, command: string): SentinelEntry[] {
  if (!Array.isArray(reply)) throw serverError(`${command}: unexpected reply`)
  return reply.map((flat) => {
    if (!Array.isArray(flat)) throw serverError(`${command}: unexpected reply`)
    const entry: SentinelEntry = new Map()
    for (let i = 0; i + 1 < flat.length; i += 2) entry.set(String(flat[i]), String(flat[i + 1]))
    return entry
  })
}

/**
 * Entries as targets: `ip` and `port` (what the node announced: with tls-replication, its TLS port),
 * `runid` as the id, the s_down / o_down / disconnected flags as health (else online). Entries without a
 * usable address are skipped; an address that is not a host name throws (it would be connected to and printed).
 */
export function toTargets(entries: SentinelEntry[], role: NodeRole): NodeTarget[] {
  const nodes: NodeTarget[] = []
  for (const entry of entries) {
    const host = entry.get('ip') ?? ''
    const port = Number(entry.get('port'))
    if (host === '' || host === '?' || !Number.isInteger(port) || port < 1 || port > 65_535) continue
    if (!isHostName(host)) throw serverError(`the sentinel reported a ${role} at "${displayText(host)}", which is not a host name or IP address`)
    const flags = (entry.get('flags') ?? '').split(',').filter((flag) => UNHEALTHY.has(flag))
    const runid = entry.get('runid')
    nodes.push({host, port, role, ...(isRunId(runid) ? {id: runid} : {}), health: flags.join(',') || 'online'})
  }
  return nodes
}

/** A server that is no Sentinel refuses SENTINEL: say so, rather than "unknown command". */
async function notASentinel(at: Endpoint, ask: () => Promise<unknown>): Promise<unknown> {
  try {
    return await ask()
  } catch (error) {
    const reply = error instanceof TransportError ? error.reply : undefined
    if (reply === undefined || !/unknown command/i.test(reply)) throw error
    throw serverError(`${formatAddress(at)}: not a Sentinel (SENTINEL MASTERS: ${displayText(reply)}); leave out --sentinel to discover from a data node`, error)
  }
}

const isRunId = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{40}$/i.test(value)

function isUnknownSubcommand(error: unknown): boolean {
  const reply = error instanceof TransportError ? error.reply : (error as Error | undefined)?.message
  return /unknown (sentinel )?subcommand/i.test(String(reply))
}
