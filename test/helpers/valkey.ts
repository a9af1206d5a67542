/**
 * Start real, TLS-only Valkey servers (standalone or cluster) for integration
 * tests. Loopback only: servers bind 127.0.0.1 (and ::1 when available), and
 * every connection made here goes to 127.0.0.1.
 *
 * Paths of valkey-server / valkey-cli come from the vitest globalSetup
 * (test/helpers/global-setup.ts) via inject(), falling back to the env vars
 * VALKEY_SERVER / VALKEY_CLI.
 *
 * Cleanup: every handle is tracked. Importing this module from a test file
 * registers an afterAll() that stops everything this file started (and
 * removes its temp folders); call `stopAllValkey()` or use
 * `useValkeyCleanup('each')` for tighter scopes. A process 'exit' handler
 * SIGKILLs whatever is left. Every pid is also recorded in <runDir>/pids: the
 * globalSetup teardown kills whatever is still recorded, and its detached
 * watchdog does the same if the vitest process dies without a teardown.
 * The process side (spawn, exit tracking, pid recording, stop) lives in
 * test/helpers/server-process.ts, shared with test/helpers/redis7.ts.
 */
import {execFile, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer, createConnection} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {connect as tlsConnect, type TLSSocket} from 'node:tls'
import {afterAll, afterEach, inject} from 'vitest'
import {killOnExit, runDir, ServerProcess, sleep, spawnServer, type ProbeConnection} from './server-process.js'
import {unlinkSync} from 'node:fs'
import type {ExitStatus} from './server-process.js'

// ---------------------------------------------------------------------------
// Environment

/** Value provided by the globalSetup; undefined outside vitest or when nothing was provided. */
function injected(key: 'valkeyServer' | 'valkeyCli' | 'valkeyError'): string | undefined {
  try {
    return inject(key)
  } catch {
    return undefined // not running inside a vitest worker
  }
}

/**
 * Path of valkey-server: what the globalSetup provided, else $VALKEY_SERVER
 * (only when no globalSetup ran). Throws the globalSetup's reason when it
 * could not provide one.
 */
export function valkeyServerPath(): string {
  return commandPath('valkeyServer', 'VALKEY_SERVER', 'valkey-server')
}

export function valkeyCliPath(): string {
  return commandPath('valkeyCli', 'VALKEY_CLI', 'valkey-cli')
}

function commandPath(key: 'valkeyServer' | 'valkeyCli', envVar: string, name: string): string {
  const p = injected(key)
  if (p) return p
  if (p === '') throw new Error(`${name} is not available: ${injected('valkeyError') || 'unknown reason'}`)
  if (process.env[envVar]) return process.env[envVar]
  throw new Error(`${name} is not available (no globalSetup value and ${envVar} is unset)`)
}

const keepDirs = (): boolean => process.env.KEEP_TEST_DIRS === '1'

let baseDirPromise: Promise<string> | undefined
/** Root of this worker's temp folders (inside the run folder when provided). */
function baseDir(): Promise<string> {
  baseDirPromise ??= (async () => {
    const d = runDir()
    if (d && existsSync(d)) return d
    return tmpdir()
  })()
  return baseDirPromise
}

/**
 * A fresh temp folder for test material (PKI files, ...). It lives in the
 * run folder, so it is removed with it even if the worker dies; it is also
 * removed after the test file (unless KEEP_TEST_DIRS=1).
 */
export async function makeTempDir(prefix = 'tmp'): Promise<string> {
  installExitHook()
  const d = await mkdtemp(join(await baseDir(), `${prefix.replace(/[^A-Za-z0-9_.-]/g, '_')}-`))
  tempDirs.add(d)
  return d
}

/** Remove folders made by makeTempDir() (unless KEEP_TEST_DIRS=1). Runs automatically after each test file. */
export async function removeTempDirs(): Promise<void> {
  if (keepDirs()) return
  await Promise.all([...tempDirs].map((d) => rm(d, {recursive: true, force: true, maxRetries: 3})))
  tempDirs.clear()
}

// ---------------------------------------------------------------------------
// Ports

let ipv6Checked: boolean | undefined
/** Whether ::1 can be bound on this machine (checked once). */
export async function hasIpv6Loopback(): Promise<boolean> {
  if (ipv6Checked !== undefined) return ipv6Checked
  ipv6Checked = await new Promise<boolean>((res) => {
    const s = createServer()
    s.once('error', () => res(false))
    s.listen(0, '::1', () => s.close(() => res(true)))
  })
  return ipv6Checked
}

