/**
 * Every flag (and argument) that takes a file, on every command, given something that is not a regular
 * file: a FIFO nobody writes to, the endless devices /dev/zero and /dev/urandom, and symlinks to each.
 * Each run must end at once (no wait on the FIFO, no read of the device) with one line naming the file
 * and exit 3, before anything touches the network (the connection commands point at a closed port).
 * Then a sample of regular files that hold no certificate or key at all (the fuzz tests' non-PEM inputs,
 * test/unit/identity/fuzz-inputs.test.ts) through the same flags: exit 3, one line, never an internal error.
 */
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {type CliResult, expectOneLineError, runCli} from '../helpers/cli.js'
import {encryptKey, issueCert, type KeyPair, makeCa, type Ca, toDer} from '../helpers/pki/openssl.js'
import {freePort} from '../helpers/ports.js'
import {makeTempDir} from '../helpers/temp.js'

const dir = makeTempDir('vtls-file-inputs')

/** The hostile inputs, by label: path, and the kind the error must name. */
const kinds: Array<{label: string; path: string; kind: RegExp}> = []
let ca: Ca
let client: KeyPair
let closedPort: number

beforeAll(async () => {
  ca = await makeCa(dir)
  client = await issueCert(ca, dir, 'client', {cn: 'alice', usage: 'client'})
  closedPort = await freePort() // never listened on: nothing may get as far as connecting anyway
  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  const links: Array<[string, string]> = [['link-to-fifo', fifo], ['link-to-zero', '/dev/zero'], ['link-to-urandom', '/dev/urandom']]
  for (const [name, target] of links) symlinkSync(target, join(dir, name))
  kinds.push(
    {label: 'a FIFO', path: fifo, kind: /is a FIFO, not a regular file/},
    {label: '/dev/zero', path: '/dev/zero', kind: /is a character device, not a regular file/},
    {label: '/dev/urandom', path: '/dev/urandom', kind: /is a character device, not a regular file/},
    {label: 'a symlink to a FIFO', path: join(dir, 'link-to-fifo'), kind: /is a FIFO, not a regular file/},
    {label: 'a symlink to /dev/zero', path: join(dir, 'link-to-zero'), kind: /is a character device, not a regular file/},
    {label: 'a symlink to /dev/urandom', path: join(dir, 'link-to-urandom'), kind: /is a character device, not a regular file/},
  )
}, 60_000)

/** One file input: the command line with `bad` in that place and good files everywhere else. */
interface FileInput {
  command: string
  input: string
  args: (bad: string) => string[]
  /** A folder that must stay empty or absent (certs gen writes nothing when its CA cannot be read). */
  out?: string
}

const server = () => ['--port', String(closedPort), '--timeout', '1']
const out = join(dir, 'gen-out')

const inputs: FileInput[] = [
  {command: 'certs verify', input: 'CERT', args: (bad) => ['certs', 'verify', bad, '--key', client.key, '--cacert', ca.cert]},
  {command: 'certs verify', input: '--cert', args: (bad) => ['certs', 'verify', '--cert', bad, '--key', client.key, '--cacert', ca.cert]},
  {command: 'certs verify', input: '--key', args: (bad) => ['certs', 'verify', client.cert, '--key', bad, '--cacert', ca.cert]},
  {command: 'certs verify', input: '--cacert', args: (bad) => ['certs', 'verify', client.cert, '--key', client.key, '--cacert', bad]},
  {command: 'certs gen', input: '--ca-cert', args: (bad) => ['certs', 'gen', '--ca-cert', bad, '--ca-key', ca.key, '--out', out, '--yes'], out},
  {command: 'certs gen', input: '--ca-key', args: (bad) => ['certs', 'gen', '--ca-cert', ca.cert, '--ca-key', bad, '--out', out, '--yes'], out},
  {command: 'whoami', input: 'CERT', args: (bad) => ['whoami', bad]},
  {command: 'whoami', input: 'CERT (with a server)', args: (bad) => ['whoami', bad, ...server(), '--cacert', ca.cert]},
  {command: 'whoami', input: '--verify-key', args: (bad) => ['whoami', client.cert, '--verify-key', bad, ...server(), '--cacert', ca.cert]},
  {command: 'whoami', input: '--cacert', args: (bad) => ['whoami', client.cert, ...server(), '--cacert', bad]},
  {command: 'whoami', input: '--cert', args: (bad) => ['whoami', client.cert, ...server(), '--cacert', ca.cert, '--cert', bad, '--key', client.key]},
  {command: 'whoami', input: '--key', args: (bad) => ['whoami', client.cert, ...server(), '--cacert', ca.cert, '--cert', client.cert, '--key', bad]},
  ...(['check', 'reload'] as const).flatMap((command): FileInput[] => {
    const extra = command === 'reload' ? ['--lock-file', join(dir, 'reload.lock')] : []
    return [
      {command, input: '--cacert', args: (bad) => [command, ...server(), ...extra, '--cacert', bad]},
      {command, input: '--cert', args: (bad) => [command, ...server(), ...extra, '--cacert', ca.cert, '--cert', bad, '--key', client.key]},
      {command, input: '--key', args: (bad) => [command, ...server(), ...extra, '--cacert', ca.cert, '--cert', client.cert, '--key', bad]},
    ]
  }),
]

