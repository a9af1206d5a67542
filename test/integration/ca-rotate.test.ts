/**
 * `ca rotate` on a real Valkey 9.1 tls-cluster, 3 primaries x 1 replica, each node with its own files,
 * client certificates required: status, the naive order refused, --apply (phases 1 and 2), then
 * --apply --finish (phase 3), with the cluster state and replica links sampled during the whole run;
 * who gets in after each; every node restarted from its files rejoins.
 */
import {spawn} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, runCli} from '../helpers/cli.js'
import {type Ca, DEFAULT_SERVER_SANS, issueCert, issueShape, type KeyPair, leafExtensions, makeCa, makePki, type Pki} from '../helpers/pki/openssl.js'
import {parseInfo, TlsRespClient} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startCluster, type ValkeyCluster} from '../helpers/valkey/cluster.js'
import {startValkey, useValkeyCleanup} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-rotate-it')
const lockFile = join(root, 'rotate.lock')

interface RotateJson {
  phaseBefore: string
  phase: string
  nodes: Array<{address: string; role: string; served: string; certFile: string; caFile: {new: boolean; old: boolean}; trustsNew: boolean | null; local: boolean}>
  steps: Array<{address: string; kind: string; outcome: string; reason: string}>
  next: string
  status: string
  error: string | null
}

let old: Pki
let newCa: Ca
let oldAdmin: KeyPair
let newAdmin: KeyPair
let cluster: ValkeyCluster
let files: NodeFiles[] = []

interface NodeFiles {cert: string; key: string; ca: string}

