#!/usr/bin/env node
// Builds .snapshot/valkey-tls.blob, the V8 startup snapshot bin/valkey-tls starts from (see src/snapshot-entry.ts),
// for the node running this script; .snapshot/node links to that node binary. Runs after tsc and `oclif manifest`.
// Never fails the build: on any problem it warns and leaves no blob, and bin/valkey-tls uses bin/run.js instead.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const snap = join(root, '.snapshot')
const blob = join(snap, 'valkey-tls.blob')
const env = {...process.env}
delete env.NODE_OPTIONS

rmSync(snap, {recursive: true, force: true}) // a failed build must not leave an older blob behind
const scratch = mkdtempSync(join(tmpdir(), 'vtls-snapshot-'))
try {
  const {build} = await import('esbuild')
  const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
  // Commands are import()ed, so esbuild bundles them as lazily initialised modules (run at run time, not build time).
  const table = Object.entries(manifest.commands).map(([id, c]) => `${JSON.stringify(id)}: () => import(${JSON.stringify(`./${c.relativePath.join('/')}`)})`)
  mkdirSync(snap)
  const bundle = join(snap, 'bundle.cjs') // kept: stack traces (DEBUG=*) point into it
  await build({
    stdin: {contents: `import {install} from './dist/snapshot-entry.js'\ninstall({${table.join(', ')}})\n`, resolveDir: root, sourcefile: 'snapshot.js'},
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: bundle, logLevel: 'error', minifyWhitespace: true, // smaller blob, faster start
    external: ['typescript'], // only oclif's ts-node support (development mode) wants it
  })
  const tmp = join(snap, `valkey-tls.blob.${process.pid}.tmp`)
  check(spawnSync(process.execPath, ['--snapshot-blob', tmp, '--build-snapshot', bundle], {cwd: scratch, env, encoding: 'utf8'}), 'node --build-snapshot')

  // Smoke tests with the new blob: the same --version line as bin/run.js, and a real `certs gen --json`.
  const cli = (args) => spawnSync(process.execPath, ['--snapshot-blob', tmp, '--', ...args], {cwd: scratch, env: {...env, NO_COLOR: '1'}, encoding: 'utf8', timeout: 30_000})
  const version = check(cli(['--version']), '--version').stdout
  const expected = check(spawnSync(process.execPath, [join(root, 'bin', 'run.js'), '--version'], {env, encoding: 'utf8'}), 'bin/run.js --version').stdout
  if (version !== expected) throw new Error(`--version printed ${JSON.stringify(version)}, bin/run.js ${JSON.stringify(expected)}`)
  const gen = check(cli(['certs', 'gen', '--out', join(scratch, 'tls'), '--json']), 'certs gen --json')
  if (JSON.parse(gen.stdout).files?.length !== 6) throw new Error(`certs gen --json printed ${gen.stdout}`)

  renameSync(tmp, blob)
  symlinkSync(realpathSync(process.execPath), join(snap, 'node'))
  console.log(`startup snapshot: ${blob} (for ${process.execPath} ${process.version})`)
} catch (error) {
  rmSync(snap, {recursive: true, force: true})
  console.warn(`warning: no startup snapshot, bin/valkey-tls will start via bin/run.js (slower): ${error?.message ?? error}`)
} finally {
  rmSync(scratch, {recursive: true, force: true})
}

function check(result, what) {
  if (result.error) throw result.error
  if (result.status !== 0) throw new Error(`${what} exited ${result.status ?? result.signal}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ')}`)
  return result
}
