/**
 * The entry a user runs: `node bin/run.js` (the package's bin), and the package as `npm pack` and
 * `npm install -g` give it. Start-up relies on oclif's own mechanisms (its default command strategy: a module a
 * command in dist/commands, found through oclif.manifest.json; a help class, src/help.ts) and Node's (one
 * CommonJS bundle, compiled through node:vm with V8's code cache: test/commands/code-cache.test.ts; libraries
 * that only some runs need in files of their own, required when used).
 */
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {Config} from '@oclif/core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, runCli} from '../helpers/cli.js'
import {useTempDirs} from '../helpers/temp.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(ROOT, 'dist')
const run = promisify(execFile)
const tempDir = useTempDirs('vtls-launch')

describe('node bin/run.js', () => {
  it('prints the same --version line as oclif, with and without its short cut', async () => {
    const {userAgent} = await Config.load(ROOT)
    for (const flag of ['--version', '-v']) {
      expect(await runCli([flag])).toEqual({code: 0, stdout: `${userAgent}\n`, stderr: ''})
    }
    // DEBUG makes bin/run.js leave --version to oclif; oclif's debug lines go to stderr.
    const viaOclif = await runCli(['--version'], {env: {DEBUG: 'oclif:nothing'}})
    expect(viaOclif).toMatchObject({code: 0, stdout: `${userAgent}\n`})
  })

  it('bundles every command file of src/commands as dist/commands, where the manifest sends oclif, under its id', () => {
    const ids = (dir: string): string[] => readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) return ids(path)
      return entry.name.endsWith('.ts') ? [relative(join(ROOT, 'src', 'commands'), path).slice(0, -3).split(sep).join(':')] : []
    })
    const sources = ids(join(ROOT, 'src', 'commands')).sort()
    expect(sources.length).toBeGreaterThanOrEqual(10)
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    expect(Object.keys(manifest.commands).sort()).toEqual(sources)
    for (const id of sources) {
      const {relativePath, isESM} = manifest.commands[id]
      expect({id, relativePath, isESM}).toEqual({id, relativePath: ['dist', 'commands', ...id.split(':').slice(0, -1), `${id.split(':').at(-1)}.cjs`], isESM: false})
      expect(existsSync(join(ROOT, ...relativePath))).toBe(true)
    }
  })

  it('loads only what the command needs: the bundle once, help no command module, certs gen and whoami no prompts', async () => {
    // NODE_DEBUG=module: Node logs every CommonJS file it loads (load "PATH" for module ...) on stderr.
    const dir = tempDir()
    const loaded = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const {stderr} = await run(process.execPath, [BIN, ...args], {env: {...process.env, NO_COLOR: '1', NODE_DEBUG: 'module', VALKEY_TLS_CACHE_DIR: join(dir, 'cache'), DEBUG: 'valkey-tls:startup', ...env}})
      const files = [...stderr.matchAll(/^MODULE \d+: load "([^"]+)"/gm)].map(([, file]) => relative(DIST, file).split(sep).join('/'))
      return {files, startup: stderr.match(/^valkey-tls:startup (.*)$/m)?.[1]}
    }

    const help = await loaded(['check', '--help'])
    expect(help.files).toEqual(['start.cjs', 'help.cjs']) // the commands' help comes from oclif.manifest.json
    expect(help.startup).toMatch(/^code cache miss .*check-[0-9a-f]{16}\.v8cache$/) // dist/cli.cjs, through node:vm

    const gen = await loaded(['certs', 'gen', '--out', join(dir, 'pki'), '--yes'])
    expect(gen.files).toEqual(['start.cjs', 'commands/certs/gen.cjs']) // that command's module alone, no vendor/
    const p12 = await loaded(['certs', 'gen', '--out', join(dir, 'p12'), '--p12', '--yes'], {VALKEY_TLS_P12_PASSWORD: 'correct horse'})
    expect(p12.files).toEqual(['start.cjs', 'commands/certs/gen.cjs', 'vendor/asn1js.cjs'])

    const whoami = await loaded(['whoami', join(dir, 'pki', 'client.crt')])
    expect(whoami.files).toEqual(['start.cjs', 'commands/whoami.cjs'])

    // Without the code cache the same files, and the bundle is still not required a second time.
    const uncached = await loaded(['whoami', join(dir, 'pki', 'client.crt')], {NODE_DISABLE_COMPILE_CACHE: '1'})
    expect(uncached).toEqual({files: ['start.cjs', 'commands/whoami.cjs'], startup: 'code cache off'})
  })
})