function listenOn(host: string, port: number): Promise<number | undefined> {
  return new Promise((res) => {
    const s = createServer()
    s.once('error', () => res(undefined))
    s.listen({port, host, exclusive: true}, () => {
      const addr = s.address()
      const p = typeof addr === 'object' && addr ? addr.port : undefined
      s.close(() => res(p))
    })
  })
}

const handedOut = new Set<number>()

/**
 * A TCP port currently free on 127.0.0.1 (and on ::1 when `alsoIpv6`).
 * Found by binding port 0; never hands out the same port twice in a worker.
 */
export async function freePort(alsoIpv6 = true): Promise<number> {
  const v6 = alsoIpv6 && (await hasIpv6Loopback())
  for (let i = 0; i < 50; i++) {
    const p = await listenOn('127.0.0.1', 0)
    if (p === undefined || handedOut.has(p)) continue
    if (v6 && (await listenOn('::1', p)) === undefined) continue
    handedOut.add(p)
    return p
  }
  throw new Error('could not find a free port on 127.0.0.1')
}

// ---------------------------------------------------------------------------
// Minimal RESP2 client over node:tls (loopback only)

export class RespError extends Error {
  override name = 'RespError'
}
export type Resp = string | Buffer | number | null | RespError | Resp[]

export interface TlsClientOptions {
  port: number
  /** Only 127.0.0.1 or ::1 are allowed. Default 127.0.0.1. */
  host?: '127.0.0.1' | '::1'
  /** CA certificate file (PEM) used to verify the server. */
  ca: string
  /** Client certificate / key files; omit to connect without a client certificate. */
  cert?: string
  key?: string
  /** SNI / name to verify; default: verify the IP SAN of `host`. */
  servername?: string
  timeoutMs?: number
  /** Return bulk strings as Buffers (for byte-exact names). */
  binary?: boolean
}

function assertLoopback(host: string): void {
  if (host !== '127.0.0.1' && host !== '::1') throw new Error(`refusing non-loopback host ${host}`)
}

/** Incremental RESP2 parser. Returns [value, bytesConsumed] or undefined if incomplete. */
export function parseResp(buf: Buffer, start = 0, binary = false): [Resp, number] | undefined {
  if (start >= buf.length) return undefined
  const nl = buf.indexOf('\r\n', start)
  if (nl < 0) return undefined
  const type = String.fromCharCode(buf[start]!)
  const line = buf.toString('utf8', start + 1, nl)
  const next = nl + 2
  switch (type) {
    case '+':
      return [line, next]
    case '-':
      return [new RespError(line), next]
    case ':':
      return [Number(line), next]
    case '$': {
      const len = Number(line)
      if (len < 0) return [null, next]
      if (buf.length < next + len + 2) return undefined
      return [binary ? Buffer.from(buf.subarray(next, next + len)) : buf.toString('utf8', next, next + len), next + len + 2]
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return [null, next]
      const items: Resp[] = []
      let pos = next
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, pos, binary)
        if (!r) return undefined
        items.push(r[0])
        pos = r[1]
      }
      return [items, pos]
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}

export type RespArg = string | number | Buffer

