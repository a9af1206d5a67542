/**
 * vitest globalSetup: runs scripts/ensure-valkey.sh once per run (fast when
 * cached) and hands the resulting paths to the test workers; alongside it,
 * scripts/ensure-prometheus.sh for the exporter's test (`prometheus` /
 * `prometheusError`, read through test/helpers/prometheus.ts).
 *
 * Transport: `project.provide()` / `inject()` (the vitest-3 mechanism; values
 * are serialised to every worker whatever the pool - forks, threads, vmForks).
 * The same values are also exported as env vars (VALKEY_SERVER, VALKEY_CLI,
 * VALKEY_TLS_TEST_RUN_DIR); workers inherit them too (checked with forks and
 * threads), which is what processes spawned by tests (e.g. the CLI under
 * test) can use. Test code should go through test/helpers/valkey/binaries.ts
 * (the commands) and test/helpers/temp.ts (the run folder).
 *
 * A failure to obtain Valkey does NOT fail the whole run (unit tests need no
 * server): it is provided as `valkeyError`, and startValkey() throws it.
 *
 * Leftover protection, in addition to the per-file afterAll / exit hooks in
 * test/helpers/valkey/server.ts and redis7.ts: every server pid is recorded
 * in <runDir>/pids. The teardown kills whatever is still recorded (and
 * removes the run folder, temp folders included), and a detached watchdog
 * process does the same if this vitest process dies without running its
 * teardown (worker crash, SIGKILL, ...).
 */
import {execFile, spawn} from 'node:child_process'
import {accessSync, constants, existsSync, readFileSync, readdirSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {delimiter, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {TestProject} from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of a valkey-server >= 9.1 command, '' when unavailable. */
    valkeyServer: string
    /** Path of a valkey-cli command, '' when unavailable. */
    valkeyCli: string
    /** Why Valkey is unavailable ('' when it is available). */
    valkeyError: string
    /** Per-run scratch folder: server dirs live below it, pids are recorded in <runDir>/pids. */
    valkeyRunDir: string
    /** Path of a prometheus command (promtool beside it), '' when unavailable (scripts/ensure-prometheus.sh). */
    prometheus: string
    /** Why Prometheus is unavailable ('' when it is available). */
    prometheusError: string
  }
}

const here = dirname(fileURLToPath(import.meta.url))
const projectDir = resolve(here, '..', '..')
const script = join(projectDir, 'scripts', 'ensure-valkey.sh')
const prometheusScript = join(projectDir, 'scripts', 'ensure-prometheus.sh')

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function findOnPath(cmd: string): string {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d) continue
    const p = join(d, cmd)
    if (isExecutable(p)) return p
  }
  return ''
}

/** Runs one of the scripts/ensure-*.sh scripts: the one path it prints on stdout. */
function ensure(scriptPath: string): Promise<string> {
  const name = `scripts/${scriptPath.split(/[\\/]/).at(-1)}`
  return new Promise((res, rej) => {
    execFile('bash', [scriptPath], {timeout: 10 * 60_000, maxBuffer: 4 * 1024 * 1024}, (err, stdout, stderr) => {
      if (err) {
        const tail = String(stderr).trim().split('\n').slice(-15).join('\n')
        rej(new Error(`${name} failed (${err.message.split('\n')[0]}):\n${tail}`))
        return
      }
      const lines = String(stdout).trim().split('\n').filter(Boolean)
      const path = lines.at(-1) ?? ''
      if (lines.length !== 1 || !isExecutable(path)) {
        rej(new Error(`${name} printed an unexpected result: ${JSON.stringify(String(stdout))}`))
        return
      }
      res(path)
    })
  })
}

const ensureValkey = (): Promise<string> => ensure(script)

/**
 * Kill servers still recorded under <runDir>/pids. A pid only counts when its
 * command line mentions valkey and the run folder (its config file lives
 * there), so a reused pid is never hit.
 */