/**
 * Time limits. What a FIFO or a device would cost is unbounded (a wait for ever, gigabytes read), so the
 * limits only need to tell "at once" from that. A run may take at most FILE_MS more than the same command
 * given a missing file (measured just before: node's start-up, which a loaded two-core machine can stretch),
 * and at most CEILING_MS in all, unless that start-up alone is already past a second (then the log says so).
 */
const FILE_MS = 1000
const CEILING_MS = 2000

const timings: Array<{what: string; ms: number; baselineMs: number}> = []

async function timed(args: string[]): Promise<CliResult & {ms: number}> {
  const start = performance.now()
  // A hang would be the bug: kill well before vitest's own timeout, so the failure says what hung.
  const result = await runCli(args, {timeoutMs: 10_000})
  return {...result, ms: performance.now() - start}
}

/** The same command line with a missing file in the place under test: exit 3 too, without opening anything. */
async function baseline(args: (bad: string) => string[]): Promise<number> {
  const result = await timed(args(join(dir, 'missing')))
  expectOneLineError(result, 3, /no such file or directory/)
  return result.ms
}

/** Problems with one run's time, given the baseline of its command line. */
function slowness(ms: number, baselineMs: number): string | undefined {
  if (ms - baselineMs >= FILE_MS) return `${ms.toFixed(0)} ms, ${(ms - baselineMs).toFixed(0)} ms more than with a missing file`
  if (ms >= CEILING_MS && baselineMs < FILE_MS) return `${ms.toFixed(0)} ms (a missing file: ${baselineMs.toFixed(0)} ms)`
  return undefined
}

describe('file inputs that are not regular files', () => {
  for (const input of inputs) {
    it(`${input.command} ${input.input}: FIFOs, devices and symlinks to them are refused at once (exit 3, one line)`, async () => {
      const baselineMs = await baseline(input.args)
      for (const {label, path, kind} of kinds) {
        let result = await timed(input.args(path))
        let base = baselineMs
        if (slowness(result.ms, base)) {
          // A loaded machine stretches one run now and then; a file that is waited on or read is slow every time.
          base = await baseline(input.args)
          result = await timed(input.args(path))
        }
        timings.push({what: `${input.command} ${input.input} = ${label}`, ms: result.ms, baselineMs: base})
        expect(result.code, `${label}: killed after 10 s means it waited on the file`).not.toBeNull()
        expectOneLineError(result, 3, kind)
        expect(result.stderr, label).toContain(path)
        expect(result.stdout, label).toBe('')
        expect(slowness(result.ms, base), label).toBeUndefined()
        if (input.out && existsSync(input.out)) expect(readdirSync(input.out), `${label}: certs gen wrote files`).toEqual([])
      }
    }, 120_000)
  }

  it('--json: the same refusal is one JSON error object, exit 3', async () => {
    const baselineMs = await baseline((bad) => ['whoami', bad])
    const result = await timed(['whoami', kinds[0]!.path, '--json'])
    expect(result.code).toBe(3)
    expect(JSON.parse(result.stdout)).toMatchObject({error: {code: 'input', exitCode: 3, message: expect.stringMatching(/is a FIFO, not a regular file/)}})
    expect(slowness(result.ms, baselineMs)).toBeUndefined()
  })

  it('the timings (every run above, against the same command with a missing file)', () => {
    expect(timings.length).toBe(inputs.length * kinds.length)
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
    const slowest = timings.reduce((a, b) => (b.ms - b.baselineMs > a.ms - a.baselineMs ? b : a))
    console.log(`file inputs: ${timings.length} runs, median ${median(timings.map((t) => t.ms)).toFixed(0)} ms (a missing file: median ${median(timings.map((t) => t.baselineMs)).toFixed(0)} ms); ` +
      `most over its baseline: ${slowest.what}, ${slowest.ms.toFixed(0)} ms vs ${slowest.baselineMs.toFixed(0)} ms`)
    // On a machine that is not overloaded, the typical run ends in under a second.
    if (median(timings.map((t) => t.baselineMs)) < FILE_MS / 2) expect(median(timings.map((t) => t.ms))).toBeLessThan(FILE_MS)
  })
})