function encodeCommand(args: RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a))
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/** A single TLS connection speaking RESP2; commands are sent one at a time. */
export class TlsRespClient {
  private buf: Buffer = Buffer.alloc(0)
  private waiters: Array<{res: (v: Resp) => void; rej: (e: Error) => void}> = []
  private closedError: Error | undefined
  private chain: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly socket: TLSSocket,
    private readonly binary = false,
  ) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d
      for (;;) {
        const w = this.waiters[0]
        if (!w) break
        let r: [Resp, number] | undefined
        try {
          r = parseResp(this.buf, 0, this.binary)
        } catch (e) {
          this.fail(e as Error)
          return
        }
        if (!r) break
        this.buf = this.buf.subarray(r[1])
        this.waiters.shift()
        w.res(r[0])
      }
    })
    socket.on('error', (e) => this.fail(e))
    socket.on('close', () => this.fail(new Error('connection closed by server')))
  }

  private fail(e: Error): void {
    this.closedError ??= e
    for (const w of this.waiters.splice(0)) w.rej(this.closedError)
  }

  static connect(opts: TlsClientOptions): Promise<TlsRespClient> {
    const host = opts.host ?? '127.0.0.1'
    assertLoopback(host)
    const timeoutMs = opts.timeoutMs ?? 5000
    return new Promise((res, rej) => {
      const socket = tlsConnect({
        host,
        port: opts.port,
        ca: readFileSync(opts.ca),
        cert: opts.cert ? readFileSync(opts.cert) : undefined,
        key: opts.key ? readFileSync(opts.key) : undefined,
        servername: opts.servername, // undefined: no SNI, identity checked against the IP
        rejectUnauthorized: true,
      })
      const timer = setTimeout(() => {
        socket.destroy()
        rej(new Error(`TLS connect to ${host}:${opts.port} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('secureConnect', () => {
        clearTimeout(timer)
        res(new TlsRespClient(socket, opts.binary))
      })
      socket.once('error', (e) => {
        clearTimeout(timer)
        socket.destroy()
        rej(e)
      })
    })
  }

  /** Send one command; resolves with the reply (RESP errors resolve as RespError instances). */
  send(args: RespArg[], timeoutMs = 10_000): Promise<Resp> {
    const run = (): Promise<Resp> =>
      new Promise<Resp>((res, rej) => {
        if (this.closedError) return rej(this.closedError)
        const timer = setTimeout(() => {
          this.fail(new Error(`timeout after ${timeoutMs} ms waiting for reply to ${String(args[0])}`))
          this.socket.destroy()
        }, timeoutMs)
        this.waiters.push({
          res: (v) => (clearTimeout(timer), res(v)),
          rej: (e) => (clearTimeout(timer), rej(e)),
        })
        this.socket.write(encodeCommand(args))
      })
    const p = this.chain.then(run, run)
    this.chain = p.catch(() => undefined)
    return p
  }

  /** Like send(), but rejects on RESP error replies. */
  async command(...args: RespArg[]): Promise<Resp> {
    const r = await this.send(args)
    if (r instanceof RespError) throw r
    return r
  }

  close(): void {
    this.socket.end()
    this.socket.destroy()
  }
}

/** One-shot: connect, run one command, close. Rejects on RESP error replies. */
export async function tlsCommand(opts: TlsClientOptions, ...args: RespArg[]): Promise<Resp> {
  const c = await TlsRespClient.connect(opts)
  try {
    return await c.command(...args)
  } finally {
    c.close()
  }
}

/** Parse `INFO` output into a flat key → value map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/** True when nothing accepts TCP connections on 127.0.0.1:port. */
export function portIsClosed(port: number, host: '127.0.0.1' | '::1' = '127.0.0.1'): Promise<boolean> {
  assertLoopback(host)
  return new Promise((res) => {
    const s = createConnection({host, port})
    s.setTimeout(2000)
    s.once('connect', () => (s.destroy(), res(false)))
    s.once('timeout', () => (s.destroy(), res(false)))
    s.once('error', (e: NodeJS.ErrnoException) => res(e.code === 'ECONNREFUSED'))
  })
}

// ---------------------------------------------------------------------------
// Servers

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
   */
  restart(opts?: {graceMs?: number; readyTimeoutMs?: number}): Promise<void>
}

const registry = new Set<Handle>()
const ownedDirs = new Set<string>()
const tempDirs = new Set<string>()

function formatDirective(key: string, value: string): string {
  return value === '' ? `${key} ""` : `${key} ${value}`
}

/** Quote a path for the Valkey config parser. */
function q(path: string): string {
  return /[\s"'\\]/.test(path) ? `"${path.replace(/(["\\])/g, '\\$1')}"` : path
}

function mergeConfig(base: ValkeyConfig, extra: ValkeyConfig | undefined): ValkeyConfig {
  const out: ValkeyConfig = {...base}
  for (const [k, v] of Object.entries(extra ?? {})) {
    for (const existing of Object.keys(out)) if (existing.toLowerCase() === k.toLowerCase()) delete out[existing]
    out[k] = v
  }
  return out
}

function renderConfig(cfg: ValkeyConfig): string {
  const lines: string[] = ['# generated by test/helpers/valkey.ts']
  for (const [k, v] of Object.entries(cfg)) {
    for (const item of Array.isArray(v) ? v : [v]) lines.push(formatDirective(k, item))
  }
  return lines.join('\n') + '\n'
}

class Handle extends ServerProcess implements ValkeyHandle {
  readonly host = '127.0.0.1' as const

  constructor(
    child: ChildProcess,
    pid: number,
    readonly port: number,
    readonly clusterPort: number | undefined,
    readonly dir: string,
    logFile: string,
    readonly configFile: string,
    readonly tls: ValkeyTls,
    private readonly cfg: ValkeyConfig,
  ) {
    super(child, pid, logFile, 'valkey-server', registry)
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

  async restart(opts: {graceMs?: number; readyTimeoutMs?: number} = {}): Promise<void> {
    await this.stop(opts.graceMs)
    const {child, pid} = await spawnServer(valkeyServerPath(), [this.configFile], this.dir)
    this.adopt(child, pid)
    await this.waitReady(Date.now() + (opts.readyTimeoutMs ?? 10_000))
  }

  /**
   * Point this handle at a new process of the same server, doing for it what ServerProcess's constructor
   * did for the first one (output capture, registry, exit tracking, pid record), so stop(), exitStatus(),
   * signal() and the cleanup hooks keep working. ServerProcess tracks a single child and keeps that state
   * private; the check below fails loudly if its field names ever change.
   */
  private adopt(child: ChildProcess, pid: number): void {
    const self = this as unknown as {
      child: ChildProcess; pid: number; exited: Promise<void>
      status: ExitStatus | undefined; early: string; paused: boolean; stopping: Promise<void> | undefined
    }
    for (const field of ['status', 'early', 'paused', 'stopping']) {
      if (!(field in self)) throw new Error(`restart(): ServerProcess has no field ${field} any more; update Handle.adopt()`)
    }
    self.child = child
    self.pid = pid
    self.status = undefined
    self.early = ''
    self.paused = false
    self.stopping = undefined
    const collect = (d: Buffer): void => {
      self.early = (self.early + d.toString()).slice(-16_384)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    registry.add(this)
    self.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        self.status = {code, signal}
        registry.delete(this)
        try {
          unlinkSync(join(runDir(), 'pids', String(pid))) // recorded by spawnServer
        } catch {
          // not recorded (no run folder)
        }
        res()
      })
    })
    child.unref()
    ;(child.stdout as unknown as {unref?: () => void})?.unref?.()
    ;(child.stderr as unknown as {unref?: () => void})?.unref?.()
  }
}

