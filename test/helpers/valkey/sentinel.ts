/**
 * Real Valkey Sentinels over TLS for integration tests (`valkey-server <config> --sentinel`), loopback only,
 * and a wait until a set of them agrees on a primary, its replicas and each other.
 *
 * A sentinel gets the same TLS directives as the data nodes (./server.ts) plus `tls-replication yes`, which
 * makes every link it opens (to primaries, replicas and other sentinels) TLS, and makes it announce its
 * tls-port to the others. Sentinel rewrites its own config file (its id, the replicas and sentinels it
 * found): restart() therefore edits the file only once the process is gone.
 *
 * Cleanup as for ./server.ts: every handle is tracked, an afterAll() registered on import stops them,
 * a process 'exit' handler SIGKILLs what is left, and pids are recorded for the globalSetup teardown.
 */
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {afterAll} from 'vitest'

import {freePort} from '../ports.js'
import {type Resp, tlsCommand, type TlsClientOptions, TlsRespClient} from '../resp.js'
import {killOnExit, type ProbeConnection, ServerProcess, sleep, type Spawned, spawnServer} from '../server-process.js'
import {makeTempDir} from '../temp.js'
import {valkeyServerPath} from './binaries.js'
import {mergeConfig, q, renderConfig, type ValkeyConfig, type ValkeyHandle, type ValkeyTls} from './server.js'

export interface StartSentinelOptions {
  tls: ValkeyTls
  /** The primary to monitor, under `name` (default 'mymaster'), with `quorum` (default 2). */
  monitor: {primary: Pick<ValkeyHandle, 'port'>; name?: string; quorum?: number}
  /** tls-auth-clients; omitted → not written (Valkey's default: yes). */
  authClients?: 'yes' | 'no' | 'optional'
  /** Extra directives; override the defaults key by key (case-insensitive). */
  config?: ValkeyConfig
  /** down-after-milliseconds for the monitored primary (and what Sentinel finds from it). Default 2000. */
  downAfterMs?: number
  readyTimeoutMs?: number
  name?: string
}

export interface RestartSentinelOptions {
  /** Directives to set in the config file. */
  config?: Record<string, string>
  /** What our own connections use from now on (e.g. `verifyCa` once the sentinel serves another CA's certificate). */
  tls?: Partial<ValkeyTls>
  readyTimeoutMs?: number
}

export interface SentinelHandle {
  readonly host: '127.0.0.1'
  readonly port: number
  readonly pid: number
  readonly dir: string
  readonly configFile: string
  readonly logFile: string
  readonly tls: ValkeyTls
  /** One command over a fresh TLS connection (rejects on RESP errors). */
  command(...args: Array<string | number>): Promise<Resp>
  stop(graceMs?: number): Promise<void>
  /**
   * Stop, set `config`'s directives in the config file the sentinel rewrote (replacing lines of the same
   * name, else appending), start again with it and wait until it answers PING. Its id and what it knew stay.
   */
  restart(opts?: RestartSentinelOptions): Promise<void>
  logTail(lines?: number): string
}

const registry = new Set<Sentinel>()

class Sentinel extends ServerProcess implements SentinelHandle {
  readonly host = '127.0.0.1' as const

  constructor(spawned: Spawned, readonly port: number, readonly dir: string, logFile: string, readonly configFile: string, public tls: ValkeyTls) {
    super(spawned, logFile, 'valkey-server --sentinel', registry)
  }

  protected override connect(timeoutMs: number): Promise<ProbeConnection> {
    return TlsRespClient.connect({...this.clientOptions(), timeoutMs})
  }

  clientOptions(): TlsClientOptions {
    return {port: this.port, host: '127.0.0.1', ca: this.tls.verifyCa ?? this.tls.caCert, cert: this.tls.clientCert ?? this.tls.cert, key: this.tls.clientKey ?? this.tls.key, servername: this.tls.servername}
  }

  command(...args: Array<string | number>): Promise<Resp> {
    return tlsCommand(this.clientOptions(), ...args)
  }

