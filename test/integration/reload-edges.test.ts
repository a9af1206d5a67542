/**
 * `reload` edge cases against one real Valkey 9.1 node whose TLS file settings are relative to its `dir`:
 * - relative tls-* paths are the node's (resolved against CONFIG GET dir), never the tool's cwd;
 * - one server named several ways in --nodes is one node, reloaded once (INFO server run_id);
 * - what was validated is what stays loaded, while a flipper swaps server.crt between a good certificate
 *   and one Valkey loads but clients refuse (EKU clientAuth only), every few milliseconds.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {copyFileSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {connect} from 'node:tls'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {type Ca, DEFAULT_SERVER_SANS, issueCert, issueShape, type KeyPair, leafExtensions, makeExpiredCert, makePki, type Pki} from '../helpers/pki/openssl.js'
import {hasIpv6Loopback} from '../helpers/ports.js'
import {parseInfo, TlsRespClient} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-reload-edges-it')

const SERVER = {cn: 'localhost', sans: DEFAULT_SERVER_SANS, usage: 'both' as const}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface NodeJson {
  address: string
  action: string
  reason: string
  after: {fingerprint256: string} | null
  problems: Array<{code: string; message: string}>
  notes: string[]
}
interface ReportJson {
  nodes: NodeJson[]
  status: string
}

let pki: Pki
let admin: KeyPair
let node: ValkeyHandle
/** The node's `dir`, holding its TLS files under relative names; and another folder, the tool's cwd. */
let nodeDir: string
let elsewhere: string
const live = (name: string) => join(nodeDir, name)

const fingerprintOf = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256
const short = (fingerprint: string | undefined) => fingerprint?.slice(0, 11) ?? 'none'

/** The certificate a new client is served (no verification: this only looks). */
function servedFingerprint(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: '127.0.0.1', port: node.port, rejectUnauthorized: false, cert: readFileSync(admin.cert), key: readFileSync(admin.key)})
    socket.once('secureConnect', () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256)
      socket.destroy()
    })
    socket.once('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timeout')))
  })
}

/** `config|set` calls the node has counted (INFO commandstats). */
async function configSets(): Promise<number> {
  const stats = parseInfo(String(await node.command('INFO', 'commandstats')))['cmdstat_config|set']
  return Number(/calls=(\d+)/.exec(stats ?? '')?.[1] ?? 0)
}

async function reload(args: string[], cwd?: string): Promise<{code: number | null; json: ReportJson; node: NodeJson}> {
  const result = await runCli(['reload', ...args, '--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', join(root, 'reload.lock'), '--json'], {cwd, timeoutMs: 60_000})
  let json: ReportJson
  try {
    json = JSON.parse(result.stdout) as ReportJson
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return {code: result.code, json, node: json.nodes[0]!}
}

/** Replace a file in one step (temp file in the same folder, then rename), as a renewal job should. */
function atomicWrite(path: string, data: Buffer | string, tag = 'test'): void {
  const tmp = `${path}.${tag}.tmp`
  writeFileSync(tmp, data)
  renameSync(tmp, path)
}

function installInNodeDir(pair: KeyPair): void {
  copyFileSync(pair.cert, live('server.crt'))
  copyFileSync(pair.key, live('server.key'))
}

/** A leaf for `key` (an existing key file) from `ca`, with the given extended key usage. */
async function issueForKey(ca: Ca, key: string, name: string, eku: string): Promise<string> {
  const extensions = leafExtensions({extendedKeyUsage: eku}, DEFAULT_SERVER_SANS)
  return (await issueShape(ca, join(root, 'same-key'), name, {cn: 'localhost', extensions, key, days: 90})).cert
}

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['admin']})
  admin = pki.clients.admin!
  nodeDir = join(root, 'node-dir')
  elsewhere = join(root, 'elsewhere')
  mkdirSync(nodeDir)
  mkdirSync(elsewhere)
  installInNodeDir({cert: pki.serverCert, key: pki.serverKey})
  copyFileSync(pki.caCert, live('ca.crt'))
  node = await startValkey({
    tls: {caCert: live('ca.crt'), cert: live('server.crt'), key: live('server.key'), verifyCa: pki.caCert, clientCert: admin.cert, clientKey: admin.key},
    authClients: 'yes',
    // The node resolves these against its dir; the harness's own absolute defaults are overridden.
    config: {dir: nodeDir, 'tls-cert-file': 'server.crt', 'tls-key-file': 'server.key', 'tls-ca-cert-file': 'ca.crt'},
    name: 'reload-edges',
  })
  // The premise of every test here: the node really holds relative paths, and reports its dir.
  expect(await node.command('CONFIG', 'GET', 'tls-cert-file')).toEqual(['tls-cert-file', 'server.crt'])
  expect(await node.command('CONFIG', 'GET', 'tls-ca-cert-file')).toEqual(['tls-ca-cert-file', 'ca.crt'])
  expect(await node.command('CONFIG', 'GET', 'dir')).toEqual(['dir', realpathSync(nodeDir)])
}, 60_000)

