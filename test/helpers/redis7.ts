/**
 * Start a real Redis 7 server (Debian bookworm's, via scripts/ensure-redis7.sh)
 * with TLS on loopback, for tests that compare our behaviour against an older
 * server (e.g. Redis 7 accepts an expired certificate through CONFIG SET,
 * Valkey >= 9.1 refuses it).
 *
 * Shares the Valkey harness's free ports (test/helpers/ports.ts), temp
 * folders (test/helpers/temp.ts), TLS RESP client (test/helpers/resp.ts) and
 * process handling (test/helpers/server-process.ts). Cleanup mirrors it: importing this module
 * from a test file registers an afterAll() that stops every Redis started by
 * this file (`stopAllRedis7()` does it on demand), a process 'exit' handler
 * SIGKILLs leftovers, and every pid is recorded in <runDir>/pids so the
 * globalSetup teardown / watchdog kill it too (the process title includes
 * the config file, which lives in the run folder whose name contains
 * "valkey", as killRecordedServers() requires).
 */
import {execFile} from 'node:child_process'
import {writeFile} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll} from 'vitest'
import {freePort} from './ports.js'
import {RespError, TlsRespClient, type Resp, type RespArg, type TlsClientOptions} from './resp.js'
import {killOnExit, ServerProcess, spawnServer, type ProbeConnection, type Spawned} from './server-process.js'
import {makeTempDir} from './temp.js'

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const script = join(projectDir, 'scripts', 'ensure-redis7.sh')

let ensured: Promise<string> | undefined

/**
 * Path of a Redis 7.x redis-server built with TLS. Runs scripts/ensure-redis7.sh
 * once per process (a few seconds the first time on a machine, ~20 ms when
 * cached); rejects with the script's error message when it cannot provide one.
 */
export function ensureRedis7(): Promise<string> {
  ensured ??= new Promise((res, rej) => {
    execFile('bash', [script], {timeout: 10 * 60_000, maxBuffer: 4 * 1024 * 1024}, (err, stdout, stderr) => {
      const lines = String(stdout).trim().split('\n').filter(Boolean)
      if (err) {
        const errLines = String(stderr).trim().split('\n')
        const reason = errLines.filter((l) => l.includes('ERROR:')).at(-1) ?? errLines.slice(-10).join('\n')
        rej(new Error(`Redis 7 is not available: ${reason || err.message}`))
      } else if (lines.length !== 1) {
        rej(new Error(`scripts/ensure-redis7.sh printed an unexpected result: ${JSON.stringify(String(stdout))}`))
      } else {
        res(lines[0]!)
      }
    })
  })
  return ensured
}

export interface StartRedis7Options {
  /** CA certificate (tls-ca-cert-file). */
  caCert: string
  /** Server certificate and key (tls-cert-file / tls-key-file). */
  cert: string
  key: string
  /** Working directory (`dir`); default: a fresh temp folder. */
  dir?: string
  readyTimeoutMs?: number
}

export interface Redis7Handle {
  /** TLS port on 127.0.0.1 (the plain port is disabled). */
  readonly port: number
  readonly pid: number
  /** The server's working directory. */
  readonly dir: string
  readonly logFile: string
  /** SIGTERM, then SIGKILL after `graceMs` (default 3000). Idempotent. */
  stop(graceMs?: number): Promise<void>
  /**
   * `CONFIG SET <args...>` over a fresh TLS connection. Resolves with the raw
   * reply: 'OK', or for an error reply its RESP line ('-ERR ...').
   */
  configSetRaw(...args: RespArg[]): Promise<string>
  /** Any command over a fresh TLS connection; error replies resolve as RespError. */
  command(...args: RespArg[]): Promise<Resp>
  /** Options for your own TlsRespClient (no client certificate: tls-auth-clients is no). */
  clientOptions(overrides?: Partial<TlsClientOptions>): TlsClientOptions
  logTail(lines?: number): string
}

const registry = new Set<Redis7>()

/** Quote a value for the Redis config parser. */
function q(value: string): string {
  return /[\s"'\\]/.test(value) || value === '' ? `"${value.replace(/(["\\])/g, '\\$1')}"` : value
}

class Redis7 extends ServerProcess implements Redis7Handle {
  constructor(
    spawned: Spawned,
    readonly port: number,
    readonly dir: string,
    logFile: string,
    private readonly caCert: string,
  ) {
    super(spawned, logFile, 'redis-server (Redis 7)', registry)
  }

  protected override connect(timeoutMs: number): Promise<ProbeConnection> {
    return TlsRespClient.connect(this.clientOptions({timeoutMs}))
  }

  clientOptions(overrides: Partial<TlsClientOptions> = {}): TlsClientOptions {
    return {port: this.port, host: '127.0.0.1', ca: this.caCert, ...overrides}
  }

  async command(...args: RespArg[]): Promise<Resp> {
    const c = await TlsRespClient.connect(this.clientOptions())
    try {
      return await c.send(args)
    } finally {
      c.close()
    }
  }

  async configSetRaw(...args: RespArg[]): Promise<string> {
    const r = await this.command('CONFIG', 'SET', ...args)
    return r instanceof RespError ? `-${r.message}` : String(r)
  }
}

async function startOnce(opts: StartRedis7Options, attempt: number): Promise<Redis7> {
  const server = await ensureRedis7()
  killOnExit(registry)
  const port = await freePort(false)
  // Config and log always live in the run folder (see the header comment).
  const own = makeTempDir(`redis7-${port}`)
  const dir = opts.dir ?? own
  const configFile = join(own, 'redis.conf')
  const logFile = join(own, 'redis.log')
  const cfg: Array<[string, string]> = [
    ['bind', '127.0.0.1'],
    ['protected-mode', 'yes'],
    ['port', '0'],
    ['tls-port', String(port)],
    ['tls-cert-file', q(opts.cert)],
    ['tls-key-file', q(opts.key)],
    ['tls-ca-cert-file', q(opts.caCert)],
    ['tls-auth-clients', 'no'],
    ['save', '""'],
    ['appendonly', 'no'],
    ['daemonize', 'no'],
    ['dir', q(dir)],
    ['logfile', q(logFile)],
    ['proc-title-template', q('{title} {listen-addr} {server-mode} {config-file}')],
  ]
  await writeFile(configFile, '# generated by test/helpers/redis7.ts\n' + cfg.map(([k, v]) => `${k} ${v}`).join('\n') + '\n')

  const h = new Redis7(await spawnServer(server, [configFile], dir), port, dir, logFile, opts.caCert)
  try {
    await h.waitReady(Date.now() + (opts.readyTimeoutMs ?? 10_000))
  } catch (e) {
    await h.stop(500)
    // Port taken between probing and binding: retry on a fresh one.
    if (attempt < 3 && /Address already in use/i.test((e as Error).message)) return startOnce(opts, attempt + 1)
    throw e
  }
  return h
}

/** Start Redis 7 with TLS only on 127.0.0.1 and wait until it answers PING over TLS. */
export async function startRedis7(opts: StartRedis7Options): Promise<Redis7Handle> {
  return startOnce(opts, 1)
}

/** Stop every Redis 7 server started by this worker. Runs automatically after each test file. */
export async function stopAllRedis7(): Promise<void> {
  await Promise.all([...registry].map((h) => h.stop()))
}

try {
  afterAll(stopAllRedis7)
} catch {
  // imported outside a test file's collection phase
}
