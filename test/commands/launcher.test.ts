import {chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Config} from '@oclif/core'
import {afterEach, describe, expect, it} from 'vitest'

import {BIN, runCli} from '../helpers/cli.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const NO_SNAPSHOT = {VALKEY_TLS_NO_SNAPSHOT: '1'}
// oclif's own debug output (DEBUG=oclif:main) prints process.execArgv, which names the blob node started from.
const FROM_SNAPSHOT = /process\.execArgv: --snapshot-blob,\S*valkey-tls\.blob/

const dirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtls-launch-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
})

/** The structure of a JSON value (keys and value types), without the values. */
const shape = (value: unknown): unknown =>
  Array.isArray(value) ? value.map(shape)
    : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
      : typeof value

describe('bin/valkey-tls launcher', () => {
  it('starts from the startup snapshot that the build made; VALKEY_TLS_NO_SNAPSHOT=1 and NODE_OPTIONS use bin/run.js', async () => {
    expect(existsSync(join(ROOT, '.snapshot', 'valkey-tls.blob'))).toBe(true)
    const args = () => ['certs', 'gen', '--out', join(tempDir(), 'tls'), '--json']
    const fast = await runCli(args(), {env: {DEBUG: 'oclif:main'}})
    expect(fast.code).toBe(0)
    expect(fast.stderr).toMatch(FROM_SNAPSHOT)
    for (const env of [NO_SNAPSHOT, {NODE_OPTIONS: '--no-warnings'}]) {
      const slow = await runCli(args(), {env: {DEBUG: 'oclif:main', ...env}})
      expect(slow.code).toBe(0)
      expect(slow.stderr).toMatch(/process\.execArgv: /)
      expect(slow.stderr).not.toMatch(/--snapshot-blob/)
    }
  })

  it('gives the same --json output and exit codes with and without the snapshot', async () => {
    const run = async (args: string[], env = {}) => {
      const {code, stdout, stderr} = await runCli(args, {env})
      return {code, stdout, stderr}
    }
    const fast = await run(['certs', 'gen', '--out', join(tempDir(), 'tls'), '--json', '--client', 'alice'])
    const slow = await run(['certs', 'gen', '--out', join(tempDir(), 'tls'), '--json', '--client', 'alice'], NO_SNAPSHOT)
    expect(fast.code).toBe(0)
    expect(slow.code).toBe(0)
    expect(shape(JSON.parse(fast.stdout))).toEqual(shape(JSON.parse(slow.stdout)))
    // Usage errors, from oclif's parser and from our own validation; as JSON and as one line on stderr.
    for (const args of [['certs', 'gen', '--key-type', 'nope', '--json'], ['certs', 'gen', '--days', '0'], ['certs', 'gen', '--bogus'], ['certs', 'gen', '--san', 'a b']]) {
      const [withSnapshot, without] = [await run(args), await run(args, NO_SNAPSHOT)]
      expect(withSnapshot.code, args.join(' ')).toBe(2)
      expect(withSnapshot).toEqual(without)
    }
    // Refusing to overwrite (exit 4), and --help, which oclif renders.
    const out = tempDir()
    await run(['certs', 'gen', '--out', out])
    expect(await run(['certs', 'gen', '--out', out])).toEqual({...await run(['certs', 'gen', '--out', out], NO_SNAPSHOT), code: 4})
    const help = await run(['certs', 'gen', '--help'])
    expect(help.stdout).toContain('USAGE')
    expect(help).toEqual(await run(['certs', 'gen', '--help'], NO_SNAPSHOT))
  })

  it('prints the same --version line as oclif, by the launcher and by bin/run.js', async () => {
    const {userAgent} = await Config.load(ROOT)
    for (const flag of ['--version', '-v']) {
      expect(await runCli([flag])).toEqual({code: 0, stdout: `${userAgent}\n`, stderr: ''})
      expect(await runCli([flag], {env: NO_SNAPSHOT})).toEqual({code: 0, stdout: `${userAgent}\n`, stderr: ''})
    }
    const {execFileSync} = await import('node:child_process')
    expect(execFileSync(process.execPath, [BIN, '--version'], {encoding: 'utf8'})).toBe(`${userAgent}\n`)
  })

  it('falls back to bin/run.js when node on PATH is not the binary the snapshot was built with', async () => {
    // A different "node" first on PATH (a wrapper around the real one): the blob must not be tried with it.
    const fakeBin = tempDir()
    writeFileSync(join(fakeBin, 'node'), `#!/bin/sh\nexec '${process.execPath}' "$@"\n`)
    chmodSync(join(fakeBin, 'node'), 0o755)
    const env = {PATH: `${fakeBin}${delimiter}${process.env.PATH}`, DEBUG: 'oclif:main'}
    const result = await runCli(['certs', 'gen', '--out', join(tempDir(), 'tls'), '--json'], {env})
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/process\.execArgv: /)
    expect(result.stderr).not.toMatch(/--snapshot-blob/)
    expect(JSON.parse(result.stdout).files).toHaveLength(6)
  })
})