describe('the installed package (npm pack, npm install -g --prefix)', () => {
  let prefix: string
  let installed: string
  const bin = () => (process.platform === 'win32' ? join(prefix, 'valkey-tls.cmd') : join(prefix, 'bin', 'valkey-tls'))
  const cli = (args: string[]) => run(bin(), args, {env: {...process.env, NO_COLOR: '1'}, shell: process.platform === 'win32'})

  const dir = mkdtempSync(join(tmpdir(), 'vtls-installed-')) // for the whole describe: tempDir()'s go after each test
  afterAll(() => rmSync(dir, {recursive: true, force: true}))
  beforeAll(async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    // `npm test` has just built dist/ (the `prepare` script would build it again).
    const {stdout} = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {cwd: ROOT, shell: process.platform === 'win32'})
    prefix = join(dir, 'prefix')
    await run(npm, ['install', '--global', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', join(dir, JSON.parse(stdout)[0].filename)], {cwd: dir, shell: process.platform === 'win32'})
    installed = process.platform === 'win32' ? join(prefix, 'node_modules', 'valkey-tls') : join(prefix, 'lib', 'node_modules', 'valkey-tls')
  }, 180_000)

  it('holds the bin, the bundle, the manifest and the licences, nothing for development, and no dependencies', () => {
    expect(readdirSync(installed).sort()).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'oclif.manifest.json', 'package.json'])
    expect(readdirSync(join(installed, 'bin'))).toEqual(['run.js'])
    expect(readdirSync(join(installed, 'dist')).sort()).toEqual(['THIRD-PARTY-LICENSES.txt', 'cli.cjs', 'commands', 'help.cjs', 'hooks', 'start.cjs', 'vendor'])
    expect(readdirSync(join(installed, 'dist', 'vendor')).sort()).toEqual(['asn1js.cjs', 'prompts.cjs', 'proper-lockfile.cjs', 'yaml.cjs'])
    expect(existsSync(join(installed, 'node_modules'))).toBe(false)
    const licences = readFileSync(join(installed, 'dist', 'THIRD-PARTY-LICENSES.txt'), 'utf8')
    for (const name of ['@oclif/core', 'asn1js', '@inquirer/prompts', 'chalk']) expect(licences).toMatch(new RegExp(`^${name} \\d`, 'm'))
    expect(licences).not.toMatch(/^@peculiar\/x509 /m) // only the tests use it (certificates are encoded in src/pki/encode.ts)
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^BSD 3-Clause License\n\nCopyright \(c\) 2026, the valkey-tls authors\n/)
  })

  it('runs --version, certs gen, whoami and check --help', async () => {
    const {userAgent} = await Config.load(ROOT)
    expect((await cli(['--version'])).stdout).toBe(`${userAgent}\n`)
    const out = join(tempDir(), 'tls')
    const gen = JSON.parse((await cli(['certs', 'gen', '--out', out, '--client', 'alice', '--json'])).stdout)
    expect(gen.files).toHaveLength(8)
    const who = JSON.parse((await cli(['whoami', join(out, 'alice.crt'), '--json'])).stdout)
    expect(who).toMatchObject({commonName: 'alice'})
    const help = (await cli(['check', '--help'])).stdout
    expect(help).toContain('USAGE\n  $ valkey-tls check')
  })

  it('completes, lists topics and answers a mistyped command (the bundled command_not_found hook)', async () => {
    expect((await cli(['autocomplete', 'bash'])).stdout).toMatch(/^complete -o filenames -F _valkey_tls valkey-tls$/m)
    expect((await cli(['help'])).stdout).toMatch(/^TOPICS\n {2}ca /m)
    const typo = await cli(['chek']).catch((error: {code: number; stderr: string}) => error)
    // (vitest's NODE_ENV=test makes oclif look for TypeScript sources first, and warn that it has none, before.)
    expect(typo).toMatchObject({code: 2, stderr: expect.stringMatching(/^Error: "chek" is not a valkey-tls command; did you mean "valkey-tls check"\? \(see valkey-tls help\)\n$/m)})
  })
})