/** Run valkey-cli with the given full argument list; resolves with stdout. */
export function runValkeyCli(args: string[], timeoutMs = 30_000): Promise<string> {
  const cli = valkeyCliPath()
  return new Promise((res, rej) => {
    execFile(cli, args, {timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024}, (err, stdout, stderr) => {
      if (err) {
        rej(new Error(`valkey-cli ${args.join(' ')} failed: ${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`))
      } else {
        res(String(stdout))
      }
    })
  })
}

function installExitHook(): void {
  killOnExit(registry, () => {
    if (!keepDirs()) for (const d of [...ownedDirs, ...tempDirs]) rmSync(d, {recursive: true, force: true})
  })
}

async function startOnce(opts: StartValkeyOptions, attempt: number): Promise<Handle> {
  const server = valkeyServerPath()
  installExitHook()
  const v6 = await hasIpv6Loopback()
  const port = opts.port ?? (await freePort())
  const clusterPort = opts.cluster ? await freePort() : undefined
  const label = (opts.name ?? (opts.cluster ? 'cluster-node' : 'valkey')).replace(/[^A-Za-z0-9_.-]/g, '_')
  const dir = await mkdtemp(join(await baseDir(), `${label}-${port}-`))
  ownedDirs.add(dir)
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

  const {child, pid} = await spawnServer(server, [configFile], dir)
  const h = new Handle(child, pid, port, clusterPort, dir, logFile, configFile, opts.tls, cfg)
  if (opts.waitReady === false) return h
  try {
    await h.waitReady(Date.now() + (opts.readyTimeoutMs ?? 10_000))
  } catch (e) {
    await h.stop(500)
    const msg = (e as Error).message
    // Port stolen between probing and binding: retry on fresh ports.
    if (opts.port === undefined && attempt < 3 && /Address already in use/i.test(msg)) {
      if (!keepDirs()) await rm(dir, {recursive: true, force: true})
      ownedDirs.delete(dir)
      return startOnce(opts, attempt + 1)
    }
    throw e
  }
  return h
}

/** Start a TLS-only valkey-server on loopback and wait until it answers PING over TLS. */
export function startValkey(opts: StartValkeyOptions): Promise<ValkeyHandle> {
  return startOnce(opts, 1)
}

/** Stop every server started by this worker and remove their temp folders (unless KEEP_TEST_DIRS=1). */
export async function stopAllValkey(): Promise<void> {
  await Promise.all([...registry].map((h) => h.stop()))
  if (!keepDirs()) {
    await Promise.all([...ownedDirs].map((d) => rm(d, {recursive: true, force: true, maxRetries: 3})))
    ownedDirs.clear()
  }
}

/** Register cleanup hooks in the calling test file: stop everything after each test or after the file. */
export function useValkeyCleanup(scope: 'each' | 'all' = 'all'): void {
  if (scope === 'each') afterEach(stopAllValkey)
  else afterAll(stopAllValkey)
}

// Auto-register a file-level afterAll when imported from a test file.
try {
  afterAll(async () => {
    await stopAllValkey()
    await removeTempDirs()
  })
} catch {
  // imported outside a test file's collection phase
}

// ---------------------------------------------------------------------------
// Clusters

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

/** Read a node's log file (whole). */
export function readLog(h: ValkeyHandle): Promise<string> {
  return readFile(h.logFile, 'utf8')
}
