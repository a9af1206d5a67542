/**
 * bin/run.js compiles dist/cli.cjs with V8's code cache (src/startup/load.ts): the real CLI, run as a user runs
 * it, with VALKEY_TLS_CACHE_DIR pointing at a folder of the test, and DEBUG=valkey-tls:startup saying what the
 * start did with the cache. Whatever the cache holds, the command must answer the same.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
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

  it('of another build is removed when this one writes its own; runs at once each write theirs whole', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'code-cache'), {mode: 0o700})
    writeFileSync(join(dir, 'code-cache', 'whoami-0123456789abcdef.v8cache'), 'an older build', {mode: 0o600})
    writeFileSync(join(dir, 'code-cache', 'notes.txt'), 'not ours', {mode: 0o600})
    const runs = await Promise.all([1, 2, 3, 4].map(() => whoami(dir)))
    for (const run of runs) expect(run).toMatchObject({code: 0, stdout: expected, outcome: 'miss'})
    const names = cacheFiles(dir)
    expect(names).toEqual(['notes.txt', runs[0].file!.split('/').at(-1)]) // no .tmp left, the old build's file gone
    expect(await whoami(dir)).toMatchObject({code: 0, stdout: expected, outcome: 'hit'})
  })
})
