/**
 * Start real, TLS-only Valkey servers for integration tests (clusters of them: ./cluster.ts). Loopback
 * only: servers bind 127.0.0.1 (and ::1 when available), and every connection made here goes to 127.0.0.1.
 *
 * Cleanup: every handle is tracked. Importing this module from a test file
 * registers an afterAll() that stops everything this file started; call
 * `stopAllValkey()` or use `useValkeyCleanup('each')` for tighter scopes. A
 * process 'exit' handler SIGKILLs whatever is left. Every pid is also
 * recorded in <runDir>/pids: the globalSetup teardown kills whatever is still
 * recorded, and its detached watchdog does the same if the vitest process
 * dies without a teardown. A server's folder (config, log, nodes.conf) is a
 * makeTempDir() folder (test/helpers/temp.ts), removed after the test file.
 * The process side (spawn, exit tracking, pid recording, stop) lives in
 * test/helpers/server-process.ts, shared with test/helpers/redis7.ts.
 */
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {afterAll, afterEach} from 'vitest'

import {freePort, hasIpv6Loopback} from '../ports.js'
import {type Resp, tlsCommand, type TlsClientOptions, TlsRespClient} from '../resp.js'
import {killOnExit, type ProbeConnection, ServerProcess, type Spawned, spawnServer} from '../server-process.js'
import {makeTempDir} from '../temp.js'
import {runValkeyCli, valkeyServerPath} from './binaries.js'

export interface ValkeyTls {
  /** CA bundle the server trusts for client certs, and that we use to verify the server. */
  caCert: string
  /** Server certificate and key (also used by the server as client cert for replication / cluster bus). */
  cert: string
  key: string
  /** Certificate our own connections (readiness probe, cli()) present; default cert/key. */
  clientCert?: string
  clientKey?: string
  /** Name to verify / send as SNI; default: verify the 127.0.0.1 IP SAN. */
  servername?: string
  /** CA our own connections verify the server with; default caCert (set it when a test rewrites caCert's file). */
  verifyCa?: string
}

/** Config directive values are written verbatim (`key value`); an array writes the directive once per item. */
export type ValkeyConfig = Record<string, string | string[]>

export interface StartValkeyOptions {
  tls: ValkeyTls
  /** tls-auth-clients; Valkey's default is 'yes'. Omitted → not written. */
  authClients?: 'yes' | 'no' | 'optional'
  /** Extra directives; override the defaults key by key (case-insensitive). */
  config?: ValkeyConfig
  /** TLS port; default: a free one. */
  port?: number
  /** Cluster mode (cluster-enabled, tls-cluster, tls-replication, explicit cluster-port). */
  cluster?: boolean
  /** Wait for PING → PONG (default true). */
  waitReady?: boolean
  readyTimeoutMs?: number
  /** Label used in the temp folder name. */
  name?: string
}

export interface ValkeyHandle {
  readonly host: '127.0.0.1'
  readonly port: number
  /** Cluster bus port (cluster mode only). */
  readonly clusterPort?: number
  readonly pid: number
  readonly dir: string
  readonly logFile: string
  readonly configFile: string
  readonly tls: ValkeyTls
  /** The directives written to the config file (defaults merged with options). */
  config(): ValkeyConfig
  /** Exit status once the process is gone, else undefined. */
  exitStatus(): {code: number | null; signal: NodeJS.Signals | null} | undefined
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
  /** SIGTERM, then SIGKILL after `graceMs` (default 3000). Idempotent. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>
  /** Send a signal to the server process (SIGSTOP / SIGCONT are tracked so stop() still works). */
  signal(sig: NodeJS.Signals): void
  /** Run valkey-cli against this node over TLS; resolves with stdout, rejects on non-zero exit. */
  cli(args: string[], opts?: {timeoutMs?: number}): Promise<string>
  /** One command over a fresh TLS connection (rejects on RESP errors). */
  command(...args: Array<string | number>): Promise<Resp>
  /** Options to open your own TlsRespClient to this node. */
  clientOptions(overrides?: Partial<TlsClientOptions>): TlsClientOptions
  /** Last `lines` lines of the server log (plus early stdout/stderr). */
  logTail(lines?: number): string
  /**
   * Stop the process (SIGTERM, as stop()) and start it again with the same config file and dir, then wait
   * until it answers PING. It re-reads its TLS files from disk, and every link it had (clients, replication,
   * cluster bus) re-handshakes; a cluster node keeps its nodes.conf and rejoins. The pid changes.
   * `tls`: how the test reaches it from now on (another CA or client certificate, after a rotation).
   */
  restart(opts?: {graceMs?: number; readyTimeoutMs?: number; tls?: Partial<ValkeyTls>}): Promise<void>
}

const registry = new Set<Handle>()

function formatDirective(key: string, value: string): string {
  return value === '' ? `${key} ""` : `${key} ${value}`
}

