/**
 * Output through a pipe is never cut off by the exit code: oclif ends a run that exits non-zero with
 * process.exit(), and Node writes to pipes asynchronously, so a large report with a failed node used to end
 * after 64 KiB (BaseCommand.finally now waits for stdout and stderr). The CLI's stdout here is a pipe, as under
 * `| jq` or cron; the nodes are closed ports on a loopback address no test server listens on: refused at once.
 */
import {spawn} from 'node:child_process'

import {beforeAll, describe, expect, it} from 'vitest'

import {BIN, runCli} from '../helpers/cli.js'
import {makeTempDir} from '../helpers/temp.js'

const nodes = Array.from({length: 600}, (_, i) => `127.0.0.3:${i + 1}`).join(',')
let ca: string

beforeAll(async () => {
  const dir = makeTempDir('vtls-pipe-output')
  expect((await runCli(['certs', 'gen', '--out', `${dir}/tls`, '--yes'])).code).toBe(0)
  ca = `${dir}/tls/ca.crt`
})

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
    expect(Date.now() - started).toBeLessThan(8000) // the bound on waiting for a pipe is 10 s
  })
})
