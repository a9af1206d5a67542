#!/usr/bin/env node
// A fleet of standalone TLS nodes (real Valkey, client certificates required, as `certs gen`'s
// configuration has it) on loopback, and, interleaved in one run, what an operator would use to look at
// them all:
//   nmap:    nmap -Pn -n -p PORTS --script ssl-cert 127.0.0.1   (one handshake a node, nothing verified)
//   openssl: one `openssl s_client -verify_return_error` per node, in turn (the do-it-yourself loop)
//   check:   valkey-tls check --nodes ... --cacert --cert --key --json   (must report every node ok)
//   reload:  valkey-tls reload --nodes ... (nothing changed: must say so, and send no CONFIG SET)
// Prints Node's own start (node -e 0), medians, the ratios of medians (check/nmap, check/openssl, reload/check), the peak memory
// (max RSS) and the CPU time (user + system) of the tool's process, with the CPU ratios: steadier than wall time on
// shared cores. The servers run on the same cores as the tools.
// Usage: node bench/fleet.mjs [sizes] [runs]   (defaults 30,200 and 5; npm run bench:fleet)
//        FLEET_SKIP=openssl,nmap node bench/fleet.mjs 1000 3   (the 1000-node run, tool only)
//        FLEET_KEEP=/tmp/fleet.json node bench/fleet.mjs 200      (start the fleet, describe it in the file, wait)
// It does not fail on a slow run; it fails when a tool's answer is wrong (a node not ok, a reload done).
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {join} from 'node:path'
import {connect} from 'node:tls'

import {bin, freePort, makePki, median, root, sh, waitFor} from './lib.mjs'

const sizes = (process.argv[2] ?? '30,200').split(',').map(Number)
const runs = Number(process.argv[3] ?? 5)
const skip = new Set((process.env.FLEET_SKIP ?? '').split(',').filter(Boolean))
const scratch = mkdtempSync(join(tmpdir(), 'vtls-bench-fleet-'))
const server = execFileSync('bash', [join(root, 'scripts/ensure-valkey.sh')], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']}).trim().split('\n').pop()
const children = []

const handshakes = (pki, port) => new Promise((res) => {
  const s = connect({host: '127.0.0.1', port, ca: pki.caPem, rejectUnauthorized: false}, () => {
    s.destroy()
    res(true)
  })
  s.on('error', () => res(false))
})

async function startFleet(n, pki) {
  const ports = []
  for (let i = 0; i < n; i++) {
    let port
    do port = await freePort()
    while (ports.includes(port)) // not bound until the server starts: never hand out one twice
    const dir = join(scratch, `n${n}-${i}`)
    mkdirSync(dir, {recursive: true})
    const child = spawn(server, ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--tls-cert-file', pki.cert, '--tls-key-file', pki.key, '--tls-ca-cert-file', pki.ca, '--tls-auth-clients', 'yes',
      '--dir', dir, '--logfile', join(dir, 'log')], {stdio: 'ignore'})
    children.push(child)
    ports.push(port)
  }
  for (const port of ports) await waitFor(() => handshakes(pki, port))
  return ports
}

/** A whole command's wall time, CPU time (user + system, GNU time's %U %S) and peak RSS (%M, KiB), and what it printed. */
function run(cmd, args) {
  const start = process.hrtime.bigint()
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss=%M cpu=%U+%S', cmd, ...args], {encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: {...process.env, NO_COLOR: '1'}, input: ''})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  const rss = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? Number.NaN)
  const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(r.stderr)
  return {ms, rss, cpu: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN, status: r.status, stdout: r.stdout, stderr: r.stderr}
}