export function killRecordedServers(runDir: string): number {
  const pidDir = join(runDir, 'pids')
  if (!existsSync(pidDir)) return 0
  let killed = 0
  for (const name of readdirSync(pidDir)) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid <= 1) continue
    let cmd = ''
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
    } catch {
      continue // gone
    }
    if (!/valkey/i.test(cmd) || !cmd.includes(runDir)) continue
    try {
      process.kill(pid, 'SIGCONT')
      process.kill(pid, 'SIGKILL')
      killed++
    } catch {
      // already gone
    }
  }
  return killed
}

/** Same logic as killRecordedServers, as plain CommonJS for the watchdog process. */
const WATCHDOG_SRC = String.raw`
const fs = require('node:fs'), path = require('node:path')
const [parentPid, runDir, keep] = [Number(process.argv[1]), process.argv[2], process.argv[3] === '1']
function cleanup() {
  let names = []
  try { names = fs.readdirSync(path.join(runDir, 'pids')) } catch {}
  for (const n of names) {
    const pid = Number(n)
    if (!Number.isInteger(pid) || pid <= 1) continue
    let cmd = ''
    try { cmd = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\0').join(' ') } catch { continue }
    if (!/valkey/i.test(cmd) || !cmd.includes(runDir)) continue
    try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGKILL') } catch {}
  }
  if (!keep) { try { fs.rmSync(runDir, {recursive: true, force: true}) } catch {} }
}
setInterval(() => {
  if (!fs.existsSync(runDir)) process.exit(0)
  try { process.kill(parentPid, 0) } catch { cleanup(); process.exit(0) }
}, 500)
`

function startWatchdog(runDir: string): number | undefined {
  try {
    const wd = spawn(
      process.execPath,
      ['-e', WATCHDOG_SRC, String(process.pid), runDir, process.env.KEEP_TEST_DIRS === '1' ? '1' : '0'],
      {detached: true, stdio: 'ignore'},
    )
    wd.unref()
    return wd.pid
  } catch {
    return undefined
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now()
  const runDir = await mkdtemp(join(tmpdir(), 'valkey-tls-test-'))
  const watchdog = startWatchdog(runDir)
  let server = ''
  let cli = ''
  let error = ''
  // Prometheus (for the exporter's test only) is fetched alongside Valkey; like Valkey's, its absence fails only the tests that need it.
  const prometheus = ensure(prometheusScript).then((path) => ({path, error: ''}), (e: Error) => ({path: '', error: e.message}))
  try {
    server = await ensureValkey()
    const sibling = join(dirname(server), 'valkey-cli')
    cli = isExecutable(sibling) ? sibling : findOnPath('valkey-cli')
    if (!cli) error = `valkey-cli not found next to ${server} nor on PATH`
  } catch (e) {
    error = (e as Error).message
    server = ''
  }
  const ms = Date.now() - started
  if (error) {
    process.stderr.write(`[global-setup] Valkey unavailable, integration tests will fail: ${error}\n`)
  } else if (ms > 2000) {
    process.stderr.write(`[global-setup] valkey ready in ${ms} ms: ${server}\n`)
  }

  project.provide('valkeyServer', server)
  project.provide('valkeyCli', cli)
  project.provide('valkeyError', error)
  project.provide('valkeyRunDir', runDir)
  const {path: prometheusPath, error: prometheusError} = await prometheus
  if (prometheusError) process.stderr.write(`[global-setup] Prometheus unavailable, the exporter's integration test will fail: ${prometheusError}\n`)
  project.provide('prometheus', prometheusPath)
  project.provide('prometheusError', prometheusError)
  if (server) process.env.VALKEY_SERVER = server
  if (cli) process.env.VALKEY_CLI = cli
  process.env.VALKEY_TLS_TEST_RUN_DIR = runDir

  return async () => {
    const killed = killRecordedServers(runDir)
    if (killed > 0) process.stderr.write(`[global-setup] killed ${killed} leftover valkey-server process(es)\n`)
    if (watchdog) {
      try {
        process.kill(watchdog, 'SIGTERM')
      } catch {
        // already gone
      }
    }
    if (process.env.KEEP_TEST_DIRS === '1') {
      process.stderr.write(`[global-setup] KEEP_TEST_DIRS=1: kept ${runDir}\n`)
    } else {
      await rm(runDir, {recursive: true, force: true, maxRetries: 3})
    }
  }
}
