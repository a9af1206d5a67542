/**
 * A real Prometheus server and promtool for the exporter's integration test, and the long-running
 * processes that test starts (Prometheus, the exporter). The commands come from the vitest globalSetup
 * (test/helpers/global-setup.ts runs scripts/ensure-prometheus.sh: Debian's packages, unpacked, never
 * installed as a service), or $PROMETHEUS when no globalSetup ran.
 *
 * Processes go through test/helpers/server-process.ts like the Valkey servers: pid recorded in
 * <runDir>/pids (their command lines name a file in the run folder, so the globalSetup's teardown and its
 * watchdog kill leftovers), SIGTERM then SIGKILL on stop, an 'exit' handler, an afterAll of the test file.
 * Loopback only.
 */
import {execFile} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {afterAll, inject} from 'vitest'
import {stringify} from 'yaml'

import {freePort} from './ports.js'
import {killOnExit, type ProbeConnection, ServerProcess, sleep, spawnServer} from './server-process.js'
import {makeTempDir} from './temp.js'

/** Path of prometheus (globalSetup value, else $PROMETHEUS); throws the globalSetup's reason when it has none. */
export function prometheusPath(): string {
  let path: string | undefined
  let error = ''
  try {
    path = inject('prometheus')
    error = inject('prometheusError')
  } catch {
    // not running inside a vitest worker
  }
  if (path) return path
  if (path === '') throw new Error(`prometheus is not available: ${error || 'unknown reason'}`)
  if (process.env.PROMETHEUS) return process.env.PROMETHEUS
  throw new Error('prometheus is not available (no globalSetup value and PROMETHEUS is unset)')
}

/** promtool, beside prometheus (scripts/ensure-prometheus.sh guarantees it). */
export const promtoolPath = (): string => join(dirname(prometheusPath()), 'promtool')

export interface ToolResult {
  code: number
  output: string
}

/** `promtool ARGS` with `input` on stdin: exit code and stdout+stderr. */
export function promtool(args: string[], input?: string): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(promtoolPath(), args, {timeout: 30_000}, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
      if (error && code === -1) reject(error)
      else resolve({code, output: `${stdout}${stderr}`})
    })
    child.stdin?.end(input ?? '')
  })
}

/** `promtool check metrics`: lint problems (names, units, HELP, TYPE) and parse errors, exit 0 when clean. */
export const checkMetrics = (text: string): Promise<ToolResult> => promtool(['check', 'metrics'], text)

const live = new Set<ServerProcess>()
killOnExit(live)
try {
  afterAll(async () => {
    await Promise.all([...live].map((p) => p.stop()))
  })
} catch {
  // imported outside a test file's collection phase
}

/** A long-running process of a test: spawned, recorded, stopped like a server (no RESP readiness probe). */
export class TestProcess extends ServerProcess {
  private output = ''

  private constructor(spawned: Awaited<ReturnType<typeof spawnServer>>, name: string, cwd: string, readonly port: number) {
    // These processes log to stdout/stderr only (see printed); the log file is never written.
    super(spawned, join(cwd, `${name}.log`), name, live)
    const collect = (d: Buffer) => (this.output += d.toString())
    spawned.child.stdout?.on('data', collect)
    spawned.child.stderr?.on('data', collect)
  }

  /** Spawns `command ...args` in `cwd`; `port` is where it will listen. */
  static async start(name: string, command: string, args: string[], cwd: string, port: number, env: Record<string, string> = {}): Promise<TestProcess> {
    // spawnServer passes this process's environment on; it spawns before its first await, so the extra
    // variables are in place for exactly that spawn.
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
    Object.assign(process.env, env)
    const spawning = spawnServer(command, args, cwd)
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    return new TestProcess(await spawning, name, cwd, port)
  }

  /** Everything it printed so far, stdout and stderr. */
  get printed(): string {
    return this.output
  }

  protected connect(): Promise<ProbeConnection> {
    throw new Error('not a RESP server')
  }
}

/** Polls `url` until it answers 200 (or the process exits, or `timeoutMs` passes). */
export async function waitForHttp(url: string, proc: TestProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (proc.exitStatus()) throw new Error(`${url}: the process exited (${JSON.stringify(proc.exitStatus())}):\n${proc.printed.slice(-3000)}`)
    try {
      const response = await fetch(url, {signal: AbortSignal.timeout(2000)})
      if (response.ok) return
      last = `HTTP ${response.status}`
    } catch (error) {
      last = (error as Error).message
    }
    await sleep(100)
  }
  throw new Error(`${url} not ready in ${timeoutMs} ms (last: ${last}):\n${proc.printed.slice(-3000)}`)
}

export interface PrometheusSample {
  metric: Record<string, string>
  value: [number, string]
}

export interface PrometheusServer {
  readonly port: number
  readonly process: TestProcess
  /** The config file it runs with. */
  readonly configFile: string
  /** An instant query (/api/v1/query). */
  query(expr: string): Promise<PrometheusSample[]>
  /** Polls `expr` until `accept` holds for its result; throws with the last result after `timeoutMs`. */
  waitFor(expr: string, accept: (samples: PrometheusSample[]) => boolean, timeoutMs?: number): Promise<PrometheusSample[]>
  /** The scrape targets and their last scrape (/api/v1/targets). */
  targets(): Promise<Array<{labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string}>>
  stop(): Promise<void>
}

/**
 * Starts Prometheus on 127.0.0.1 with `config` (a parsed prometheus.yml; `files` are written beside it,
 * e.g. rule files it names) and waits until it is ready.
 */
export async function startPrometheus(config: Record<string, unknown>, files: Record<string, string> = {}): Promise<PrometheusServer> {
  const dir = makeTempDir('prometheus')
  const configFile = join(dir, 'prometheus.yml')
  writeFileSync(configFile, stringify(config))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  const port = await freePort(false)
  const proc = await TestProcess.start('prometheus', prometheusPath(), [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], dir, port)
  const base = `http://127.0.0.1:${port}`
  await waitForHttp(`${base}/-/ready`, proc, 60_000)
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${base}${path}`, {signal: AbortSignal.timeout(10_000)})
    const body = (await response.json()) as {status: string; data: T; error?: string}
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`)
    return body.data
  }
  const query = async (expr: string) => (await api<{result: PrometheusSample[]}>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result
  const targets = async () => (await api<{activeTargets: Array<{labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string}>}>('/api/v1/targets')).activeTargets
  return {
    port,
    process: proc,
    configFile,
    query,
    async waitFor(expr, accept, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      let last: PrometheusSample[] = []
      for (;;) {
        last = await query(expr)
        if (accept(last)) return last
        if (Date.now() > deadline) throw new Error(`Prometheus: ${expr} did not become as expected in ${timeoutMs} ms; last result: ${JSON.stringify(last)}\ntargets: ${JSON.stringify(await targets())}`)
        await sleep(250)
      }
    },
    targets,
    stop: () => proc.stop(),
  }
}
