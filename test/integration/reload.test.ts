/**
 * `reload` against a real Valkey 9.1 tls-cluster cluster (3 primaries x 1 replica, every node with its
 * own files) and single nodes: reload only what changed, refuse bad files before the server sees them,
 * stop a rolling run at the first failure, never hang on a stopped node, never interleave two runs.
 */
import {X509Certificate} from 'node:crypto'
import {copyFileSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {connect} from 'node:tls'

import {afterEach, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {DEFAULT_SERVER_SANS, issueCert, type KeyPair, makeExpiredCert, makeNotYetValidCert, makePki, type Pki} from '../helpers/pki/openssl.js'
import {parseInfo} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startCluster, type ValkeyCluster} from '../helpers/valkey/cluster.js'
import {useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-reload-it')
const lockFile = join(root, 'reload.lock')

interface CertJson {fingerprint256: string; notAfter: string; subject: string}
interface NodeJson {
  address: string
  role: string
  action: string
  reason: string
  before: CertJson | null
  after: CertJson | null
  onDisk: CertJson | null
  filesReadHere: boolean
  problems: Array<{code: string; message: string}>
  notes: string[]
  autoReloadInterval: number | null
}
interface ReportJson {
  dryRun: boolean
  discovery: {mode: string; method: string | null; error: string | null}
  nodes: NodeJson[]
  summary: Record<string, number>
  status: string
}

const SERVER = {cn: 'localhost', sans: DEFAULT_SERVER_SANS, usage: 'both' as const}

let pki: Pki
let admin: KeyPair
let cluster: ValkeyCluster
/** Each node's own files, and what they should hold when a test is done with them. */
const nodeFiles: Array<{cert: string; key: string; ca: string}> = []
const current: KeyPair[] = []

const address = (node: ValkeyHandle) => `127.0.0.1:${node.port}`
const adminArgs = () => ['--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', lockFile]

async function reload(args: string[], options: {timeoutMs?: number} = {}): Promise<{code: number | null; json: ReportJson; stderr: string; ms: number}> {
  const start = Date.now()
  const result = await runCli(['reload', ...args, ...adminArgs(), '--json'], {timeoutMs: options.timeoutMs ?? 60_000})
  let json: ReportJson
  try {
    json = JSON.parse(result.stdout) as ReportJson
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return {code: result.code, json, stderr: result.stderr, ms: Date.now() - start}
}

const clusterArgs = () => ['--cluster', '--port', String(cluster.nodes[0]!.port)]
const nodeOf = (report: ReportJson, node: ValkeyHandle) => report.nodes.find((n) => n.address === address(node))!

/** The certificate a new client is served, as Node sees it. */
function servedFingerprint(port: number, ca = pki.caCert): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: '127.0.0.1', port, ca: readFileSync(ca), cert: readFileSync(admin.cert), key: readFileSync(admin.key), rejectUnauthorized: false})
    socket.once('secureConnect', () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256)
      socket.destroy()
    })
    socket.once('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timeout')))
  })
}

const fingerprintOf = (certPath: string) => new X509Certificate(readFileSync(certPath)).fingerprint256

/** `config|set` calls the node has counted (INFO commandstats). */
async function configSets(node: ValkeyHandle): Promise<number> {
  const stats = parseInfo(String(await node.command('INFO', 'commandstats')))['cmdstat_config|set']
  return Number(/calls=(\d+)/.exec(stats ?? '')?.[1] ?? 0)
}

const allConfigSets = () => Promise.all(cluster.nodes.map(configSets))

function install(index: number, pair: {cert: string; key: string}, ca?: string) {
  copyFileSync(pair.cert, nodeFiles[index]!.cert)
  copyFileSync(pair.key, nodeFiles[index]!.key)
  if (ca) copyFileSync(ca, nodeFiles[index]!.ca)
}

function restore(index: number) {
  install(index, current[index]!, pki.caCert)
}

async function clusterStates(): Promise<string[]> {
  return Promise.all(cluster.nodes.map(async (n) => parseInfo(String(await n.command('CLUSTER', 'INFO'))).cluster_state!))
}

