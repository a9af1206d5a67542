/**
 * `reload` never loads certificate files that would break clients, replication or the cluster bus:
 * before any CONFIG SET it rehearses TLS handshakes with the new files, and refuses (exit 10, nothing
 * sent) when a client, a peer or the node itself would reject them. Against a real Valkey 9.1
 * tls-cluster cluster (3 primaries x 1 replica, every node with its own files).
 *
 * The shapes below all load fine in the server; they only break when a link (re)connects. So a good
 * renewal is proven by restarting peers (links re-handshake), and a control shows that one of the
 * shapes, loaded anyway (--read-files never --force), really takes a replication link down.
 */
import {X509Certificate} from 'node:crypto'
import {copyFileSync, mkdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {connect} from 'node:tls'

import {afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {type KeyPair, makePki, type Pki} from '../helpers/pki/openssl.js'
import {makeReloadShapes, type ReloadShapes} from '../helpers/pki/reload-shapes.js'
import {parseInfo} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startCluster, type ValkeyCluster} from '../helpers/valkey/cluster.js'
import {useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-rehearse-it')
const lockFile = join(root, 'reload.lock')

interface NodeJson {
  address: string
  role: string
  action: string
  reason: string
  after: {fingerprint256: string} | null
  problems: Array<{code: string; message: string}>
}
interface ReportJson {
  nodes: NodeJson[]
  status: string
}

let pki: Pki
let admin: KeyPair
let shapes: ReloadShapes
let cluster: ValkeyCluster
/** Each node's own files, and what they hold when no test is using them. */
const nodeFiles: Array<{cert: string; key: string; ca: string}> = []
const current: KeyPair[] = []

const nodeAt = (i: number) => cluster.nodes[i]!
const address = (node: ValkeyHandle) => `127.0.0.1:${node.port}`
const clusterArgs = () => ['--cluster', '--port', String(nodeAt(0).port)]
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function reload(args: string[], options: {cacert?: string} = {}): Promise<{code: number | null; json: ReportJson}> {
  const result = await runCli(
    ['reload', ...args, '--cacert', options.cacert ?? pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', lockFile, '--json'],
    {timeoutMs: 60_000},
  )
  try {
    return {code: result.code, json: JSON.parse(result.stdout) as ReportJson}
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
}

function nodeOf(report: ReportJson, i: number): NodeJson {
  const n = report.nodes.find((x) => x.address === address(nodeAt(i)))
  if (!n) throw new Error(`${address(nodeAt(i))} is not in the report: ${JSON.stringify(report.nodes)}`)
  return n
}

/** The certificate a new client is served (no verification: this only looks). */
function servedFingerprint(node: ValkeyHandle): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: '127.0.0.1', port: node.port, cert: readFileSync(admin.cert), key: readFileSync(admin.key), rejectUnauthorized: false})
    socket.once('secureConnect', () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256)
      socket.destroy()
    })
    socket.once('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timeout')))
  })
}

const allServed = () => Promise.all(cluster.nodes.map(servedFingerprint))
const fingerprintOf = (certPath: string) => new X509Certificate(readFileSync(certPath)).fingerprint256

/** `config|set` calls each node has counted (INFO commandstats). */
function allConfigSets(): Promise<number[]> {
  return Promise.all(cluster.nodes.map(async (node) => {
    const stats = parseInfo(String(await node.command('INFO', 'commandstats')))['cmdstat_config|set']
    return Number(/calls=(\d+)/.exec(stats ?? '')?.[1] ?? 0)
  }))
}

function install(i: number, pair: KeyPair, ca = pki.caCert) {
  copyFileSync(pair.cert, nodeFiles[i]!.cert)
  copyFileSync(pair.key, nodeFiles[i]!.key)
  copyFileSync(ca, nodeFiles[i]!.ca)
}

const restoreAll = () => cluster.nodes.forEach((_, i) => install(i, current[i]!))

/** Who replicates whom, asked now: restarts could in principle move roles. */
async function topology(): Promise<{primaries: number[]; replicas: Array<{index: number; primary: number}>}> {
  const infos = await Promise.all(cluster.nodes.map(async (n) => parseInfo(String(await n.command('INFO', 'replication')))))
  const primaries: number[] = []
  const replicas: Array<{index: number; primary: number}> = []
  infos.forEach((info, index) => {
    if (info.role === 'master' || info.role === 'primary') primaries.push(index)
    else replicas.push({index, primary: cluster.nodes.findIndex((n) => String(n.port) === (info.master_port ?? info.primary_port))})
  })
  return {primaries, replicas}
}

const linkStatus = async (i: number) => {
  const info = parseInfo(String(await nodeAt(i).command('INFO', 'replication')))
  return info.master_link_status ?? info.primary_link_status
}

