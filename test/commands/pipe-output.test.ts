/**
 * Output through a pipe is never cut off: oclif ends a run that exits non-zero with process.exit(), and gives up
 * on a slow reader after 10 s with a crash, while Node writes to pipes asynchronously; a large report with a
 * failed node used to end after 64 KiB (src/cli/main.ts now waits for stdout and stderr, as long as the reader
 * lives). The CLI's stdout here is a pipe, as under `| jq` or cron; the nodes are closed ports on a loopback
 * address no test server listens on: refused at once.
 */
import {execFileSync, spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'

import {beforeAll, describe, expect, it} from 'vitest'

import {BIN, runCli} from '../helpers/cli.js'
import {makeTempDir} from '../helpers/temp.js'

const nodes = Array.from({length: 600}, (_, i) => `127.0.0.3:${i + 1}`).join(',')
let ca: string
let manyNames: string

beforeAll(async () => {
  const dir = makeTempDir('vtls-pipe-output')
  expect((await runCli(['certs', 'gen', '--out', `${dir}/tls`, '--yes'])).code).toBe(0)
  ca = `${dir}/tls/ca.crt`
  // A certificate with 3000 DNS names: `certs inspect --json` of it is a large report of a run that works (exit 0).
  manyNames = `${dir}/many.crt`
  writeFileSync(`${dir}/many.cnf`, `[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=${Array.from({length: 3000}, (_, i) => `DNS:node-${i}.valkey.example`).join(',')}\n`)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/many.key`, '-out', manyNames, '-days', '2', '-subj', '/CN=many', '-config', `${dir}/many.cnf`, '-extensions', 'ext'], {stdio: 'ignore'})
})

/**
 * `node bin/run.js ARGS | (sleep SECONDS; cat)` in bash: a reader that reads nothing for a while, then all (a
 * child_process pipe would not do: Node starts reading a child's paused stdout itself when the child exits).
 */
function withSlowReader(args: string[], pauseSeconds: number): Promise<{code: number | null; stdout: string}> {
  const child = spawn('bash', ['-c', `"$0" "$@" | (sleep ${pauseSeconds}; cat); exit \${PIPESTATUS[0]}`, process.execPath, BIN, ...args], {stdio: ['ignore', 'pipe', 'ignore'], env: {...process.env, NO_COLOR: '1'}})
  let stdout = ''
  child.stdout.on('data', (d) => (stdout += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({code, stdout})))
}

describe('a large report through a pipe', () => {
  it('check --json over 600 failed nodes: all of it arrives, then exit 6', async () => {
    const {code, stdout} = await runCli(['check', '--nodes', nodes, '--cacert', ca, '--timeout', '2', '--json'], {timeoutMs: 60_000})
    expect(code).toBe(6)
    expect(stdout.length).toBeGreaterThan(256 * 1024)
    const report = JSON.parse(stdout) as {nodes: Array<{status: string}>; status: string}
    expect(report.nodes).toHaveLength(600)
    expect(report.nodes.every((n) => n.status === 'failed')).toBe(true)
  })

  it('the table too, and a reader that stops early ends the run at once, with its exit code', async () => {
    const table = await runCli(['check', '--nodes', nodes, '--cacert', ca, '--timeout', '2'], {timeoutMs: 60_000})
    expect(table.code).toBe(6)
    for (let port = 1; port <= 600; port += 97) expect(table.stdout).toContain(`127.0.0.3:${port} `)

    // `| head -c 100`: the pipe is closed after 100 bytes; the run must not wait for a reader that is gone.
    const child = spawn(process.execPath, [BIN, 'check', '--nodes', nodes, '--cacert', ca, '--timeout', '2', '--json'], {stdio: ['ignore', 'pipe', 'ignore']})
    child.stdout.once('data', () => child.stdout.destroy())
    const started = Date.now()
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code).toBe(6)
    expect(Date.now() - started).toBeLessThan(8000)
  })

  it('a reader that waits longer than oclif\'s 10 s still gets everything, with the exit code, after a run that failed or worked', async () => {
    const [failed, worked] = await Promise.all([
      withSlowReader(['check', '--nodes', nodes, '--cacert', ca, '--timeout', '2', '--json'], 11),
      withSlowReader(['certs', 'inspect', manyNames, '--json'], 11),
    ])
    expect(failed.code).toBe(6)
    expect((JSON.parse(failed.stdout) as {nodes: unknown[]}).nodes).toHaveLength(600)
    expect(worked.code).toBe(0)
    expect(worked.stdout.length).toBeGreaterThan(64 * 1024)
    expect(JSON.stringify(JSON.parse(worked.stdout))).toContain('node-2999.valkey.example')
  }, 60_000)
})
