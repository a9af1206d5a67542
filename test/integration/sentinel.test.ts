/**
 * `check --sentinel` against real TLS Sentinels (`valkey-server --sentinel`, tls-replication yes) watching a
 * TLS primary with two replicas: everything found with its role from one sentinel, then one fault at a time.
 */
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {DEFAULT_SERVER_SANS, issueCert, type KeyPair, makePki, type Pki} from '../helpers/pki/openssl.js'
import {parseInfo} from '../helpers/resp.js'
import {sleep} from '../helpers/server-process.js'
import {makeTempDir} from '../helpers/temp.js'
import {type SentinelHandle, sentinelEntries, startSentinel, waitForSentinels} from '../helpers/valkey/sentinel.js'
import {startValkey, type ValkeyHandle, type ValkeyTls} from '../helpers/valkey/server.js'

const root = makeTempDir('vtls-sentinel-it')

interface NodeJson {
  address: string
  role: string
  id: string | null
  health: string | null
  status: string
  error: string | null
  clientCertRequired: boolean | null
  user: string | null
  notes: string[]
  settings: unknown
}
interface ReportJson {
  discovery: {mode: string; method: string | null; seed: string | null; error: string | null}
  nodes: NodeJson[]
  summary: {nodes: number; ok: number; failed: number}
  status: string
}

let pki: Pki
let other: Pki
let alice: KeyPair
let tls: ValkeyTls
let primary: ValkeyHandle
let replicas: ValkeyHandle[]
let sentinels: SentinelHandle[]

beforeAll(async () => {
  ;[pki, other] = await Promise.all([makePki(join(root, 'pki'), {clients: ['alice']}), makePki(join(root, 'other'))])
  alice = pki.clients.alice!
  tls = {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}
  const data = {tls, authClients: 'yes' as const, config: {'tls-replication': 'yes'}}
  primary = await startValkey({...data, name: 'sentinel-primary'})
  replicas = await Promise.all([1, 2].map((i) => startValkey({...data, config: {...data.config, replicaof: `127.0.0.1 ${primary.port}`}, name: `sentinel-replica${i}`})))
  for (const replica of replicas) {
    while (parseInfo(String(await replica.command('INFO', 'replication'))).master_link_status !== 'up') await sleep(100)
  }
  sentinels = await Promise.all([0, 1, 2].map((i) => startSentinel({tls, authClients: 'yes', monitor: {primary}, name: `sentinel${i}`})))
  await waitForSentinels(sentinels, {replicas: 2})
}, 120_000)

const address = (node: {port: number}) => `127.0.0.1:${node.port}`
const seedArgs = (seed: {port: number} = sentinels[0]!) => ['--port', String(seed.port), '--sentinel', '--cacert', pki.caCert, '--cert', alice.cert, '--key', alice.key]

async function check(args: string[]): Promise<{code: number | null; json: ReportJson; stderr: string}> {
  const result = await runCli(['check', ...args, '--json'], {timeoutMs: 30_000})
  return {code: result.code, json: JSON.parse(result.stdout) as ReportJson, stderr: result.stderr}
}

const node = (report: ReportJson, of: {port: number}) => report.nodes.find((n) => n.address === address(of))!