describe('reload: relative tls-* paths are the node\'s (its dir), never the tool\'s cwd', () => {
  it('a renewal in the node\'s dir is reloaded, though the cwd holds an expired certificate and garbage under the same names', async () => {
    const renewed = await issueCert(pki.ca, join(root, 'pki'), 'renewed-a1', SERVER)
    installInNodeDir(renewed)
    const expired = await makeExpiredCert(pki.ca, join(root, 'pki'), 'expired-a1', SERVER)
    copyFileSync(expired.cert, join(elsewhere, 'server.crt'))
    writeFileSync(join(elsewhere, 'server.key'), 'not a key\n')
    writeFileSync(join(elsewhere, 'ca.crt'), 'not a certificate\n')
    const before = await configSets()

    const {code, node: n} = await reload(['--port', String(node.port)], elsewhere)
    expect({code, action: n.action, problems: n.problems}, n.reason).toEqual({code: 0, action: 'reloaded', problems: []})
    expect(n.after?.fingerprint256).toBe(fingerprintOf(renewed.cert))
    expect(await servedFingerprint()).toBe(fingerprintOf(renewed.cert))
    expect(await configSets()).toBe(before + 1)
  })

  it('an expired certificate in the node\'s dir is refused (expired), though the cwd holds a good one; nothing sent', async () => {
    const keep = {cert: readFileSync(live('server.crt')), key: readFileSync(live('server.key'))}
    const expired = await makeExpiredCert(pki.ca, join(root, 'pki'), 'expired-a2', SERVER)
    const good = await issueCert(pki.ca, join(root, 'pki'), 'renewed-a2', SERVER)
    installInNodeDir(expired)
    copyFileSync(good.cert, join(elsewhere, 'server.crt'))
    copyFileSync(good.key, join(elsewhere, 'server.key'))
    copyFileSync(pki.caCert, join(elsewhere, 'ca.crt'))
    try {
      const served = await servedFingerprint()
      const before = await configSets()
      const {code, json, node: n} = await reload(['--port', String(node.port)], elsewhere)
      expect({code, action: n.action, status: json.status}, n.reason).toEqual({code: 10, action: 'refused', status: 'refused'})
      expect(n.problems.map((p) => p.code)).toContain('expired')
      expect(n.reason).toMatch(/server\.crt expired on /)
      expect(await configSets()).toBe(before)
      expect(await servedFingerprint()).toBe(served)
    } finally {
      writeFileSync(live('server.crt'), keep.cert)
      writeFileSync(live('server.key'), keep.key)
    }
  })
})

