/**
 * bin/run.js compiles dist/cli.cjs with V8's code cache (src/startup/load.ts): the real CLI, run as a user runs
 * it, with VALKEY_TLS_CACHE_DIR pointing at a folder of the test, and DEBUG=valkey-tls:startup saying what the
 * start did with the cache. Whatever the cache holds, the command must answer the same.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {makeTempDir, useTempDirs} from '../helpers/temp.js'

const tempDir = useTempDirs('vtls-code-cache')
const isRoot = process.getuid?.() === 0
let pki: string

beforeAll(async () => {
  pki = join(makeTempDir('vtls-code-cache-pki'), 'tls')
  expect((await runCli(['certs', 'gen', '--out', pki, '--client', 'alice', '--yes'])).code).toBe(0)
})

/** whoami --json on alice.crt with the cache in `dir`: exit code, output, and the start-up line of DEBUG. */
async function whoami(dir: string, env: NodeJS.ProcessEnv = {}) {
  const result = await runCli(['whoami', join(pki, 'alice.crt'), '--json'], {env: {VALKEY_TLS_CACHE_DIR: dir, DEBUG: 'valkey-tls:startup', ...env}})
  const line = result.stderr.match(/^valkey-tls:startup code cache (\S+)(?: (.*))?$/m)
  return {code: result.code, stdout: result.stdout, outcome: line?.[1], file: line?.[2], stderr: result.stderr}
}

const cacheFiles = (dir: string) => (existsSync(join(dir, 'code-cache')) ? readdirSync(join(dir, 'code-cache')).sort() : [])