/** What is wrong now: a cluster_state other than ok, a replica whose link to its primary is not up. */
async function unhealthy(): Promise<string[]> {
  const problems = await Promise.all(cluster.nodes.map(async (node, i) => {
    try {
      const state = parseInfo(String(await node.command('CLUSTER', 'INFO'))).cluster_state
      const info = parseInfo(String(await node.command('INFO', 'replication')))
      const link = info.master_link_status ?? info.primary_link_status
      return [state === 'ok' ? '' : `node${i} cluster_state:${state}`, link === undefined || link === 'up' ? '' : `node${i} master_link_status:${link}`]
    } catch (error) {
      return [`node${i}: ${(error as Error).message}`]
    }
  }))
  return problems.flat().filter(Boolean)
}

async function waitHealthy(ms = 20_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    const problems = await unhealthy()
    if (problems.length === 0) return
    if (Date.now() > until) throw new Error(`cluster not healthy after ${ms / 1000} s: ${problems.join('; ')}`)
    await sleep(250)
  }
}

/**
 * After a test: every file back to what it was. A node that (against expectations) loaded a bad shape
 * gets its good files back with a forced reload and a restart, so one failure does not cascade.
 */
async function repair(): Promise<void> {
  restoreAll()
  const served = await allServed()
  for (const [i, fingerprint] of served.entries()) {
    if (fingerprint === fingerprintOf(current[i]!.cert)) continue
    await reload(['--port', String(nodeAt(i).port), '--force'])
    await nodeAt(i).restart()
  }
  await waitHealthy()
}

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['admin']})
  admin = pki.clients.admin!
  shapes = await makeReloadShapes(pki.ca, join(root, 'shapes'))
  for (let i = 0; i < 6; i++) {
    const dir = join(root, `node${i}`)
    mkdirSync(dir)
    nodeFiles.push({cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt')})
    current.push({cert: pki.serverCert, key: pki.serverKey})
    install(i, current[i]!)
  }
  cluster = await startCluster({
    primaries: 3,
    replicasPerPrimary: 1,
    tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey},
    tlsFor: (i) => ({caCert: nodeFiles[i]!.ca, verifyCa: pki.caCert, cert: nodeFiles[i]!.cert, key: nodeFiles[i]!.key, clientCert: admin.cert, clientKey: admin.key}),
    authClients: 'yes',
  })
}, 120_000)

