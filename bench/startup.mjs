#!/usr/bin/env node
// Start-up benchmark: wall time of `valkey-tls --version` and `valkey-tls certs gen` (default key type)
// as ratios to a bare `node -e 0`, measured interleaved in one run on this machine.
// Usage: node bench/startup.mjs [runs]   (default 30). Prints figures; it does not fail on a slow run.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const bin = join(root, pkg.bin['valkey-tls'])
const runs = Number(process.argv[2] ?? 30)
const scratch = mkdtempSync(join(tmpdir(), 'vtls-bench-'))
const env = {...process.env, NO_COLOR: '1'}

const cases = [
  {name: 'node -e 0', cmd: process.execPath, args: () => ['-e', '0']},
  {name: 'valkey-tls --version', cmd: bin, args: () => ['--version']},
  {name: 'valkey-tls certs gen', cmd: bin, args: (i) => ['certs', 'gen', '--out', join(scratch, `gen-${i}`)]},
]

function once(c, i) {
  const start = process.hrtime.bigint()
  const result = spawnSync(c.cmd, c.args(i), {env, stdio: ['ignore', 'pipe', 'pipe']})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`${c.name} exited ${result.status}: ${result.stderr}`)
  return ms
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

try {
  for (const c of cases) once(c, 'warm') // warm the page cache
  const times = cases.map(() => [])
  for (let i = 0; i < runs; i++) {
    // Interleaved, so drifting machine load hits every case alike.
    cases.forEach((c, k) => times[k].push(once(c, i)))
  }
  const base = quantile(times[0], 0.5)
  console.log(`valkey-tls ${pkg.version} start-up, node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${runs} runs each, entry ${pkg.bin['valkey-tls']}`)
  console.log('case                      median ms   p90 ms   ratio to node -e 0 (median)   target')
  cases.forEach((c, k) => {
    const median = quantile(times[k], 0.5)
    const ratio = median / base
    const target = k === 0 ? '' : ratio <= 2 ? '<= 2x: met' : '<= 2x: NOT met'
    console.log(`${c.name.padEnd(26)}${median.toFixed(1).padStart(9)}${quantile(times[k], 0.9).toFixed(1).padStart(9)}   ${ratio.toFixed(2).padStart(10)}x                   ${target}`)
  })
} finally {
  rmSync(scratch, {recursive: true, force: true})
}
