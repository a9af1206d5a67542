#!/usr/bin/env node
// Start-up of the package as a user gets it: build, `npm pack`, `npm install -g --prefix <tmp> <tgz>`,
// then the installed `<tmp>/bin/valkey-tls`, against a bare `node -e 0`, all interleaved in one run.
// Cases (issue 11): `certs gen --out <fresh folder> --yes`, offline `whoami <cert>`, `check --help`; plus
// `--version`, and whoami without the code cache (NODE_DISABLE_COMPILE_CACHE) and at a first run (a new cache
// folder each time: the run compiles and writes the cache). The code cache lives in a folder of this run
// (VALKEY_TLS_CACHE_DIR), filled by the warm-up runs. Prints the median and p90 of each, and the ratio of
// medians to `node -e 0`.
// Usage: node bench/startup-installed.mjs [runs]   (default 30; npm run bench:startup). It never fails on a slow run.
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {delimiter, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const runs = Number(process.argv[2] ?? 30)
const scratch = mkdtempSync(join(tmpdir(), 'vtls-bench-installed-'))
// The installed bin finds node through PATH (its #! line): make that the node running this script.
const env = {...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`, VALKEY_TLS_CACHE_DIR: join(scratch, 'cache')}
const npm = (args, cwd = root) => execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, {cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], shell: process.platform === 'win32'})

try {
  console.error('npm run build, npm pack, npm install -g --prefix ...')
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], {cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'], shell: process.platform === 'win32'})
  const [{filename}] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', scratch])) // built just now
  const prefix = join(scratch, 'prefix')
  npm(['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', join(scratch, filename)], scratch)
  const bin = process.platform === 'win32' ? join(prefix, 'valkey-tls.cmd') : join(prefix, 'bin', 'valkey-tls')
  const version = execFileSync(bin, ['--version'], {env, encoding: 'utf8', shell: process.platform === 'win32'}).trim()
  execFileSync(bin, ['certs', 'gen', '--out', join(scratch, 'fixture'), '--yes'], {env, stdio: 'ignore', shell: process.platform === 'win32'})

  const cases = [
    {name: 'node -e 0', cmd: process.execPath, args: () => ['-e', '0']},
    {name: 'certs gen --out <new> --yes', target: true, cmd: bin, args: (i) => ['certs', 'gen', '--out', join(scratch, 'gen', String(i)), '--yes']},
    {name: 'whoami <cert> (offline)', target: true, cmd: bin, args: () => ['whoami', join(scratch, 'fixture', 'client.crt')]},
    {name: 'check --help', target: true, cmd: bin, args: () => ['check', '--help']},
    {name: '--version', cmd: bin, args: () => ['--version']},
    {name: 'whoami, no code cache', cmd: bin, args: () => ['whoami', join(scratch, 'fixture', 'client.crt')], env: {NODE_DISABLE_COMPILE_CACHE: '1'}},
    {name: 'whoami, first run', cmd: bin, args: () => ['whoami', join(scratch, 'fixture', 'client.crt')], env: (i) => ({VALKEY_TLS_CACHE_DIR: join(scratch, 'first', String(i))})},
  ]
  const once = (c, i) => {
    const start = process.hrtime.bigint()
    const extra = typeof c.env === 'function' ? c.env(i) : c.env
    const result = spawnSync(c.cmd, c.args(i), {cwd: scratch, env: {...env, ...extra}, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' && c.cmd === bin})
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    if (result.status !== 0) throw new Error(`${c.name} exited ${result.status}: ${result.stderr}`)
    return ms
  }
  const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

  cases.forEach((c) => once(c, 'warm')) // page cache
  const times = cases.map(() => [])
  for (let i = 0; i < runs; i++) cases.forEach((c, k) => times[k].push(once(c, i))) // interleaved: load drifts hit every case alike

  const base = quantile(times[0], 0.5)
  console.log(`${version}, installed from ${filename}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; median of ${runs} interleaved runs`)
  console.log(`${'case'.padEnd(30)}${'median ms'.padStart(10)}${'p90 ms'.padStart(9)}${'ratio'.padStart(8)}   target <= 2x`)
  cases.forEach((c, k) => {
    const median = quantile(times[k], 0.5)
    const ratio = median / base
    const target = k === 0 ? '' : !c.target ? '(not a target)' : ratio <= 2 ? 'met' : 'NOT met'
    console.log(`${c.name.padEnd(30)}${median.toFixed(1).padStart(10)}${quantile(times[k], 0.9).toFixed(1).padStart(9)}${`${ratio.toFixed(2)}x`.padStart(8)}   ${target}`)
  })
} finally {
  rmSync(scratch, {recursive: true, force: true})
}