  async restart(opts: RestartSentinelOptions = {}): Promise<void> {
    await this.stop()
    let text = await readFile(this.configFile, 'utf8')
    for (const [key, value] of Object.entries(opts.config ?? {})) {
      const line = `${key} ${value}`
      const pattern = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}\\s.*$`, 'im')
      text = pattern.test(text) ? text.replace(pattern, () => line) : `${text.trimEnd()}\n${line}\n`
    }
    await writeFile(this.configFile, text)
    if (opts.tls) this.tls = {...this.tls, ...opts.tls}
    this.attach(await spawnServer(valkeyServerPath(), [this.configFile, '--sentinel'], this.dir))
    await this.waitReady(Date.now() + (opts.readyTimeoutMs ?? 10_000))
  }
}

/** Start a TLS-only Sentinel on loopback monitoring `opts.monitor.primary`, and wait until it answers PING. */
export async function startSentinel(opts: StartSentinelOptions): Promise<SentinelHandle> {
  killOnExit(registry)
  const port = await freePort()
  const name = opts.monitor.name ?? 'mymaster'
  const label = (opts.name ?? 'sentinel').replace(/[^A-Za-z0-9_.-]/g, '_')
  const dir = makeTempDir(`${label}-${port}`)
  const logFile = join(dir, 'sentinel.log')
  const configFile = join(dir, 'sentinel.conf')
  const defaults: ValkeyConfig = {
    bind: '127.0.0.1',
    port: '0',
    'tls-port': String(port),
    'tls-cert-file': q(opts.tls.cert),
    'tls-key-file': q(opts.tls.key),
    'tls-ca-cert-file': q(opts.tls.caCert),
    'tls-replication': 'yes',
    ...(opts.authClients ? {'tls-auth-clients': opts.authClients} : {}),
    dir: q(dir),
    logfile: q(logFile),
    daemonize: 'no',
    // Order matters: a primary is named by `monitor` before anything is said about it.
    sentinel: [
      `monitor ${name} 127.0.0.1 ${opts.monitor.primary.port} ${opts.monitor.quorum ?? 2}`,
      `down-after-milliseconds ${name} ${opts.downAfterMs ?? 2000}`,
      `failover-timeout ${name} 60000`,
    ],
  }
  await writeFile(configFile, renderConfig(mergeConfig(defaults, opts.config)))
  const sentinel = new Sentinel(await spawnServer(valkeyServerPath(), [configFile, '--sentinel'], dir), port, dir, logFile, configFile, opts.tls)
  try {
    await sentinel.waitReady(Date.now() + (opts.readyTimeoutMs ?? 10_000))
  } catch (error) {
    await sentinel.stop(500)
    throw error
  }
  return sentinel
}

/** SENTINEL MASTERS/REPLICAS/SENTINELS entries (flat field/value arrays) as objects. */
export function sentinelEntries(reply: Resp): Array<Record<string, string>> {
  if (!Array.isArray(reply)) throw new Error(`not a list of entries: ${JSON.stringify(reply)}`)
  return reply.map((flat) => {
    const out: Record<string, string> = {}
    if (Array.isArray(flat)) for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1])
    return out
  })
}

const unhealthy = (flags: string | undefined) => /s_down|o_down|disconnected/.test(flags ?? '')

/**
 * Wait until every sentinel sees primary `name` healthy with exactly `replicas` healthy replicas and every
 * other sentinel healthy: hello messages go every 2 s, so a fresh set takes a few seconds.
 */
export async function waitForSentinels(sentinels: SentinelHandle[], opts: {name?: string; replicas: number; timeoutMs?: number}): Promise<void> {
  const name = opts.name ?? 'mymaster'
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000)
  for (;;) {
    const problems: string[] = []
    await Promise.all(
      sentinels.map(async (s) => {
        try {
          const [primary] = sentinelEntries(await s.command('SENTINEL', 'MASTERS')).filter((m) => m.name === name)
          const replicas = sentinelEntries(await s.command('SENTINEL', 'REPLICAS', name))
          const others = sentinelEntries(await s.command('SENTINEL', 'SENTINELS', name))
          if (!primary || unhealthy(primary.flags)) problems.push(`${s.port}: primary ${primary?.flags ?? 'unknown'}`)
          if (replicas.filter((r) => !unhealthy(r.flags)).length !== opts.replicas) problems.push(`${s.port}: replicas ${replicas.map((r) => `${r.port} ${r.flags}`).join('; ')}`)
          if (others.filter((o) => !unhealthy(o.flags)).length !== sentinels.length - 1) problems.push(`${s.port}: sentinels ${others.map((o) => `${o.port} ${o.flags}`).join('; ')}`)
        } catch (error) {
          problems.push(`${s.port}: ${(error as Error).message}`)
        }
      }),
    )
    if (problems.length === 0) return
    if (Date.now() > deadline) throw new Error(`sentinels did not agree:\n${problems.join('\n')}\n${sentinels[0]!.logTail(20)}`)
    await sleep(250)
  }
}

/** Stop every sentinel started by this worker. */
export async function stopAllSentinels(): Promise<void> {
  await Promise.all([...registry].map((s) => s.stop()))
}

try {
  afterAll(stopAllSentinels)
} catch {
  // imported outside a test file's collection phase
}