const cases = {
  // Node's own start, which the tool pays before its first line runs (NODE_EXTRA_CA_CERTS, where set, adds to it).
  node() {
    return run(process.execPath, ['-e', '0'])
  },
  nmap(pki, ports) {
    const r = run('nmap', ['-Pn', '-n', '-p', ports.join(','), '--script', 'ssl-cert', '127.0.0.1'])
    const seen = (r.stdout.match(/ssl-cert: Subject/g) ?? []).length
    if (seen !== ports.length) throw new Error(`nmap: ${seen} certificates of ${ports.length}`)
    return r
  },
  openssl(pki, ports) {
    const start = process.hrtime.bigint()
    for (const port of ports) {
      const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca, '-cert', pki.cert, '-key', pki.key, '-verify_return_error'], {input: '', encoding: 'utf8'})
      if (!/Verify return code: 0 \(ok\)/.test(r.stdout)) throw new Error(`openssl: ${port} did not verify`)
    }
    return {ms: Number(process.hrtime.bigint() - start) / 1e6, rss: Number.NaN}
  },
  check(pki, ports) {
    const r = run(process.execPath, [bin, 'check', '--nodes', ports.map((p) => `127.0.0.1:${p}`).join(','), '--cacert', pki.ca, '--cert', pki.cert, '--key', pki.key, '--json'])
    const report = JSON.parse(r.stdout)
    if (r.status !== 0 || report.summary.ok !== ports.length) throw new Error(`check: exit ${r.status}, ${JSON.stringify(report.summary)}`)
    r.work = report.summary.durationMs
    return r
  },
  reload(pki, ports) {
    const r = run(process.execPath, [bin, 'reload', '--nodes', ports.map((p) => `127.0.0.1:${p}`).join(','), '--cacert', pki.ca, '--cert', pki.cert, '--key', pki.key, '--lock-file', join(scratch, 'reload.lock')])
    if (r.status !== 0 || !new RegExp(`${ports.length} nodes unchanged`).test(r.stdout)) throw new Error(`reload: exit ${r.status}: ${r.stdout}${r.stderr}`)
    return r
  },
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) child.kill('SIGKILL')
    rmSync(scratch, {recursive: true, force: true})
    process.exit(130)
  })
}

const fmt = (ms) => (ms === undefined ? '-' : `${ms.toFixed(0)} ms`)
const ratio = (a, b) => (a === undefined || b === undefined ? '-' : `${(a / b).toFixed(2)}x`)

try {
  const pki = makePki(join(scratch, 'pki'))
  pki.caPem = sh('cat', [pki.ca])
  const rows = []
  for (const n of sizes) {
    const ports = await startFleet(n, pki)
    if (process.env.FLEET_KEEP) {
      writeFileSync(process.env.FLEET_KEEP, JSON.stringify({pki, nodes: ports.map((p) => `127.0.0.1:${p}`).join(',')}))
      console.log(`fleet of ${n} ready, described in ${process.env.FLEET_KEEP}; Ctrl+C to stop`)
      await new Promise(() => {})
    }
    const names = Object.keys(cases).filter((c) => !skip.has(c))
    const samples = Object.fromEntries(names.map((c) => [c, []]))
    for (const c of names) cases[c](pki, ports) // warm caches, and check every answer once
    for (let i = 0; i < runs; i++) for (const c of names) samples[c].push(cases[c](pki, ports))
    const med = (c, key = 'ms') => (samples[c] ? median(samples[c].map((s) => s[key])) : undefined)
    rows.push({n, node: med('node'), nmap: med('nmap'), openssl: med('openssl'), check: med('check'), work: med('check', 'work'), checkRss: med('check', 'rss'), reload: med('reload'), reloadRss: med('reload', 'rss'),
      nmapCpu: med('nmap', 'cpu'), checkCpu: med('check', 'cpu'), reloadCpu: med('reload', 'cpu')})
    for (const child of children.splice(0)) child.kill('SIGKILL')
  }
  console.log(`standalone TLS nodes (${sh(server, ['--version']).trim().split(' ').slice(0, 3).join(' ')}), client certificates required; median of ${runs} interleaved runs; ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}`)
  // CPU time of the tool's own process (the servers' is not counted): steadier than wall time on shared cores.
  console.log(`Node's own start (node -e 0): ${rows.map((r) => fmt(r.node)).join(', ')}${process.env.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS is set: Node reads that bundle at every start)' : ''}`)
  console.log('| nodes | nmap ssl-cert | openssl loop | check --nodes | of which checking | check / nmap | check / openssl | reload (unchanged) | reload / check | check max RSS | reload max RSS | CPU: nmap / check / reload | CPU check / nmap | CPU reload / check |')
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    const mib = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(0)} MiB` : '-')
    console.log(`| ${r.n} | ${fmt(r.nmap)} | ${fmt(r.openssl)} | ${fmt(r.check)} | ${fmt(r.work)} | ${ratio(r.check, r.nmap)} | ${ratio(r.check, r.openssl)} | ${fmt(r.reload)} | ${ratio(r.reload, r.check)} | ${mib(r.checkRss)} | ${mib(r.reloadRss)} | ${[r.nmapCpu, r.checkCpu, r.reloadCpu].map(fmt).join(' / ')} | ${ratio(r.checkCpu, r.nmapCpu)} | ${ratio(r.reloadCpu, r.checkCpu)} |`)
  }
} finally {
  for (const child of children) child.kill('SIGKILL')
  rmSync(scratch, {recursive: true, force: true})
}