describe('regular files that hold no certificate or key, through the CLI (a sample)', () => {
  const garbage: Array<{label: string; path: string}> = []

  beforeAll(async () => {
    const write = (name: string, data: Buffer | string) => {
      const path = join(dir, name)
      writeFileSync(path, data)
      garbage.push({label: name, path})
    }
    const der = readFileSync(await toDer(client.cert, join(dir, 'client.der')))
    write('random-4k.bin', randomBytes(4096))
    write('truncated.der', der.subarray(0, Math.floor(der.length / 2)))
    write('nuls.bin', Buffer.alloc(65_536))
    write('huge-line.txt', 'A'.repeat(900_000))
    write('random-base64.pem', `-----BEGIN CERTIFICATE-----\n${randomBytes(600).toString('base64')}\n-----END CERTIFICATE-----\n`)
    garbage.push({label: 'encrypted key', path: await encryptKey(client.key, join(dir, 'client-encrypted.key'), 'pass')})
  }, 60_000)

  // The flags whose parsers differ (certificate, key, CA bundle; offline and connection flags).
  const sample = () => inputs.filter((i) => ['certs verify CERT', 'certs verify --key', 'certs verify --cacert', 'certs gen --ca-cert', 'certs gen --ca-key', 'whoami CERT', 'whoami --verify-key', 'check --cacert', 'check --cert', 'check --key', 'reload --cacert', 'whoami --key'].includes(`${i.command} ${i.input}`))

  it('each is refused with one line and exit 3 (certs verify --key: listed as a problem, exit 10), in well under a second', async () => {
    const failures: string[] = []
    let slowest = 0
    for (const input of sample()) {
      const baselineMs = await baseline(input.args)
      for (const {label, path} of garbage) {
        let result = await timed(input.args(path))
        let base = baselineMs
        if (slowness(result.ms, base)) {
          // As above: one stretched run is the machine; slow twice is the file.
          base = await baseline(input.args)
          result = await timed(input.args(path))
        }
        slowest = Math.max(slowest, result.ms)
        const what = `${input.command} ${input.input} = ${label}`
        const lines = result.stderr.trimEnd().split('\n')
        if (input.command === 'certs verify' && input.input === '--key') {
          // A key that does not parse is one of the problems certs verify lists (exit 10), with the reason.
          if (result.code !== 10 && result.code !== 3) failures.push(`${what}: exit ${result.code}: ${result.stdout.slice(0, 300)}${result.stderr.slice(0, 300)}`)
          else if (result.code === 10 && !/is not a PEM private key|encrypted/.test(result.stdout)) failures.push(`${what}: refused without saying why: ${result.stdout.slice(0, 300)}`)
        } else if (result.code !== 3 || lines.length !== 1 || !/^Error: /.test(lines[0]!)) {
          failures.push(`${what}: exit ${result.code}: ${JSON.stringify(result.stderr.slice(0, 300))}`)
        }
        const slow = slowness(result.ms, base)
        if (slow) failures.push(`${what}: ${slow}`)
      }
    }
    console.log(`garbage files through the CLI: ${sample().length * garbage.length} runs, slowest ${slowest.toFixed(0)} ms`)
    expect(failures, failures.join('\n')).toEqual([])
  }, 300_000)
})