/** Quote a path for the Valkey config parser. */
export function q(path: string): string {
  return /[\s"'\\]/.test(path) ? `"${path.replace(/(["\\])/g, '\\$1')}"` : path
}

/** `base` with `extra`'s directives replacing base's of the same name (case-insensitive). */
export function mergeConfig(base: ValkeyConfig, extra: ValkeyConfig | undefined): ValkeyConfig {
  const out: ValkeyConfig = {...base}
  for (const [k, v] of Object.entries(extra ?? {})) {
    for (const existing of Object.keys(out)) if (existing.toLowerCase() === k.toLowerCase()) delete out[existing]
    out[k] = v
  }
  return out
}

/** A config file's text. */
export function renderConfig(cfg: ValkeyConfig): string {
  const lines: string[] = ['# generated by test/helpers/valkey/server.ts']
  for (const [k, v] of Object.entries(cfg)) {
    for (const item of Array.isArray(v) ? v : [v]) lines.push(formatDirective(k, item))
  }
  return lines.join('\n') + '\n'
}

class Handle extends ServerProcess implements ValkeyHandle {
  readonly host = '127.0.0.1' as const

  constructor(
    spawned: Spawned,
    readonly port: number,
    readonly clusterPort: number | undefined,
    readonly dir: string,
    logFile: string,
    readonly configFile: string,
    public tls: ValkeyTls,
    private readonly cfg: ValkeyConfig,
  ) {
    super(spawned, logFile, 'valkey-server', registry)
  }

  protected override connect(timeoutMs: number): Promise<ProbeConnection> {
    return TlsRespClient.connect(this.clientOptions({timeoutMs}))
  }

  config(): ValkeyConfig {
    return structuredClone(this.cfg)
  }

  clientOptions(overrides: Partial<TlsClientOptions> = {}): TlsClientOptions {
    return {
      port: this.port,
      host: '127.0.0.1',
      ca: this.tls.verifyCa ?? this.tls.caCert,
      cert: this.tls.clientCert ?? this.tls.cert,
      key: this.tls.clientKey ?? this.tls.key,
      servername: this.tls.servername,
      ...overrides,
    }
  }

  command(...args: Array<string | number>): Promise<Resp> {
    return tlsCommand(this.clientOptions(), ...args)
  }

  cli(args: string[], opts: {timeoutMs?: number} = {}): Promise<string> {
    const base = [
      '-h', '127.0.0.1', '-p', String(this.port), '--tls', '--cacert', this.tls.verifyCa ?? this.tls.caCert,
      '--cert', this.tls.clientCert ?? this.tls.cert, '--key', this.tls.clientKey ?? this.tls.key,
      ...(this.tls.servername ? ['--sni', this.tls.servername] : []),
    ]
    return runValkeyCli([...base, ...args], opts.timeoutMs)
  }

  async restart(opts: {graceMs?: number; readyTimeoutMs?: number; tls?: Partial<ValkeyTls>} = {}): Promise<void> {
    if (opts.tls) this.tls = {...this.tls, ...opts.tls}
    await this.stop(opts.graceMs)
    this.attach(await spawnServer(valkeyServerPath(), [this.configFile], this.dir))
    await this.waitReady(Date.now() + (opts.readyTimeoutMs ?? 10_000))
  }
}

async function startOnce(opts: StartValkeyOptions, attempt: number): Promise<Handle> {
  const server = valkeyServerPath()
  killOnExit(registry)
  const v6 = await hasIpv6Loopback()
  const port = opts.port ?? (await freePort())
  const clusterPort = opts.cluster ? await freePort() : undefined
  const label = (opts.name ?? (opts.cluster ? 'cluster-node' : 'valkey')).replace(/[^A-Za-z0-9_.-]/g, '_')
  const dir = makeTempDir(`${label}-${port}`)
  const logFile = join(dir, 'valkey.log')
  const configFile = join(dir, 'valkey.conf')

  const defaults: ValkeyConfig = {
    bind: v6 ? '127.0.0.1 ::1' : '127.0.0.1',
    'protected-mode': 'yes',
    port: '0',
    'tls-port': String(port),
    'tls-cert-file': q(opts.tls.cert),
    'tls-key-file': q(opts.tls.key),
    'tls-ca-cert-file': q(opts.tls.caCert),
    ...(opts.authClients ? {'tls-auth-clients': opts.authClients} : {}),
    save: '',
    appendonly: 'no',
    dir: q(dir),
    logfile: q(logFile),
    daemonize: 'no',
    'enable-debug-command': 'local',
    // Start full syncs at once (default waits 5 s for more replicas to join).
    'repl-diskless-sync-delay': '0',
    ...(opts.cluster
      ? {
          'cluster-enabled': 'yes',
          'cluster-port': String(clusterPort),
          'cluster-config-file': q(join(dir, 'nodes.conf')),
          'cluster-node-timeout': '5000',
          'tls-cluster': 'yes',
          'tls-replication': 'yes',
        }
      : {}),
  }
  const cfg = mergeConfig(defaults, opts.config)
  await writeFile(configFile, renderConfig(cfg))

  const h = new Handle(await spawnServer(server, [configFile], dir), port, clusterPort, dir, logFile, configFile, opts.tls, cfg)
  if (opts.waitReady === false) return h
  try {
    await h.waitReady(Date.now() + (opts.readyTimeoutMs ?? 10_000))
  } catch (e) {
    await h.stop(500)
    const msg = (e as Error).message
    // Port stolen between probing and binding: retry on fresh ports (in a fresh folder).
    if (opts.port === undefined && attempt < 3 && /Address already in use/i.test(msg)) return startOnce(opts, attempt + 1)
    throw e
  }
  return h
}

/** Start a TLS-only valkey-server on loopback and wait until it answers PING over TLS. */
export function startValkey(opts: StartValkeyOptions): Promise<ValkeyHandle> {
  return startOnce(opts, 1)
}

/** Stop every server started by this worker (their folders go after the test file, with makeTempDir's). */
export async function stopAllValkey(): Promise<void> {
  await Promise.all([...registry].map((h) => h.stop()))
}

/** Register cleanup hooks in the calling test file: stop everything after each test or after the file. */
export function useValkeyCleanup(scope: 'each' | 'all' = 'all'): void {
  if (scope === 'each') afterEach(stopAllValkey)
  else afterAll(stopAllValkey)
}

// Auto-register a file-level afterAll when imported from a test file.
try {
  afterAll(stopAllValkey)
} catch {
  // imported outside a test file's collection phase
}

/** Read a node's log file (whole). */
export function readLog(h: ValkeyHandle): Promise<string> {
  return readFile(h.logFile, 'utf8')
}
