#!/usr/bin/env node
// `valkey-tls check` against the do-it-yourself baseline, on real TLS clusters (tls-cluster, one
// replica per primary) started on loopback, at several sizes, in one run on this machine:
//   baseline: valkey-cli CLUSTER NODES, then one `openssl s_client -verify_return_error` per node, in turn
//   tool:     valkey-tls check (discovery, then every node's client and bus port, all at once)
// Usage: node bench/check.mjs [sizes] [runs]    e.g. node bench/check.mjs 6,30,60 5   (defaults 10,30,60 and 5)
// Prints figures; it does not fail on a slow run. Needs openssl and scripts/ensure-valkey.sh.
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {bin, freePort, makePki, median, root, sh, time, waitFor} from './lib.mjs'

const sizes = (process.argv[2] ?? '10,30,60').split(',').map(Number)
const runs = Number(process.argv[3] ?? 5)
const scratch = mkdtempSync(join(tmpdir(), 'vtls-bench-check-'))
const server = execFileSync('bash', [join(root, 'scripts/ensure-valkey.sh')], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']}).trim().split('\n').pop()
const cli = join(dirname(server), 'valkey-cli')
const children = []

const tlsCli = (pki, port, ...args) => sh(cli, ['--tls', '--cacert', pki.ca, '--cert', pki.cert, '--key', pki.key, '-h', '127.0.0.1', '-p', String(port), ...args])

async function startCluster(n, pki) {
  const dir = join(scratch, `cluster-${n}`)
  const nodes = []
  for (let i = 0; i < n; i++) {
    const port = await freePort()
    const busPort = await freePort()
    const nodeDir = join(dir, `n${i}`)
    mkdirSync(nodeDir, {recursive: true})
    const args = ['--port', '0', '--tls-port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--tls-cert-file', pki.cert, '--tls-key-file', pki.key, '--tls-ca-cert-file', pki.ca, '--tls-cluster', 'yes', '--tls-replication', 'yes',
      '--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--dir', nodeDir, '--logfile', join(nodeDir, 'log')]
    const child = spawn(server, args, {stdio: 'ignore'})
    children.push(child)
    nodes.push({port, busPort, child})
  }
  for (const node of nodes) await waitFor(() => tlsCli(pki, node.port, 'PING').trim() === 'PONG')
  sh(cli, ['--tls', '--cacert', pki.ca, '--cert', pki.cert, '--key', pki.key, '--cluster', 'create', ...nodes.map((x) => `127.0.0.1:${x.port}`), '--cluster-replicas', '1', '--cluster-yes'])
  await waitFor(() => nodes.every((x) => /cluster_state:ok/.test(tlsCli(pki, x.port, 'CLUSTER', 'INFO')) && tlsCli(pki, x.port, 'CLUSTER', 'NODES').trim().split('\n').length === n))
  return nodes
}

function baseline(pki, seed) {
  const nodes = tlsCli(pki, seed, 'CLUSTER', 'NODES').trim().split('\n').map((l) => l.split(' ')[1].split('@')[0])
  for (const address of nodes) {
    const r = spawnSync('openssl', ['s_client', '-connect', address, '-CAfile', pki.ca, '-cert', pki.cert, '-key', pki.key, '-verify_return_error'], {input: '', encoding: 'utf8'})
    if (!/Verify return code: 0 \(ok\)/.test(r.stdout)) throw new Error(`baseline: ${address} did not verify`)
  }
  return nodes.length
}

const internal = []

function tool(pki, seed, n) {
  const r = spawnSync(bin, ['check', '-p', String(seed), '--cacert', pki.ca, '--cert', pki.cert, '--key', pki.key, '--json'], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  const report = JSON.parse(r.stdout)
  if (r.status !== 0 || report.summary.ok !== n) throw new Error(`check: exit ${r.status}, ${JSON.stringify(report.summary)}`)
  internal.push(report.summary.durationMs)
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) child.kill('SIGKILL')
    rmSync(scratch, {recursive: true, force: true})
    process.exit(130)
  })
}

try {
  const pki = makePki(join(scratch, 'pki'))
  const rows = []
  for (const n of sizes) {
    const nodes = await startCluster(n, pki)
    const seed = nodes[0].port
    if (process.env.BENCH_KEEP) {
      console.log(`cluster of ${n} ready: seed port ${seed}, PKI in ${join(scratch, 'pki')}; Ctrl+C to stop`)
      await new Promise(() => {})
    }
    internal.length = 0
    baseline(pki, seed) // warm caches
    tool(pki, seed, n)
    const b = []
    const t = []
    for (let i = 0; i < runs; i++) {
      b.push(time(() => baseline(pki, seed)))
      t.push(time(() => tool(pki, seed, n)))
    }
    rows.push({n, baseline: median(b), tool: median(t), work: median(internal.slice(1))})
    for (const node of nodes) node.child.kill('SIGKILL')
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(`valkey-tls check vs valkey-cli CLUSTER NODES + sequential openssl s_client; median of ${runs} runs; ${cpus().length} x ${cpu}; Node ${process.version}`)
  console.log('| nodes | baseline | valkey-tls check | of which checking (after start-up) | speed-up | baseline ms/node | check ms/node |')
  console.log('|---|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(`| ${r.n} | ${r.baseline.toFixed(0)} ms | ${r.tool.toFixed(0)} ms | ${r.work} ms | ${(r.baseline / r.tool).toFixed(2)}x | ${(r.baseline / r.n).toFixed(1)} | ${(r.tool / r.n).toFixed(1)} |`)
  }
  if (rows.length > 1) {
    const [a, z] = [rows[0], rows.at(-1)]
    console.log(`\nfrom ${a.n} to ${z.n} nodes (${(z.n / a.n).toFixed(1)}x): baseline grew ${(z.baseline / a.baseline).toFixed(2)}x, valkey-tls check ${(z.tool / a.tool).toFixed(2)}x`)
  }
} finally {
  for (const child of children) child.kill('SIGKILL')
  rmSync(scratch, {recursive: true, force: true})
}