async function waitClusterOk(ms = 20_000) {
  const until = Date.now() + ms
  for (;;) {
    const states = await clusterStates().catch(() => ['?'])
    if (states.every((s) => s === 'ok')) return
    if (Date.now() > until) throw new Error(`cluster not ok: ${states.join(',')}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['admin']})
  admin = pki.clients.admin!
  for (let i = 0; i < 6; i++) {
    const dir = join(root, `node${i}`)
    mkdirSync(dir)
    nodeFiles.push({cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt')})
    current.push({cert: pki.serverCert, key: pki.serverKey})
    restore(i)
  }
  cluster = await startCluster({
    primaries: 3,
    replicasPerPrimary: 1,
    tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey},
    tlsFor: (i) => ({caCert: nodeFiles[i]!.ca, verifyCa: pki.caCert, cert: nodeFiles[i]!.cert, key: nodeFiles[i]!.key, clientCert: admin.cert, clientKey: admin.key}),
    authClients: 'yes',
  })
}, 120_000)

describe('valkey-tls reload on a 3x2 tls-cluster cluster', () => {
  it('nothing changed: one line, exit 0, and no CONFIG SET anywhere', async () => {
    const before = await allConfigSets()
    const text = await runCli(['reload', ...clusterArgs(), ...adminArgs()])
    expect(text.code).toBe(0)
    expect(text.stderr).toBe('')
    expect(text.stdout.trim()).toBe('valkey-tls reload: 6 nodes unchanged')
    const quiet = await runCli(['reload', ...clusterArgs(), ...adminArgs(), '--quiet'])
    expect([quiet.code, quiet.stdout]).toEqual([0, ''])
    const {code, json} = await reload(clusterArgs())
    expect(code).toBe(0)
    expect(json.discovery).toMatchObject({mode: 'cluster', method: 'CLUSTER SHARDS'})
    expect(json.nodes.map((n) => n.action)).toEqual(Array(6).fill('unchanged'))
    expect(json.nodes.slice(0, 3).map((n) => n.role)).toEqual(['replica', 'replica', 'replica']) // replicas first
    for (const n of json.nodes) expect(n.before!.fingerprint256).toBe(n.onDisk!.fingerprint256)
    expect(await allConfigSets()).toEqual(before)
  })

  it('a renewed certificate on one primary: reloaded (served fingerprint changes); run again: unchanged, no further config|set', async () => {
    const renewed = await issueCert(pki.ca, join(root, 'pki'), 'renewed-primary', SERVER)
    const i = 1
    const node = cluster.nodes[i]!
    const old = await servedFingerprint(node.port)
    install(i, renewed)
    current[i] = renewed
    const before = await allConfigSets()
    const first = await reload(clusterArgs())
    expect(first.code, JSON.stringify(first.json.nodes)).toBe(0)
    const n = nodeOf(first.json, node)
    expect(n).toMatchObject({action: 'reloaded', filesReadHere: true})
    expect(n.before!.fingerprint256).toBe(old)
    expect(n.after!.fingerprint256).toBe(fingerprintOf(renewed.cert))
    expect(await servedFingerprint(node.port)).toBe(fingerprintOf(renewed.cert))
    expect(first.json.nodes.filter((x) => x.action === 'unchanged')).toHaveLength(5)
    const afterFirst = await allConfigSets()
    expect(afterFirst.map((c, k) => c - before[k]!)).toEqual(cluster.nodes.map((_, k) => (k === i ? 1 : 0)))

    const second = await reload(clusterArgs())
    expect(second.code).toBe(0)
    expect(nodeOf(second.json, node).action).toBe('unchanged')
    expect(await allConfigSets()).toEqual(afterFirst)
    expect(await clusterStates()).toEqual(Array(6).fill('ok'))
  })

  describe('bad files on one node are refused before the server sees them', () => {
    let other: Pki
    let bad: Record<string, KeyPair>
    beforeAll(async () => {
      other = await makePki(join(root, 'other'), {caCn: 'Other CA'})
      const dir = join(root, 'pki')
      bad = {
        expired: await makeExpiredCert(pki.ca, dir, 'bad-expired', SERVER),
        notYet: await makeNotYetValidCert(pki.ca, dir, 'bad-not-yet', SERVER),
        soon: await issueCert(pki.ca, dir, 'bad-soon', {...SERVER, notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 6 * 3_600_000)}),
        renewed: await issueCert(pki.ca, dir, 'bad-renewed', SERVER),
      }
      writeFileSync(join(root, 'both-cas.crt'), readFileSync(pki.caCert, 'utf8') + readFileSync(other.caCert, 'utf8'))
    }, 30_000)
    const i = 4
    afterEach(() => restore(i))

    const cases: Array<[string, () => void, string]> = [
      ['expired certificate', () => install(i, bad.expired!), 'expired'],
      ['not-yet-valid certificate', () => install(i, bad.notYet!), 'not-yet-valid'],
      ['certificate valid for 6 more hours (--min-days 1)', () => install(i, bad.soon!), 'expires-soon'],
      ['key that does not match', () => install(i, {cert: bad.renewed!.cert, key: pki.serverKey}), 'key-mismatch'],
      ['garbage in the certificate file', () => {
        install(i, bad.renewed!)
        writeFileSync(nodeFiles[i]!.cert, 'this is not a certificate\n')
      }, 'cert-unusable'],
      ['certificate from another CA', () => install(i, {cert: other.serverCert, key: other.serverKey}), 'untrusted'],
      ['other CA trusted by this node only (the bus would break)', () => install(i, {cert: other.serverCert, key: other.serverKey}, join(root, 'both-cas.crt')), 'peer-untrusted'],
      ['CA file replaced by another CA on this node only (it would reject the others)', () => install(i, {cert: other.serverCert, key: other.serverKey}, other.caCert), 'peer-rejected'],
    ]
    it.each(cases)('%s: refused, no CONFIG SET, served certificate unchanged, cluster ok', async (_name, breakIt, problem) => {
      const node = cluster.nodes[i]!
      const served = await servedFingerprint(node.port)
      breakIt()
      const before = await allConfigSets()
      const {code, json} = await reload(clusterArgs())
      expect(code, JSON.stringify(json.nodes)).toBe(10)
      expect(json.status).toBe('refused')
      const n = nodeOf(json, node)
      expect(n.action).toBe('refused')
      expect(n.problems.map((p) => p.code)).toContain(problem)
      expect(n.reason).toContain(n.problems[0]!.message)
      expect(n.after!.fingerprint256).toBe(served)
      expect(json.nodes.filter((x) => x !== n).map((x) => x.action)).toEqual(Array(5).fill('unchanged'))
      expect(await allConfigSets()).toEqual(before)
      expect(await servedFingerprint(node.port)).toBe(served)
      expect(await clusterStates()).toEqual(Array(6).fill('ok'))
    })
    it('one node of a tls-cluster cluster given alone (--port): the other nodes are still asked whom they trust', async () => {
      install(i, {cert: other.serverCert, key: other.serverKey}, join(root, 'both-cas.crt'))
      const {code, json} = await reload(['--port', String(cluster.nodes[i]!.port)])
      expect(code).toBe(10)
      expect(json.nodes.map((n) => [n.address, n.action])).toEqual([[address(cluster.nodes[i]!), 'refused']])
      // The five peers hold the same CA file: one verdict, naming them together (three, "and 2 more").
      const untrusted = json.nodes[0]!.problems.filter((p) => p.code === 'peer-untrusted')
      expect(untrusted.length).toBeGreaterThan(0)
      for (const p of untrusted) {
        expect(p.message).toMatch(/and 2 more would refuse/)
        const named = [...p.message.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))
        expect(named).toHaveLength(3)
        for (const port of named) expect(cluster.nodes.filter((_, k) => k !== i).map((n) => n.port)).toContain(port)
      }
    })
  })

  it('a failure stops the rolling run: earlier nodes reloaded, the failed one kept its certificate, later ones untouched', async () => {
    // Files not read here (--force, since none is due): every node is reloaded in turn, and the server's own check fails the third.
    const plan = await reload([...clusterArgs(), '--read-files', 'never', '--force', '--dry-run'])
    expect(plan.json.dryRun).toBe(true)
    expect(plan.json.nodes.map((n) => n.action)).toEqual(Array(6).fill('would-reload'))
    const order = plan.json.nodes.map((n) => cluster.nodes.findIndex((node) => address(node) === n.address))
    const victim = order[2]!
    writeFileSync(nodeFiles[victim]!.cert, 'garbage\n')
    try {
      const served = await Promise.all(cluster.nodes.map((n) => servedFingerprint(n.port)))
      const before = await allConfigSets()
      const {code, json} = await reload([...clusterArgs(), '--read-files', 'never', '--force'])
      expect(code).toBe(6)
      expect(json.nodes.map((n) => n.address)).toEqual(plan.json.nodes.map((n) => n.address))
      expect(json.nodes.map((n) => n.action)).toEqual(['reloaded', 'reloaded', 'failed', 'skipped', 'skipped', 'skipped'])
      expect(json.nodes[2]!.reason).toMatch(/CONFIG SET.*Unable to update TLS configuration.*kept its previous certificate/)
      expect(json.nodes[3]!.reason).toContain(`the run stopped after ${json.nodes[2]!.address} failed`)
      const delta = (await allConfigSets()).map((c, k) => c - before[k]!)
      expect(order.map((k) => delta[k])).toEqual([1, 1, 1, 0, 0, 0]) // the failed one was sent (and refused)
      expect(await Promise.all(cluster.nodes.map((n) => servedFingerprint(n.port)))).toEqual(served)
    } finally {
      restore(victim)
    }
  })

  it('a stopped (SIGSTOP) node is a failed line within the timeouts, and the run still ends', async () => {
    const node = cluster.nodes[5]!
    node.signal('SIGSTOP')
    let result
    try {
      result = await reload([...clusterArgs(), '--timeout', '1', '--deadline', '20'], {timeoutMs: 20_000})
    } finally {
      node.signal('SIGCONT')
    }
    expect(result.code).toBe(6)
    const n = nodeOf(result.json, node)
    expect(n.action).toBe('failed')
    expect(n.reason).toMatch(/no TLS handshake within 1 s/)
    expect(result.ms).toBeLessThan(8000)
    const at = result.json.nodes.indexOf(n)
    expect(result.json.nodes.slice(at + 1).every((x) => x.action === 'skipped')).toBe(true)
    expect(result.json.nodes.slice(0, at).every((x) => x.action === 'unchanged')).toBe(true)
    await waitClusterOk()
  })

  it('--deadline ends a run stuck on a stopped node even with a long --timeout', async () => {
    const node = cluster.nodes[3]!
    node.signal('SIGSTOP')
    let result
    try {
      result = await reload([...clusterArgs(), '--timeout', '30', '--deadline', '2'], {timeoutMs: 20_000})
    } finally {
      node.signal('SIGCONT')
    }
    expect(result.code).toBe(6)
    expect(result.ms).toBeLessThan(5000)
    expect(nodeOf(result.json, node).action).toMatch(/failed|skipped/)
    await waitClusterOk()
  })

  it('two runs started together: one waits for the other, so only one of them reloads', async () => {
    const i = 2
    const renewed = await issueCert(pki.ca, join(root, 'pki'), 'renewed-lock', SERVER)
    install(i, renewed)
    current[i] = renewed
    const before = await allConfigSets()
    const [a, b] = await Promise.all([reload(clusterArgs()), reload(clusterArgs())])
    expect([a.code, b.code]).toEqual([0, 0])
    const actions = [nodeOf(a.json, cluster.nodes[i]!).action, nodeOf(b.json, cluster.nodes[i]!).action].sort()
    expect(actions).toEqual(['reloaded', 'unchanged'])
    const delta = (await allConfigSets()).map((c, k) => c - before[k]!)
    expect(delta).toEqual(cluster.nodes.map((_, k) => (k === i ? 1 : 0)))
  })

  it('a lock held by a live run: exit 11 with --lock-wait 0, nothing done; a stale lock is taken over', async () => {
    mkdirSync(lockFile) // a lock is a folder (proper-lockfile), refreshed by its holder
    try {
      const before = await allConfigSets()
      const busy = await runCli(['reload', ...clusterArgs(), ...adminArgs(), '--lock-wait', '0'])
      expect(busy.code).toBe(11)
      expect(busy.stderr.trim()).toMatch(new RegExp(`^Error: another reload is running \\(held by a process of uid \\d+, refreshed \\d+ s ago; lock ${lockFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`))
      expect(await allConfigSets()).toEqual(before)
      const longAgo = new Date(Date.now() - 3_600_000)
      utimesSync(lockFile, longAgo, longAgo) // its holder died an hour ago
      const stale = await runCli(['reload', ...clusterArgs(), ...adminArgs(), '--lock-wait', '0'])
      expect([stale.code, stale.stdout.trim()]).toEqual([0, 'valkey-tls reload: 6 nodes unchanged'])
      expect(() => statSync(lockFile)).toThrow() // released
    } finally {
      rmSync(lockFile, {recursive: true, force: true})
    }
  })
})