describe('valkey-tls check --sentinel', () => {
  it('finds the primary, its replicas and all three sentinels from one sentinel, each checked: exit 0', async () => {
    const {code, json, stderr} = await check(seedArgs())
    expect(stderr).toBe('')
    expect(json.discovery).toEqual({mode: 'sentinel', method: 'SENTINEL MASTERS', seed: address(sentinels[0]!), error: null})
    // Each primary and its replicas, then the sentinel asked, then the others (Sentinel lists replicas and sentinels in no set order).
    expect(json.nodes.map((n) => n.role)).toEqual(['primary', 'replica', 'replica', 'sentinel', 'sentinel', 'sentinel'])
    expect(json.nodes[0]!.address).toBe(address(primary))
    expect(json.nodes.slice(1, 3).map((n) => n.address).sort()).toEqual(replicas.map(address).sort())
    expect(json.nodes[3]!.address).toBe(address(sentinels[0]!))
    expect(json.nodes.slice(4).map((n) => n.address).sort()).toEqual(sentinels.slice(1).map(address).sort())
    expect(json.nodes.map((n) => n.address).sort()).toEqual([primary, ...replicas, ...sentinels].map(address).sort())
    for (const n of json.nodes) expect(n, n.address).toMatchObject({status: 'ok', error: null, health: 'online', clientCertRequired: true, user: 'default'})
    expect(json.nodes.every((n) => /^[0-9a-f]{40}$/.test(n.id ?? ''))).toBe(true)
    // A sentinel has no CONFIG command: its TLS settings are a note, not a failure.
    for (const s of json.nodes.filter((n) => n.role === 'sentinel')) {
      expect(s.settings).toBeNull()
      expect(s.notes).toEqual([expect.stringMatching(/^TLS settings not read \(CONFIG GET: ERR unknown command 'CONFIG'/)])
    }
    expect(node(json, primary).settings).toMatchObject({tlsAuthClients: 'yes'})
    expect(json.summary).toMatchObject({nodes: 6, ok: 6, failed: 0})
    expect(code).toBe(0)
  })

  it('says so when --sentinel points at a data node: discovery fails, exit 6', async () => {
    const {code, json} = await check(seedArgs(primary))
    expect(json.discovery.error).toMatch(new RegExp(`^${address(primary)}: not a Sentinel \\(SENTINEL MASTERS: ERR unknown command 'SENTINEL'`))
    expect(json.nodes.map((n) => [n.address, n.status])).toEqual([[address(primary), 'ok']])
    expect(code).toBe(6)
  })

  it('fails a sentinel serving a certificate from another CA; the other nodes stay ok', async () => {
    const bad = sentinels[2]!
    const foreign = await issueCert(other.ca, join(root, 'other'), 'foreign-sentinel', {cn: 'localhost', sans: DEFAULT_SERVER_SANS})
    // Its own links (to the primary and replicas) keep presenting the right certificate: only what it serves changes.
    await bad.restart({
      config: {'tls-cert-file': foreign.cert, 'tls-key-file': foreign.key, 'tls-client-cert-file': pki.serverCert, 'tls-client-key-file': pki.serverKey},
      tls: {verifyCa: other.caCert},
    })
    try {
      const {code, json} = await check(seedArgs())
      expect(json.nodes).toHaveLength(6)
      expect(node(json, bad)).toMatchObject({role: 'sentinel', status: 'failed', error: expect.stringMatching(/^certificate not trusted by --cacert/)})
      // It sends its leaf alone (its own tls-ca-cert-file cannot complete the chain): named by its issuer.
      expect(node(json, bad).error).toContain(`issued by CN=${other.ca.cn}`)
      for (const n of json.nodes.filter((n) => n.address !== address(bad))) expect(n, n.address).toMatchObject({status: 'ok', error: null})
      expect(code).toBe(6)
    } finally {
      await bad.restart({config: {'tls-cert-file': pki.serverCert, 'tls-key-file': pki.serverKey}, tls: {verifyCa: undefined}})
      await waitForSentinels(sentinels, {replicas: 2})
    }
  })

  it('fails a stopped replica, which the sentinel reports down; the other nodes stay ok', async () => {
    const [stopped, running] = replicas as [ValkeyHandle, ValkeyHandle]
    await stopped.stop()
    // Wait for the sentinel to notice (down-after-milliseconds 2000) so its flags show in the report.
    const until = Date.now() + 15_000
    const flags = async () => sentinelEntries(await sentinels[0]!.command('SENTINEL', 'REPLICAS', 'mymaster')).find((r) => r.port === String(stopped.port))?.flags ?? ''
    while (!/s_down/.test(await flags()) && Date.now() < until) await sleep(200)
    const {code, json} = await check(seedArgs())
    expect(json.nodes).toHaveLength(6)
    expect(node(json, stopped)).toMatchObject({role: 'replica', status: 'failed', error: 'connection refused', health: expect.stringMatching(/s_down/)})
    expect(node(json, running)).toMatchObject({role: 'replica', status: 'ok', health: 'online'})
    for (const n of json.nodes.filter((n) => n.address !== address(stopped))) expect(n, n.address).toMatchObject({status: 'ok', error: null})
    expect(json.summary).toMatchObject({nodes: 6, ok: 5, failed: 1})
    expect(code).toBe(6)
  })
})