describe('reload: one server named several ways is one node, reloaded once', () => {
  it('--nodes 127.0.0.1:P,localhost:P,127.0.0.1:P[,[::1]:P]: one entry, one CONFIG SET, the other addresses noted as the same server', async () => {
    const P = node.port
    const aliases = [`localhost:${P}`, `127.0.0.1:${P}`, ...((await hasIpv6Loopback()) ? [`[::1]:${P}`] : [])]
    const renewed = await issueCert(pki.ca, join(root, 'pki'), 'renewed-b', SERVER)
    installInNodeDir(renewed)
    const before = await configSets()

    const {code, json} = await reload(['--nodes', [`127.0.0.1:${P}`, ...aliases].join(',')])
    expect(json.nodes.map((n) => [n.address, n.action]), JSON.stringify(json.nodes.map((n) => n.reason))).toEqual([[`127.0.0.1:${P}`, 'reloaded']])
    expect(code).toBe(0)
    const n = json.nodes[0]!
    for (const alias of aliases) expect(n.notes.some((note) => note.includes(alias) && /same server/.test(note)), `a note naming ${alias} as the same server: ${JSON.stringify(n.notes)}`).toBe(true)
    expect(await configSets()).toBe(before + 1)
    expect(await servedFingerprint()).toBe(fingerprintOf(renewed.cert))
  })

  it('the same list again: one entry, unchanged, nothing sent, the other addresses still noted', async () => {
    const P = node.port
    const aliases = [`localhost:${P}`, `127.0.0.1:${P}`, ...((await hasIpv6Loopback()) ? [`[::1]:${P}`] : [])]
    const before = await configSets()
    const {code, json} = await reload(['--nodes', [`127.0.0.1:${P}`, ...aliases].join(',')])
    expect({code, nodes: json.nodes.map((n) => [n.address, n.action])}).toEqual({code: 0, nodes: [[`127.0.0.1:${P}`, 'unchanged']]})
    const n = json.nodes[0]!
    for (const alias of aliases) expect(n.notes.some((note) => note.includes(alias) && /same server/.test(note)), `a note naming ${alias} as the same server: ${JSON.stringify(n.notes)}`).toBe(true)
    expect(await configSets()).toBe(before)
  })
})

/**
 * A child process that swaps `target` between GOOD and BAD (write a temp file, rename) every 2-5 ms: GOOD
 * stays 3-5 ms, BAD 2-3 ms (biased to GOOD so that some reloads can succeed at all). Paused with SIGSTOP.
 */
const FLIPPER = `
const fs = require('node:fs')
const {TARGET, GOOD, BAD} = process.env
const good = fs.readFileSync(GOOD), bad = fs.readFileSync(BAD)
const tick = new Int32Array(new SharedArrayBuffer(4))
const tmp = TARGET + '.flipper.tmp'
for (let i = 0; ; i++) {
  const isBad = i % 2 === 1
  fs.writeFileSync(tmp, isBad ? bad : good)
  fs.renameSync(tmp, TARGET)
  Atomics.wait(tick, 0, 0, isBad ? 2 + Math.random() : 3 + 2 * Math.random())
}
`

/** Waits until the kernel reports the process stopped (state T), so no rename can still be under way. */
async function waitStopped(pid: number): Promise<void> {
  const until = Date.now() + 2000
  while (Date.now() < until) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    if (/^\d+ \(.*\) [tT] /.test(stat)) return
    await sleep(1)
  }
  throw new Error(`flipper ${pid} did not stop`)
}