/** A 3x1 tls-cluster whose nodes each have their own files, issued by the old CA. */
async function rotationCluster(name: string): Promise<{cluster: ValkeyCluster; files: NodeFiles[]}> {
  const own: NodeFiles[] = []
  for (let i = 0; i < 6; i++) {
    const dir = join(root, `${name}-node${i}`)
    mkdirSync(dir)
    const pair = await issueCert(old.ca, dir, 'issued', {cn: `node${i}.valkey`, sans: DEFAULT_SERVER_SANS, usage: 'both'})
    own.push({cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt')})
    copyFileSync(pair.cert, own[i]!.cert)
    copyFileSync(pair.key, own[i]!.key)
    copyFileSync(old.caCert, own[i]!.ca)
  }
  const started = await startCluster({
    primaries: 3,
    replicasPerPrimary: 1,
    tls: {caCert: old.caCert, cert: old.serverCert, key: old.serverKey},
    tlsFor: (i) => ({caCert: own[i]!.ca, verifyCa: old.caCert, cert: own[i]!.cert, key: own[i]!.key, clientCert: oldAdmin.cert, clientKey: oldAdmin.key}),
    authClients: 'yes',
    config: {'tls-auth-clients-user': 'CN', user: ['admin on nopass ~* &* +@all', 'default on nopass ~* &* +@all']},
  })
  return {cluster: started, files: own}
}

beforeAll(async () => {
  old = await makePki(join(root, 'old'), {clients: ['admin']})
  oldAdmin = old.clients.admin!
  newCa = await makeCa(join(root, 'new'), {cn: 'rotation new CA'})
  newAdmin = await issueCert(newCa, join(root, 'new'), 'admin', {cn: 'admin', usage: 'client'})
  ;({cluster, files} = await rotationCluster('first'))
}, 120_000)

afterAll(() => sampler?.stop())

const seed = () => ['--port', String(cluster.nodes[0]!.port)]
const newCaArgs = () => ['--new-ca-cert', newCa.cert, '--new-ca-key', newCa.key, '--lock-file', lockFile]
const oldClient = () => ['--cacert', old.caCert, '--cert', oldAdmin.cert, '--key', oldAdmin.key]
const newClient = () => ['--cacert', newCa.cert, '--cert', newAdmin.cert, '--key', newAdmin.key]

async function rotate(args: string[]): Promise<{code: number | null; json: RotateJson; stderr: string}> {
  const result = await runCli(['ca', 'rotate', ...args, '--json'], {timeoutMs: 300_000})
  try {
    return {code: result.code, json: JSON.parse(result.stdout) as RotateJson, stderr: result.stderr}
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
}

/** Can a client presenting `pair` (verifying the server with `ca`) open a new connection and run PING? */
async function getsIn(port: number, pair: KeyPair, ca: string): Promise<boolean> {
  try {
    const client = await TlsRespClient.connect({port, ca, cert: pair.cert, key: pair.key, timeoutMs: 3000})
    try {
      return (await client.command('PING')) === 'PONG'
    } finally {
      client.close()
    }
  } catch {
    return false
  }
}

const bothCas = () => {
  const path = join(root, 'both.crt')
  if (!existsSync(path)) writeFileSync(path, readFileSync(old.caCert, 'utf8') + readFileSync(newCa.cert, 'utf8'))
  return path
}

/**
 * Samples every node's cluster_state, and every replica's link, every 100 ms over connections opened
 * before the run (they survive reloads): any sample that is not healthy is kept.
 */
let sampler: {stop: () => void; bad: string[]; samples: number} | undefined
async function startSampler() {
  const clients = await Promise.all(cluster.nodes.map((n) => TlsRespClient.connect({port: n.port, ca: bothCas(), cert: oldAdmin.cert, key: oldAdmin.key})))
  const state = {bad: [] as string[], samples: 0, stop: () => {}}
  let running = true
  const loop = (async () => {
    while (running) {
      for (const [i, client] of clients.entries()) {
        try {
          const info = parseInfo(String(await client.command('CLUSTER', 'INFO')))
          if (info.cluster_state !== 'ok') state.bad.push(`node${i}: cluster_state:${info.cluster_state}`)
          const replication = parseInfo(String(await client.command('INFO', 'replication')))
          if (replication.role === 'slave' && replication.master_link_status !== 'up') state.bad.push(`node${i}: link ${replication.master_link_status}`)
        } catch (error) {
          state.bad.push(`node${i}: ${(error as Error).message}`)
        }
      }
      state.samples++
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  state.stop = () => {
    running = false
    void loop.then(() => clients.forEach((c) => c.close()))
  }
  sampler = state
  return state
}

/** Every node of the first cluster says cluster_state:ok and every replica's link is up (30 s to settle). */
async function waitHealthy(ca: string, client: KeyPair): Promise<void> {
  const until = Date.now() + 30_000
  for (;;) {
    const states = await Promise.all(cluster.nodes.map(async (n) => {
      const c = await TlsRespClient.connect({port: n.port, ca, cert: client.cert, key: client.key})
      try {
        const cl = parseInfo(String(await c.command('CLUSTER', 'INFO'))).cluster_state
        const rep = parseInfo(String(await c.command('INFO', 'replication')))
        return cl === 'ok' && (rep.role !== 'slave' || rep.master_link_status === 'up')
      } finally {
        c.close()
      }
    }).map((p) => p.catch(() => false)))
    if (states.every(Boolean)) return
    if (Date.now() > until) throw new Error(`not healthy after restarts: ${states.join(',')}`)
    await new Promise((r) => setTimeout(r, 300))
  }
}

const issuerOf = (path: string) => new X509Certificate(readFileSync(path)).issuer

describe('valkey-tls ca rotate on a 3x1 tls-cluster, every node with its own files', () => {
  it('status: every node serves and trusts the old CA only; the next step is phase 1; nothing is changed', async () => {
    const {code, json} = await rotate([...seed(), ...newCaArgs(), ...oldClient()])
    expect(code, JSON.stringify(json)).toBe(0)
    expect(json.phase).toBe('trust-old')
    expect(json.nodes).toHaveLength(6)
    for (const n of json.nodes) expect(n).toMatchObject({served: 'old', certFile: 'old', caFile: {new: false, old: true}, trustsNew: false, local: true})
    expect(json.steps.map((s) => [s.kind, s.outcome])).toEqual(Array(6).fill(['widen', 'would']))
    expect(json.steps.slice(0, 3).every((s) => json.nodes.find((n) => n.address === s.address)!.role === 'replica')).toBe(true)
    for (const f of files) expect(readFileSync(f.ca, 'utf8')).toBe(readFileSync(old.caCert, 'utf8'))
  })

  it('the naive order is refused: --finish before any node trusts or serves the new CA', async () => {
    const {code, json} = await rotate([...seed(), ...newCaArgs(), ...oldClient(), '--finish'])
    expect(code).toBe(10)
    expect(json.error).toMatch(/--finish refused: not every node trusts the new CA yet/)
    for (const f of files) expect(readFileSync(f.ca, 'utf8')).toBe(readFileSync(old.caCert, 'utf8'))
  })

  it('the naive order is refused: a new-CA certificate on one node before its peers trust the new CA is not loaded (reload\'s rehearsal)', async () => {
    const early = await issueCert(newCa, join(root, 'new'), 'early-node0', {cn: 'node0.valkey', sans: DEFAULT_SERVER_SANS, usage: 'both'})
    const saved = readFileSync(files[0]!.cert)
    const savedKey = readFileSync(files[0]!.key)
    copyFileSync(early.cert, files[0]!.cert)
    try {
      const status = await rotate([...seed(), ...newCaArgs(), ...oldClient()])
      const node0 = status.json.nodes.find((n) => n.address === `127.0.0.1:${cluster.nodes[0]!.port}`)!
      expect(node0).toMatchObject({served: 'old', certFile: 'new'})
      expect(status.json.phase).toBe('trust-old')
      // The key file is the node's own, so only the rehearsal can stop it: its peers trust the old CA only.
      copyFileSync(early.key, files[0]!.key)
      const result = await runCli(['reload', '--nodes', `127.0.0.1:${cluster.nodes[0]!.port}`, ...oldClient(), '--lock-file', lockFile, '--json'], {timeoutMs: 60_000})
      expect(result.code, result.stdout).toBe(10)
      const report = JSON.parse(result.stdout) as {nodes: Array<{action: string; reason: string; problems: Array<{code: string}>}>}
      expect(report.nodes[0]!.action).toBe('refused')
      expect(report.nodes[0]!.problems.map((p) => p.code)).toContain('peer-untrusted')
    } finally {
      writeFileSync(files[0]!.cert, saved)
      writeFileSync(files[0]!.key, savedKey)
    }
    expect(await getsIn(cluster.nodes[0]!.port, oldAdmin, old.caCert)).toBe(true)
  })

  it('files not changed from here (--read-files never): --apply prints each node\'s steps and changes nothing', async () => {
    const {code, json} = await rotate([...seed(), ...newCaArgs(), ...oldClient(), '--apply', '--read-files', 'never'])
    expect(code, JSON.stringify(json)).toBe(0)
    expect(json.phase).toBe('trust-old')
    expect(json.steps).toEqual([])
    expect((json as unknown as {manual: string[]}).manual).toHaveLength(6)
    for (const line of (json as unknown as {manual: string[]}).manual) expect(line).toMatch(/append the new CA .* to its tls-ca-cert-file .*ca\.crt, then valkey-tls reload --force --nodes 127\.0\.0\.1:\d+/)
    expect(json.next).toMatch(/by hand, on 6 node/)
    for (const f of files) expect(readFileSync(f.ca, 'utf8')).toBe(readFileSync(old.caCert, 'utf8'))
  })

  it('--apply: every node trusts both and serves a new-CA certificate; the cluster never unhealthy; old-CA clients still get in', async () => {
    // Files a server reads as its own user keep that owner when root replaces them (the server here runs as root).
    const asRoot = process.getuid?.() === 0
    if (asRoot) for (const path of [files[0]!.ca, files[0]!.cert]) chownSync(path, 65_534, 65_533)
    const watch = await startSampler()
    const {code, json, stderr} = await rotate([...seed(), ...newCaArgs(), ...oldClient(), '--apply'])
    watch.stop()
    expect(code, `${JSON.stringify(json)}\n${stderr}`).toBe(0)
    expect(json.phaseBefore).toBe('trust-old')
    expect(json.phase).toBe('leaves-new')
    expect(json.steps.map((s) => `${s.kind} ${s.outcome}`)).toEqual([...Array(6).fill('widen done'), ...Array(6).fill('move-leaf done')])
    expect(watch.bad, watch.bad.join('\n')).toEqual([])
    expect(watch.samples).toBeGreaterThan(5)
    for (const [i, f] of files.entries()) {
      expect(issuerOf(f.cert), `node${i}`).toBe(new X509Certificate(readFileSync(newCa.cert)).subject)
      expect(readFileSync(`${f.ca}.before-widen`, 'utf8')).toBe(readFileSync(old.caCert, 'utf8'))
      expect(existsSync(`${f.cert}.before-new-leaf`)).toBe(true)
    }
    const owners = (...paths: string[]) => paths.map((path) => [path, statSync(path).uid, statSync(path).gid])
    // And so do the copies kept beside them, which a roll-back (cp -p) puts back.
    const replaced = [files[0]!.ca, files[0]!.cert, `${files[0]!.ca}.before-widen`, `${files[0]!.cert}.before-new-leaf`]
    if (asRoot) expect(owners(...replaced)).toEqual(replaced.map((path) => [path, 65_534, 65_533]))
    for (const node of cluster.nodes) {
      expect(await getsIn(node.port, oldAdmin, newCa.cert), `old-CA client on ${node.port}`).toBe(true)
      expect(await getsIn(node.port, newAdmin, newCa.cert), `new-CA client on ${node.port}`).toBe(true)
    }
    // Existing links survive a reload: make some reconnect. A replica and a primary restarted from their files
    // (new-CA leaves, both CAs trusted) rejoin, and the whole cluster is ok with every replica linked.
    const replica = cluster.nodes.find((n) => json.nodes.find((x) => x.address === `127.0.0.1:${n.port}`)!.role === 'replica')!
    const primary = cluster.nodes.find((n) => json.nodes.find((x) => x.address === `127.0.0.1:${n.port}`)!.role === 'primary')!
    for (const node of [replica, primary]) await node.restart({tls: {verifyCa: bothCas()}})
    await waitHealthy(bothCas(), oldAdmin)
    // Run again: the phase is worked out from the nodes, and nothing is done.
    const again = await rotate([...seed(), ...newCaArgs(), ...oldClient(), '--apply'])
    expect([again.code, again.json.phase, again.json.steps]).toEqual([0, 'leaves-new', []])
  })

  it('--apply --finish: trust narrowed to the new CA; old-CA clients refused, new-CA clients accepted; every node restarted from its files rejoins', async () => {
    const refused = await rotate([...seed(), ...newCaArgs(), ...oldClient(), '--apply', '--finish'])
    // This tool's own old-CA certificate would be refused after narrowing: reload's rehearsal says so, nothing loaded.
    expect(refused.code, JSON.stringify(refused.json)).toBe(10)
    expect(refused.json.error).toMatch(/--cert|refused/)
    for (const f of files) expect(readFileSync(f.ca, 'utf8')).toContain(readFileSync(old.caCert, 'utf8').trim())

    const watch = await startSampler()
    const {code, json, stderr} = await rotate([...seed(), ...newCaArgs(), ...newClient(), '--apply', '--finish'])
    watch.stop()
    expect(code, `${JSON.stringify(json)}\n${stderr}`).toBe(0)
    expect(json.phase).toBe('trust-new')
    expect(json.steps.map((s) => `${s.kind} ${s.outcome}`)).toEqual(Array(6).fill('narrow done'))
    expect(watch.bad, watch.bad.join('\n')).toEqual([])
    for (const f of files) expect(readFileSync(f.ca, 'utf8').trim()).toBe(readFileSync(newCa.cert, 'utf8').trim())
    for (const node of cluster.nodes) {
      expect(await getsIn(node.port, oldAdmin, newCa.cert), `old-CA client on ${node.port}`).toBe(false)
      expect(await getsIn(node.port, newAdmin, newCa.cert), `new-CA client on ${node.port}`).toBe(true)
    }
    // Links that reconnect must work too: restart every node from its files, one at a time.
    for (const node of cluster.nodes) await node.restart({tls: {verifyCa: newCa.cert, clientCert: newAdmin.cert, clientKey: newAdmin.key}})
    await waitHealthy(newCa.cert, newAdmin)
    const finished = await rotate([...seed(), ...newCaArgs(), ...newClient(), '--apply', '--finish'])
    expect([finished.code, finished.json.phase, finished.json.steps]).toEqual([0, 'trust-new', []])
  })
})

describe('valkey-tls ca rotate, killed (SIGKILL) after phase 1 and after the first new leaf, then run again', () => {
  /** Runs `ca rotate` (text output: one progress line per step on stderr) and SIGKILLs it once `kill(stderr)` says so. */
  function rotateKilled(args: string[], kill: (stderr: string) => boolean): Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'ca', 'rotate', ...args], {env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
      let stderr = ''
      child.stderr.on('data', (d) => {
        stderr += d
        if (kill(stderr)) child.kill('SIGKILL')
      })
      child.stdout.resume()
      const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
      child.on('error', reject)
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        resolve({code, signal, stderr})
      })
    })
  }
  const count = (text: string, what: RegExp) => (text.match(new RegExp(what, 'g')) ?? []).length

  it('each run continues from what the nodes show; the cluster is healthy throughout and at the end', async () => {
    const second = await rotationCluster('second')
    const seedArgs = ['--port', String(second.cluster.nodes[0]!.port), '--new-ca-cert', newCa.cert, '--new-ca-key', newCa.key]
    const clients = await Promise.all(second.cluster.nodes.map((n) => TlsRespClient.connect({port: n.port, ca: bothCas(), cert: oldAdmin.cert, key: oldAdmin.key})))
    const bad: string[] = []
    let sampling = true
    const sampled = (async () => {
      while (sampling) {
        for (const [i, c] of clients.entries()) {
          const state = parseInfo(String(await c.command('CLUSTER', 'INFO'))).cluster_state
          const rep = parseInfo(String(await c.command('INFO', 'replication')))
          if (state !== 'ok' || (rep.role === 'slave' && rep.master_link_status !== 'up')) bad.push(`node${i}: ${state} ${rep.master_link_status ?? ''}`)
        }
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    try {
      // A killed run leaves reload's lock behind, taken over 30 s later: each run here has its own, to keep the test short.
      const lock = (n: number) => ['--lock-file', join(root, `killed-${n}.lock`)]
      const first = await rotateKilled([...seedArgs, ...oldClient(), ...lock(1), '--apply'], (e) => count(e, /: widen done/) >= 6)
      expect(first.signal, first.stderr).toBe('SIGKILL')
      const afterFirst = (await rotate([...seedArgs, ...oldClient(), ...lock(2)])).json
      expect(['trust-both', 'moving-leaves']).toContain(afterFirst.phase)
      expect(afterFirst.nodes.every((n) => n.trustsNew === true)).toBe(true)

      const killed = await rotateKilled([...seedArgs, ...oldClient(), ...lock(3), '--apply'], (e) => count(e, /: move-leaf done/) >= 1)
      expect(killed.signal, killed.stderr).toBe('SIGKILL')
      expect(count(killed.stderr, /: widen done/), 'phase 1 was not done again').toBe(0)
      const afterSecond = (await rotate([...seedArgs, ...oldClient(), ...lock(4)])).json
      expect(afterSecond.phase).toBe('moving-leaves')
      const moved = afterSecond.nodes.filter((n) => n.served === 'new').length
      expect(moved).toBeGreaterThanOrEqual(1)

      const resumed = await rotate([...seedArgs, ...oldClient(), ...lock(5), '--apply'])
      expect(resumed.code, JSON.stringify(resumed.json)).toBe(0)
      expect(resumed.json.phase).toBe('leaves-new')
      expect(resumed.json.steps.every((s) => s.kind === 'move-leaf' && s.outcome === 'done')).toBe(true)
      expect(resumed.json.steps.length).toBeLessThanOrEqual(6 - moved + 1) // at most the node caught between its write and its reload
      const done = await rotate([...seedArgs, ...newClient(), ...lock(6), '--apply', '--finish'])
      expect([done.code, done.json.phase]).toEqual([0, 'trust-new'])
    } finally {
      sampling = false
      await sampled.catch((error: Error) => bad.push(error.message))
      clients.forEach((c) => c.close())
      await second.cluster.stop()
    }
    expect(bad, bad.join('\n')).toEqual([])
  })
})

describe('valkey-tls ca rotate without the new CA\'s key (--leaf-dir): a primary and its replica', () => {
  it('renewed certificates made elsewhere, one per node; the files are what is trusted, and every node is reloaded once more before any leaf moves', async () => {
    const own: NodeFiles[] = []
    for (const name of ['primary', 'replica']) {
      const dir = join(root, `leafdir-${name}`)
      mkdirSync(dir)
      const pair = await issueCert(old.ca, dir, 'issued', {cn: `${name}.valkey`, sans: DEFAULT_SERVER_SANS, usage: 'both'})
      own.push({cert: join(dir, 'server.crt'), key: pair.key, ca: join(dir, 'ca.crt')})
      copyFileSync(pair.cert, own.at(-1)!.cert)
      copyFileSync(old.caCert, own.at(-1)!.ca)
    }
    const tlsOf = (f: NodeFiles) => ({caCert: f.ca, verifyCa: old.caCert, cert: f.cert, key: f.key, clientCert: oldAdmin.cert, clientKey: oldAdmin.key})
    const config = {'tls-auth-clients-user': 'CN', 'tls-replication': 'yes', user: ['admin on nopass ~* &* +@all', 'default on nopass ~* &* +@all']}
    const primary = await startValkey({tls: tlsOf(own[0]!), authClients: 'yes', config, name: 'leafdir-primary'})
    const replica = await startValkey({tls: tlsOf(own[1]!), authClients: 'yes', config: {...config, replicaof: `127.0.0.1 ${primary.port}`}, name: 'leafdir-replica'})
    try {
      const leafDir = join(root, 'renewed')
      for (const [i, node] of [primary, replica].entries()) {
        await issueShape(newCa, leafDir, `127.0.0.1_${node.port}`, {cn: `${i === 0 ? 'primary' : 'replica'}.valkey`, extensions: leafExtensions({}, DEFAULT_SERVER_SANS), key: own[i]!.key})
      }
      const linked = async () => {
        const c = await TlsRespClient.connect({port: replica.port, ca: bothCas(), cert: oldAdmin.cert, key: oldAdmin.key})
        try {
          return parseInfo(String(await c.command('INFO', 'replication'))).master_link_status === 'up'
        } finally {
          c.close()
        }
      }
      for (let i = 0; i < 100 && !(await linked()); i++) await new Promise((r) => setTimeout(r, 100))
      const args = ['--port', String(primary.port), '--new-ca-cert', newCa.cert, '--leaf-dir', leafDir, '--lock-file', join(root, 'leafdir.lock')]
      const applied = await rotate([...args, ...oldClient(), '--apply'])
      expect(applied.code, JSON.stringify(applied.json)).toBe(0)
      expect(applied.json.phase).toBe('leaves-new')
      // Phase 1 (2 nodes), the reload of every node before the first leaf moves (2), phase 2 (2).
      expect(applied.json.steps.map((s) => `${s.kind} ${s.outcome}`)).toEqual(['widen done', 'widen done', 'widen done', 'widen done', 'move-leaf done', 'move-leaf done'])
      for (const [i, f] of own.entries()) expect(readFileSync(f.cert)).toEqual(readFileSync(join(leafDir, `127.0.0.1_${[primary, replica][i]!.port}.crt`)))
      expect(await linked()).toBe(true)
      const finished = await rotate([...args, ...newClient(), '--apply', '--finish'])
      expect([finished.code, finished.json.phase], JSON.stringify(finished.json)).toEqual([0, 'trust-new'])
      // Restarted from its files, the replica links to its primary with the new CA alone.
      await replica.restart({tls: {verifyCa: newCa.cert, clientCert: newAdmin.cert, clientKey: newAdmin.key}})
      let up = false
      for (let i = 0; i < 100 && !up; i++) {
        up = parseInfo(String(await replica.command('INFO', 'replication'))).master_link_status === 'up'
        if (!up) await new Promise((r) => setTimeout(r, 100))
      }
      expect(up).toBe(true)
      expect(await getsIn(primary.port, oldAdmin, newCa.cert)).toBe(false)
    } finally {
      await Promise.all([replica.stop(), primary.stop()])
    }
  })

  /** A standalone node on an old-CA leaf of its own (CN `cn`) and its own copy of the old CA file; admin logs in by certificate. */
  const oldCaNode = async (name: string, cn: string) => {
    const dir = join(root, name)
    mkdirSync(dir)
    const pair = await issueCert(old.ca, dir, 'issued', {cn, sans: DEFAULT_SERVER_SANS, usage: 'both'})
    const ca = join(dir, 'ca.crt')
    copyFileSync(old.caCert, ca)
    const node = await startValkey({tls: {caCert: ca, verifyCa: old.caCert, cert: pair.cert, key: pair.key, clientCert: oldAdmin.cert, clientKey: oldAdmin.key}, authClients: 'yes', config: {'tls-auth-clients-user': 'CN', user: ['admin on nopass ~* &* +@all']}, name})
    return {node, pair}
  }

  it('--apply with neither the key nor --leaf-dir: phase 1 done, then it says what phase 2 needs', async () => {
    const {node} = await oldCaNode('nokey', 'nokey.valkey')
    try {
      const {code, json} = await rotate(['--port', String(node.port), '--new-ca-cert', newCa.cert, '--lock-file', join(root, 'nokey.lock'), ...oldClient(), '--apply'])
      expect(code, JSON.stringify(json)).toBe(0)
      expect(json.phase).toBe('trust-both')
      expect(json.steps.map((s) => `${s.kind} ${s.outcome}`)).toEqual(['widen done'])
      expect(json.next).toMatch(/phase 2 needs the new CA's key \(--new-ca-key\).*or the renewed certificates \(--leaf-dir\)/)
    } finally {
      await node.stop()
    }
  })

  it('a renewed certificate that is not from the new CA is refused, and nothing is loaded', async () => {
    const {node, pair} = await oldCaNode('leafdir-wrong', 'wrong.valkey')
    try {
      const leafDir = join(root, 'renewed-wrong')
      await issueShape(old.ca, leafDir, `127.0.0.1_${node.port}`, {cn: 'wrong.valkey', extensions: leafExtensions({}, DEFAULT_SERVER_SANS), key: pair.key})
      const before = readFileSync(pair.cert)
      const {code, json} = await rotate(['--port', String(node.port), '--new-ca-cert', newCa.cert, '--leaf-dir', leafDir, '--lock-file', join(root, 'leafdir-wrong.lock'), ...oldClient(), '--apply'])
      expect(code, JSON.stringify(json)).toBe(10)
      expect(json.error).toMatch(/is not issued by the new CA/)
      expect(readFileSync(pair.cert)).toEqual(before)
    } finally {
      await node.stop()
    }
  })
})