describe('valkey-tls reload rehearses handshakes with the new files before loading them (3x2 tls-cluster)', () => {
  beforeEach(() => waitHealthy())
  afterEach(repair, 60_000)

  interface Shape {
    name: string
    role: 'primary' | 'replica'
    /** Any of these problem codes (some shapes can be described more than one way). */
    codes: string[]
    install: (i: number, others: number[]) => void
    /** Reload only the node (--port) instead of the whole cluster. */
    alone?: boolean
    cacert?: () => string
  }
  const shapeCases: Shape[] = [
    {name: 'EKU clientAuth only (clients refuse it as a server certificate)', role: 'primary', codes: ['untrusted'], install: (i) => install(i, shapes.clientAuthOnly)},
    {name: 'EKU serverAuth only (peers refuse it as the bus/replication client certificate)', role: 'replica', codes: ['peer-untrusted'], install: (i) => install(i, shapes.serverAuthOnly)},
    {name: 'SANs naming only DNS:other.example', role: 'primary', codes: ['name-mismatch'], install: (i) => install(i, shapes.otherName)},
    {name: 'keyUsage keyCertSign only', role: 'replica', codes: ['untrusted'], install: (i) => install(i, shapes.keyCertSignOnly)},
    {name: 'leaf issued by a CA:FALSE "intermediate" (leaf + intermediate in the cert file)', role: 'primary', codes: ['untrusted'], install: (i) => install(i, shapes.caFalseIntermediate)},
    {name: 'intermediate in the cert file not valid yet', role: 'replica', codes: ['untrusted', 'chain-not-yet-valid'], install: (i) => install(i, shapes.notYetValidIntermediate)},
    {
      // Node i trusts CA + CA2; every other node's CA file holds the new leaf itself instead of CA2:
      // OpenSSL (no partial chains) does not accept a non-self-signed trust anchor, so their links break.
      name: 'peers pin the new leaf instead of its issuer (CA2)',
      role: 'primary',
      codes: ['peer-untrusted'],
      install: (i, others) => {
        install(i, shapes.pinned.leaf, shapes.pinned.ownCa)
        for (const k of others) install(k, current[k]!, shapes.pinned.peerCa)
      },
      alone: true, // the peers' CA files changed too (legitimately reloadable): reload only node i
      cacert: () => shapes.pinned.ownCa,
    },
  ]

  it.each(shapeCases.map((c, k) => [c.name, c, k] as const))('%s: refused before any CONFIG SET, nothing changes anywhere', async (_name, shape, k) => {
    const topo = await topology()
    const pool = shape.role === 'primary' ? topo.primaries : topo.replicas.map((r) => r.index)
    const i = pool[k % pool.length]!
    const others = cluster.nodes.map((_, x) => x).filter((x) => x !== i)
    const served = await allServed()
    shape.install(i, others)
    const before = await allConfigSets()

    const {code, json} = await reload(shape.alone ? ['--port', String(nodeAt(i).port)] : clusterArgs(), {cacert: shape.cacert?.()})
    const n = nodeOf(json, i)
    expect({exit: code, action: n.action}, `${n.action}: ${n.reason}`).toEqual({exit: 10, action: 'refused'})
    expect(json.status).toBe('refused')
    const matching = n.problems.filter((p) => shape.codes.includes(p.code))
    expect(matching.length, `one of ${shape.codes.join('/')} expected, got ${JSON.stringify(n.problems)}`).toBeGreaterThan(0)
    for (const p of matching) expect(p.message).toMatch(/^[^\n]+$/)
    expect(n.reason).toMatch(/^[^\n]+$/)
    expect(n.reason).toContain(n.problems[0]!.message)
    expect(json.nodes.filter((x) => x !== n).map((x) => x.action)).toEqual(Array(json.nodes.length - 1).fill('unchanged'))
    expect(await allConfigSets()).toEqual(before)
    expect(await allServed()).toEqual(served)
    expect(await unhealthy()).toEqual([])
  })

  it('a good renewal on a primary is reloaded, and survives its replica and another primary reconnecting', async () => {
    const topo = await topology()
    const p = topo.primaries[0]!
    const r = topo.replicas.find((x) => x.primary === p)!.index
    const p2 = topo.primaries.find((x) => x !== p)!
    install(p, shapes.renewal)
    current[p] = shapes.renewal
    const before = await allConfigSets()

    const {code, json} = await reload(clusterArgs())
    expect({exit: code, action: nodeOf(json, p).action, reason: nodeOf(json, p).reason}).toMatchObject({exit: 0, action: 'reloaded'})
    expect(json.nodes.filter((x) => x.address !== address(nodeAt(p))).map((x) => x.action)).toEqual(Array(5).fill('unchanged'))
    expect((await allConfigSets()).map((c, x) => c - before[x]!)).toEqual(cluster.nodes.map((_, x) => (x === p ? 1 : 0)))
    expect(await servedFingerprint(nodeAt(p))).toBe(fingerprintOf(shapes.renewal.cert))

    // Links survive a reload; only new handshakes prove the certificate works both ways on them.
    const pids = [nodeAt(r).pid, nodeAt(p2).pid]
    await nodeAt(r).restart()
    await nodeAt(p2).restart()
    expect([nodeAt(r).pid, nodeAt(p2).pid].filter((pid, x) => pid === pids[x])).toEqual([])
    await waitHealthy(20_000)
    expect(await linkStatus(r)).toBe('up')
    expect(await servedFingerprint(nodeAt(p))).toBe(fingerprintOf(shapes.renewal.cert))
  }, 90_000)

  it('control: the serverAuth-only shape, loaded anyway on a replica (--read-files never --force), takes its replication link down', async () => {
    const topo = await topology()
    const {index: r, primary: p} = topo.replicas[0]!
    const logSize = (i: number) => statSync(nodeAt(i).logFile).size
    const logSince = (i: number, from: number) => readFileSync(nodeAt(i).logFile).subarray(from).toString('utf8')
    try {
      install(r, shapes.serverAuthOnly)
      // --force: files that cannot be read are otherwise only reloaded when the served certificate is due.
      const {code, json} = await reload(['--port', String(nodeAt(r).port), '--read-files', 'never', '--force'])
      expect({exit: code, action: nodeOf(json, r).action}, nodeOf(json, r).reason).toEqual({exit: 0, action: 'reloaded'})
      expect(await servedFingerprint(nodeAt(r))).toBe(fingerprintOf(shapes.serverAuthOnly.cert))

      const from = [logSize(r), logSize(p)]
      await nodeAt(r).command('CLIENT', 'KILL', 'TYPE', 'master')
      // A good certificate reconnects within about a second (the replica retries every second); this
      // one must stay down, and the primary or the replica must log why.
      const seen: string[] = []
      const until = Date.now() + 6000
      while (Date.now() < until) {
        seen.push(String(await linkStatus(r)))
        await sleep(250)
      }
      expect(seen.filter((s) => s === 'up'), `master_link_status seen: ${seen.join(',')}`).toEqual([])
      // Seen: the replica logs "Failed to read response from the server: ...ssl/tls alert unsupported
      // certificate", or, when the primary's reset comes before its alert is read (seen under load), "Writing
      // to master: Connection reset by peer"; the primary logs "Error accepting a client connection:
      // ...certificate verify failed" either way: that is the cause.
      expect(logSince(r, from[0]!)).toMatch(/alert unsupported certificate|Connection reset by peer/)
      expect(logSince(p, from[1]!)).toMatch(/certificate verify failed/)
    } finally {
      install(r, current[r]!)
      const fixed = await reload(['--port', String(nodeAt(r).port), '--force'])
      await nodeAt(r).restart()
      await waitHealthy(20_000)
      expect({exit: fixed.code, action: nodeOf(fixed.json, r).action}, nodeOf(fixed.json, r).reason).toEqual({exit: 0, action: 'reloaded'})
    }
    expect(await servedFingerprint(nodeAt(r))).toBe(fingerprintOf(current[r]!.cert))
  }, 90_000)
})