describe('reload: what was validated is what stays loaded, while the certificate file keeps flipping', () => {
  let flipper: ChildProcess | undefined
  /** Opened while a good certificate is served: existing connections survive reloads, even to one this client would refuse. */
  let control: TlsRespClient | undefined
  afterAll(() => {
    flipper?.kill('SIGKILL')
    control?.close()
  })

  it('never reports reloaded (or unchanged) while the refused certificate is served; a failure names the race', async () => {
    expect(await node.command('CONFIG', 'GET', 'tls-auto-reload-interval')).toEqual(['tls-auto-reload-interval', '0'])
    // One key for every certificate, so the key always matches whichever certificate the server reads.
    const key = join(root, 'same-key', 'server.key')
    mkdirSync(join(root, 'same-key'), {recursive: true})
    copyFileSync(pki.serverKey, key)
    const orig = await issueForKey(pki.ca, key, 'orig', 'serverAuth, clientAuth')
    const good = await issueForKey(pki.ca, key, 'good', 'serverAuth, clientAuth')
    const bad = await issueForKey(pki.ca, key, 'bad', 'clientAuth') // Valkey loads it; clients refuse it ("unsupported certificate purpose")
    const fp = {orig: fingerprintOf(orig), good: fingerprintOf(good), bad: fingerprintOf(bad)}
    const nameOf = (f: string) => (f === fp.good ? 'GOOD' : f === fp.bad ? 'BAD' : f === fp.orig ? 'ORIG' : `other ${short(f)}`)
    control = await TlsRespClient.connect(node.clientOptions())

    // Each run starts from ORIG served (loaded here, not by the tool), so every run has a reload to make.
    const resetToOrig = async () => {
      if (flipper) {
        flipper.kill('SIGSTOP')
        await waitStopped(flipper.pid!)
      }
      atomicWrite(live('server.crt'), readFileSync(orig))
      atomicWrite(live('server.key'), readFileSync(key))
      expect(await control!.command('CONFIG', 'SET', 'tls-cert-file', 'server.crt', 'tls-key-file', 'server.key')).toBe('OK')
      expect(nameOf(await servedFingerprint())).toBe('ORIG')
      flipper?.kill('SIGCONT')
    }
    await resetToOrig()

    flipper = spawn(process.execPath, ['-e', FLIPPER], {env: {...process.env, TARGET: live('server.crt'), GOOD: good, BAD: bad}, stdio: 'ignore'})
    // The flipper really flips: both certificates are seen on disk within a short while.
    const seen = new Set<string>()
    for (let i = 0; i < 400 && !(seen.has('GOOD') && seen.has('BAD')); i++) {
      try {
        seen.add(nameOf(new X509Certificate(readFileSync(live('server.crt'))).fingerprint256))
      } catch {
        // (cannot happen with rename, but do not let a sample end the test)
      }
      await sleep(1)
    }
    expect([...seen].filter((s) => s !== 'ORIG').sort()).toEqual(['BAD', 'GOOD'])

    interface Run {
      run: number
      code: number | null
      action: string
      served: string
      reason: string
    }
    const runs: Run[] = []
    const violations: string[] = []
    const started = Date.now()
    // About 15 runs; a few more (bounded) until one has reloaded, so that the check below can fail.
    for (let run = 1; run <= 30 && Date.now() - started < 150_000; run++) {
      if (run > 15 && runs.some((r) => r.action === 'reloaded')) break
      await resetToOrig()
      const {code, node: n} = await reload(['--port', String(node.port)])
      const served = nameOf(await servedFingerprint())
      const r: Run = {run, code, action: n.action, served, reason: n.reason}
      runs.push(r)
      const line = `run ${run}: ${n.action} (exit ${code}) serving ${served}: ${n.reason}`
      if (n.action === 'reloaded' && served !== 'GOOD') violations.push(`reloaded but not serving GOOD: ${line}`)
      if (n.action === 'unchanged' && served === 'BAD') violations.push(`unchanged while serving BAD: ${line}`)
      if (n.action === 'refused' && (served !== 'ORIG' || !n.problems.some((p) => p.code === 'untrusted'))) violations.push(`refused, but something was loaded or not for the purpose: ${line}`)
      if (n.action === 'failed' && !/files (changed|kept changing)/.test(n.reason)) violations.push(`failed without naming the race: ${line}`)
      if (served === 'BAD' && n.action !== 'failed') violations.push(`serving BAD after ${n.action}: ${line}`)
      if (!['reloaded', 'refused', 'failed', 'unchanged'].includes(n.action)) violations.push(`unexpected action: ${line}`)
    }
    flipper.kill('SIGKILL')
    await new Promise((r) => (flipper!.exitCode !== null || flipper!.signalCode !== null ? r(undefined) : flipper!.once('exit', r)))
    flipper = undefined

    const counts: Record<string, number> = {}
    for (const r of runs) {
      const kind = r.action === 'failed' ? `failed (${/kept changing/.test(r.reason) ? 'kept changing' : /files changed/.test(r.reason) ? 'changed, then refused' : 'other'})` : r.action
      counts[kind] = (counts[kind] ?? 0) + 1
    }
    const table = runs.map((r) => `  run ${r.run}: ${r.action} (exit ${r.code}) serving ${r.served}: ${r.reason}`).join('\n')
    console.info(`reload under a flipping certificate, ${runs.length} runs in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}\n${table}`)
    expect(violations, table).toEqual([])
    expect(runs.filter((r) => r.action === 'reloaded').length, `no run reloaded, so nothing was shown:\n${table}`).toBeGreaterThan(0)

    // Flipping over: GOOD in place, one more run, and GOOD is what a new client gets.
    atomicWrite(live('server.crt'), readFileSync(good))
    const last = await reload(['--port', String(node.port)])
    expect({code: last.code, action: last.node.action}, last.node.reason).toMatchObject({code: 0})
    expect(['reloaded', 'unchanged']).toContain(last.node.action)
    expect(nameOf(await servedFingerprint())).toBe('GOOD')
  }, 200_000)
})