describe('the code cache of bin/run.js', () => {
  let expected: string
  beforeAll(async () => {
    const plain = await whoami('/nonexistent', {NODE_DISABLE_COMPILE_CACHE: '1'})
    expect(plain).toMatchObject({code: 0, outcome: 'off'})
    expected = plain.stdout
    expect(JSON.parse(expected)).toMatchObject({commonName: 'alice'})
    expect(existsSync('/nonexistent')).toBe(false) // off means no folder either
  })

  it('is written by the first run of a command, in a private folder, and used by the next one', async () => {
    const dir = tempDir()
    const first = await whoami(dir)
    expect(first).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
    expect(first.file).toMatch(new RegExp(`^${join(dir, 'code-cache')}/whoami-[0-9a-f]{16}\\.v8cache$`))
    expect(statSync(join(dir, 'code-cache')).mode & 0o777).toBe(0o700)
    expect(statSync(first.file!).mode & 0o777).toBe(0o600)
    expect(statSync(first.file!).size).toBeGreaterThan(100_000) // the bundle's bytecode, not an empty file
    const second = await whoami(dir)
    expect(second).toMatchObject({code: 0, stdout: expected, outcome: 'hit', file: first.file})

    // Another command has a file of its own; help of any command, and a typo, share "cli".
    expect((await runCli(['certs', 'inspect', join(pki, 'ca.crt')], {env: {VALKEY_TLS_CACHE_DIR: dir}})).code).toBe(0)
    expect((await runCli(['help'], {env: {VALKEY_TLS_CACHE_DIR: dir}})).code).toBe(0)
    expect((await runCli(['whoamii'], {env: {VALKEY_TLS_CACHE_DIR: dir}})).code).toBe(2)
    expect(cacheFiles(dir).map((name) => name.replace(/-[0-9a-f]{16}\.v8cache$/, ''))).toEqual(['certs-inspect', 'cli', 'help', 'whoami'])
  })

  it('holds no data of the run: no private key and no certificate the command read', async () => {
    const dir = tempDir()
    const {file} = await whoami(dir)
    const cache = readFileSync(file!)
    for (const name of ['alice.key', 'alice.crt', 'ca.key']) {
      const pem = readFileSync(join(pki, name), 'utf8')
      const base64 = pem.split('\n').filter((line) => line && !line.startsWith('-----')).join('')
      expect(cache.includes(base64.slice(0, 40))).toBe(false)
      expect(cache.includes(Buffer.from(base64, 'base64').subarray(0, 40))).toBe(false)
    }
  })

  it('is refused when damaged (another file, cut short, one bit changed, empty), and written again', async () => {
    const dir = tempDir()
    const {file} = await whoami(dir)
    const good = readFileSync(file!)
    const flipped = Buffer.from(good)
    flipped[flipped.length >> 1]! ^= 0x10 // one bit in the middle of V8's data: its own checks would not see it
    for (const damaged of [Buffer.alloc(good.length, 0x5a), good.subarray(0, good.length >> 1), flipped, Buffer.alloc(0)]) {
      writeFileSync(file!, damaged, {mode: 0o600})
      expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'rejected'})
      expect(readFileSync(file!).equals(damaged)).toBe(false)
      expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'hit'})
    }
  })

  it('is not used from a folder that others can write to, nor through a link', async () => {
    const dir = tempDir()
    const {file} = await whoami(dir)
    const elsewhere = join(tempDir(), 'planted.v8cache')
    copyFileSync(file!, elsewhere)
    const planted = readFileSync(elsewhere)

    chmodSync(join(dir, 'code-cache'), 0o777)
    const open = await whoami(dir)
    expect(open).toMatchObject({code: 0, stdout: expected, outcome: 'unsafe'})
    chmodSync(join(dir, 'code-cache'), 0o700)

    chmodSync(file!, 0o666) // a file others may change
    expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
    expect(statSync(file!).mode & 0o777).toBe(0o600) // replaced by a private one

    rmSync(file!)
    execFileSync('mkfifo', [file!]) // opening a FIFO for reading waits for a writer: the start must not
    expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
    expect(lstatSync(file!).isFile()).toBe(true)

    rmSync(file!)
    symlinkSync(elsewhere, file!)
    expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
    expect(lstatSync(file!).isSymbolicLink()).toBe(false) // the link itself replaced, its target untouched
    expect(readFileSync(elsewhere).equals(planted)).toBe(true)

    if (isRoot) { // a folder of another user
      const other = join(tempDir(), 'other')
      mkdirSync(join(other, 'code-cache'), {recursive: true, mode: 0o700})
      chownSync(join(other, 'code-cache'), 65534, 65534)
      expect(await whoami(other)).toMatchObject({code: 0, stdout: expected, outcome: 'unsafe'})
      expect(cacheFiles(other)).toEqual([])
    }
  })

  it('changes nothing when there is no place for it: a file where the folder should be, a read-only folder', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'code-cache'), 'not a folder')
    expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'unsafe'})
    expect(readFileSync(join(dir, 'code-cache'), 'utf8')).toBe('not a folder')

    if (!isRoot) { // root writes into read-only folders
      const readOnly = tempDir()
      mkdirSync(join(readOnly, 'code-cache'), {mode: 0o500})
      expect(await whoami(readOnly)).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
      expect(cacheFiles(readOnly)).toEqual([]) // nothing written, no temporary file left
      chmodSync(join(readOnly, 'code-cache'), 0o700)
    }
  })

  it('of another build goes once a week old, a killed run\'s temporary file once stale; runs at once each write theirs whole', async () => {
    const dir = tempDir()
    const folder = join(dir, 'code-cache')
    mkdirSync(folder, {mode: 0o700})
    const aged = (name: string, ms: number) => {
      writeFileSync(join(folder, name), 'not this build', {mode: 0o600})
      utimesSync(join(folder, name), new Date(Date.now() - ms), new Date(Date.now() - ms))
    }
    aged('whoami-0123456789abcdef.v8cache', 8 * 24 * 3600_000) // an older build, unused for 8 days
    aged('check-0123456789abcdef.v8cache', 3600_000) // another build (another install, other Node flags) in use
    aged('whoami-0123456789abcdef.v8cache.4242.tmp', 3600_000) // a run killed while writing, an hour ago
    aged('whoami-fedcba9876543210.v8cache.4243.tmp', 1000) // one writing now
    writeFileSync(join(folder, 'notes.txt'), 'not ours', {mode: 0o600})
    const runs = await Promise.all([1, 2, 3, 4].map(() => whoami(dir)))
    // At once, most find no file (a run started late on a busy machine may find one already written: a hit).
    for (const run of runs) expect(run).toMatchObject({code: 0, stdout: expected, outcome: expect.stringMatching(/^(miss|hit)$/), file: runs[0]!.file})
    expect(runs.filter((run) => run.outcome === 'miss').length).toBeGreaterThan(0)
    expect(cacheFiles(dir)).toEqual(['check-0123456789abcdef.v8cache', 'notes.txt', runs[0]!.file!.split('/').at(-1), 'whoami-fedcba9876543210.v8cache.4243.tmp'].sort())
    expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'hit'})
  })

  it('has a file of its own for other Node flags, and the usual one stays', async () => {
    const dir = tempDir()
    const usual = await whoami(dir)
    const flagged = await whoami(dir, {NODE_OPTIONS: '--max-old-space-size=200'})
    expect(flagged).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
    expect(flagged.file).not.toBe(usual.file)
    expect(await whoami(dir)).toMatchObject({outcome: 'hit', file: usual.file})
    expect(await whoami(dir, {NODE_OPTIONS: '--max-old-space-size=200'})).toMatchObject({outcome: 'hit', file: flagged.file})
  })

  it('is not used below a folder others can write to (or a link to one), nor from a relative path; nothing is made there', async () => {
    const open = join(tempDir(), 'open')
    mkdirSync(open, {mode: 0o700})
    chmodSync(open, 0o777) // not sticky: anyone may rename what is in it
    expect(await whoami(join(open, 'valkey-tls'))).toMatchObject({code: 0, stdout: expected, outcome: 'unsafe'})
    expect(readdirSync(open)).toEqual([])
    const viaLink = join(tempDir(), 'link')
    symlinkSync(open, viaLink)
    expect(await whoami(join(viaLink, 'valkey-tls'))).toMatchObject({code: 0, stdout: expected, outcome: 'unsafe'})
    expect(readdirSync(open)).toEqual([])
    chmodSync(open, 0o1777) // sticky, as /tmp: others may add entries, not move ours
    expect(await whoami(join(open, 'valkey-tls'))).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})

    const cwd = tempDir()
    const relative = await runCli(['whoami', join(pki, 'alice.crt'), '--json'], {cwd, env: {VALKEY_TLS_CACHE_DIR: 'cache', DEBUG: 'valkey-tls:startup'}})
    expect(relative).toMatchObject({code: 0, stdout: expected, stderr: expect.stringMatching(/^valkey-tls:startup code cache off$/m)})
    expect(readdirSync(cwd)).toEqual([])

    if (isRoot) { // a parent of another user (root run with HOME=/home/alice, say): not used, and nothing made in it
      const other = join(tempDir(), 'alice')
      mkdirSync(other, {mode: 0o755})
      chownSync(other, 65534, 65534)
      expect(await whoami(join(other, '.cache', 'valkey-tls'))).toMatchObject({code: 0, stdout: expected, outcome: 'unsafe'})
      expect(readdirSync(other)).toEqual([])
    }
  })

  it('reads no file bigger than V8 could have written (a sparse 3 GiB one), and replaces it', async () => {
    const dir = tempDir()
    const {file} = await whoami(dir)
    truncateSync(file!, 3 * 1024 ** 3)
    expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
    expect(statSync(file!).size).toBeLessThan(10 * 1024 ** 2)
    expect(await whoami(dir)).toMatchObject({outcome: 'hit'})
  })
})
