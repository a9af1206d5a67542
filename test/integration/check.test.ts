/**
 * `check` against a real Valkey 9.1 tls-cluster cluster with replicas: everything found and healthy,
 * then one fault at a time on one node, reported precisely while the other nodes stay ok.
 */
import {createConnection, createServer, type Server, type Socket} from 'node:net'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {issueCert, type KeyPair, makeCa, makePki, type Pki} from '../helpers/pki/openssl.js'
import {freePort} from '../helpers/ports.js'
import {TlsRespClient} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startCluster, type ValkeyCluster} from '../helpers/valkey/cluster.js'
import {startValkey, useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-check-it')

interface NodeJson {
  address: string
  role: string
  status: string
  ok: boolean
  error: string | null
  protocol: string | null
  handshakeMs: number | null
  notAfter: string | null
  daysLeft: number | null
  clientCertRequired: boolean | null
  user: string | null
  warnings: string[]
  notes: string[]
  bus: {port: number; ok: boolean; error: string | null} | null
}
interface ReportJson {
  discovery: {mode: string; method: string | null; error: string | null}
  nodes: NodeJson[]
  findings: string[]
  summary: {nodes: number; ok: number; warning: number; failed: number; findings: number}
  status: string
}

let pki: Pki
let cluster: ValkeyCluster
let alice: KeyPair

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['alice']})
  alice = pki.clients.alice!
  cluster = await startCluster({
    primaries: 3,
    replicasPerPrimary: 1,
    tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey},
    authClients: 'yes',
    config: {'tls-auth-clients-user': 'CN', user: ['alice on nopass ~* +@all', 'default on nopass ~* &* +@all']},
  })
}, 120_000)

const seedArgs = () => ['--port', String(cluster.nodes[0]!.port), '--cacert', pki.caCert, '--cert', alice.cert, '--key', alice.key]

async function check(args: string[], timeoutMs = 30_000): Promise<{code: number | null; json: ReportJson; stderr: string}> {
  const result = await runCli(['check', ...args, '--json'], {timeoutMs})
  return {code: result.code, json: JSON.parse(result.stdout) as ReportJson, stderr: result.stderr}
}

const byPort = (report: ReportJson, node: ValkeyHandle) => report.nodes.find((n) => n.address === `127.0.0.1:${node.port}`)!

/** Every node except `faulty` is ok. */
function othersOk(report: ReportJson, faulty: ValkeyHandle) {
  for (const node of cluster.nodes.filter((n) => n !== faulty)) expect(byPort(report, node), `127.0.0.1:${node.port}`).toMatchObject({status: 'ok', error: null})
}

describe('valkey-tls check on a 3x2 tls-cluster cluster', () => {
  it('with --allow-target naming the client ports only, no bus port is connected to: noted, and the nodes stay ok', async () => {
    const rules = cluster.nodes.flatMap((n) => ['--allow-target', `127.0.0.1:${n.port}`])
    const {code, json} = await check([...seedArgs(), ...rules])
    expect(code).toBe(0)
    for (const node of cluster.nodes) {
      const n = byPort(json, node) as NodeJson & {notes: string[]}
      expect(n).toMatchObject({status: 'ok', bus: null})
      expect(n.notes).toContain(`cluster bus port ${node.clusterPort} is outside the servers this run may connect to (--allow-target, or the module's targets): not checked`)
    }
    // Any port of the address: the bus is checked again.
    const all = await check([...seedArgs(), '--allow-target', '127.0.0.1'])
    expect(all.json.nodes.every((n) => n.bus?.ok === true)).toBe(true)
  })

  it('finds all primaries, replicas and bus ports from one seed, all healthy: exit 0', async () => {
    const {code, json, stderr} = await check(seedArgs())
    expect(stderr).toBe('')
    expect(json.discovery).toMatchObject({mode: 'cluster', method: 'CLUSTER SHARDS', error: null})
    expect(json.nodes.map((n) => n.address).sort()).toEqual(cluster.nodes.map((n) => `127.0.0.1:${n.port}`).sort())
    expect(json.nodes.filter((n) => n.role === 'primary')).toHaveLength(3)
    expect(json.nodes.filter((n) => n.role === 'replica')).toHaveLength(3)
    for (const node of cluster.nodes) {
      const n = byPort(json, node)
      expect(n).toMatchObject({status: 'ok', ok: true, error: null, protocol: 'TLSv1.3', clientCertRequired: true, user: 'alice'})
      expect(n.daysLeft).toBeGreaterThan(300)
      expect(n.handshakeMs).toBeGreaterThan(0)
      expect(n.bus).toMatchObject({port: node.clusterPort, ok: true, error: null})
    }
    expect(json.findings).toEqual([])
    expect(json.summary).toMatchObject({nodes: 6, ok: 6, warning: 0, failed: 0})
    expect(code).toBe(0)
  })

  it('--format prometheus: success, handshake time and not-after for every client and bus port', async () => {
    const result = await runCli(['check', ...seedArgs(), '--format', 'prometheus'])
    expect(result.code).toBe(0)
    const success = result.stdout.split('\n').filter((l) => l.startsWith('valkey_tls_port_success{'))
    expect(success).toHaveLength(12)
    expect(success.every((l) => l.endsWith(' 1'))).toBe(true)
    expect(result.stdout.match(/^valkey_tls_cert_not_after_timestamp_seconds\{/gm)).toHaveLength(12)
    expect(result.stdout).toMatch(/^valkey_tls_nodes\{status="ok"\} 6$/m)
    expect(result.stdout).toMatch(/^valkey_tls_probe_success 1$/m)
    expect(result.stdout).toMatch(/^valkey_tls_discovery_success 1$/m)
    // Valkey 9.1 says what it loaded: every node's server and CA certificate expiry, and the refused-certificate counter.
    expect(result.stdout.match(/^valkey_tls_loaded_cert_not_after_timestamp_seconds\{node="[^"]+",cert="server"\}/gm)).toHaveLength(6)
    expect(result.stdout.match(/^valkey_tls_acl_access_denied_tls_cert_total\{node="[^"]+"\} \d+$/gm)).toHaveLength(6)
    expect(result.stdout.match(/^valkey_tls_node_info\{node="[^"]+",role="(primary|replica)",id="[0-9a-f]{40}"\} 1$/gm)).toHaveLength(6)
    expect(result.stdout).toMatch(/^# TYPE valkey_tls_handshake_duration_seconds gauge$/m)
  })

  it('--warn-days beyond the certificates\' lifetime: warnings only, exit 9', async () => {
    const {code, json} = await check([...seedArgs(), '--warn-days', '1000'])
    expect(json.summary).toMatchObject({ok: 0, warning: 6, failed: 0})
    expect(json.nodes[0]!.warnings.join()).toMatch(/expires in \d+ days/)
    expect(code).toBe(9)
  })

  it('a node serving a certificate from another CA: that node fails on client and bus port, findings name the CA, others ok', async () => {
    const victim = cluster.nodes[1]!
    const otherCa = await makeCa(join(root, 'other-ca'), {cn: 'rogue CA'})
    const rogue = await issueCert(otherCa, join(root, 'other-ca'), 'rogue', {cn: 'localhost', sans: ['IP:127.0.0.1'], usage: 'both'})
    await withCert(victim, rogue, async () => {
      const {code, json} = await check(seedArgs())
      expect(byPort(json, victim).error).toMatch(/^certificate not trusted by --cacert \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\): issued by CN=rogue CA$/)
      expect(byPort(json, victim).status).toBe('failed')
      expect(byPort(json, victim).bus).toMatchObject({ok: false, error: expect.stringMatching(/^certificate not trusted by --cacert/)})
      othersOk(json, victim)
      expect(json.findings.join('\n')).toMatch(/different CAs: .*"CN=rogue CA \(key id [0-9A-F:]+…\)" on 127\.0\.0\.1:\d+/)
      expect(code).toBe(6)
    })
  })

  it('two unrelated CAs with the same name on two nodes: a finding naming both keys (not one CA by name)', async () => {
    const victim = cluster.nodes[3]!
    const twin = await makeCa(join(root, 'twin-ca'), {cn: pki.ca.cn}) // certs gen names every test CA alike
    const twinLeaf = await issueCert(twin, join(root, 'twin-ca'), 'twin', {cn: 'localhost', sans: ['IP:127.0.0.1'], usage: 'both'})
    await withCert(victim, twinLeaf, async () => {
      const {json} = await check(seedArgs())
      const finding = json.findings.find((f) => f.startsWith('different CAs:'))
      expect(finding, JSON.stringify(json.findings)).toBeDefined()
      const keys = [...finding!.matchAll(/"CN=([^"]+) \(key id ([0-9A-F:]+)…\)"/g)]
      expect(keys).toHaveLength(2)
      expect(keys.map((k) => k[1])).toEqual([pki.ca.cn, pki.ca.cn])
      expect(keys[0]![2]).not.toBe(keys[1]![2])
    })
  })

  it('a certificate that does not name the node: a name mismatch on that node only', async () => {
    const victim = cluster.nodes[2]!
    const dir = join(root, 'mismatch')
    const wrongName = await issueCert(pki.ca, dir, 'wrong-name', {cn: 'other.example', sans: ['DNS:other.example'], usage: 'both'})
    await withCert(victim, wrongName, async () => {
      const {code, json} = await check(seedArgs())
      expect(byPort(json, victim).error).toMatch(/certificate does not match the host name or IP address/)
      expect(byPort(json, victim).bus).toMatchObject({ok: true}) // cluster peers check the chain, not the name
      othersOk(json, victim)
      expect(code).toBe(6)
    })
  })

  it('an expired server certificate: "certificate expired" on that node', async () => {
    const victim = cluster.nodes[3]!
    // Valkey 9.1 refuses to load an expired certificate, so load one that expires a few seconds later.
    const soon = await issueCert(pki.ca, join(root, 'expiring'), 'soon', {cn: 'localhost', sans: ['IP:127.0.0.1'], usage: 'both', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 4000)})
    await withCert(victim, soon, async () => {
      await new Promise((r) => setTimeout(r, Math.max(0, 5000)))
      const {code, json} = await check(seedArgs())
      expect(byPort(json, victim).error).toMatch(/^certificate expired on \d{4}-/)
      expect(byPort(json, victim).notAfter).not.toBeNull()
      othersOk(json, victim)
      expect(code).toBe(6)
    })
  }, 30_000)

  it('a SIGSTOPped node fails within the timeout; the others are still checked', async () => {
    const victim = cluster.nodes[4]!
    victim.signal('SIGSTOP')
    try {
      const started = Date.now()
      const {code, json} = await check([...seedArgs(), '--timeout', '1'])
      expect(byPort(json, victim).error).toMatch(/^TCP connected, but no TLS handshake within 1 s$/)
      othersOk(json, victim)
      expect(code).toBe(6)
      expect(Date.now() - started).toBeLessThan(15_000)
    } finally {
      victim.signal('SIGCONT')
    }
  })

  it('--deadline ends the run even when a node outlasts the per-step timeout', async () => {
    const victim = cluster.nodes[4]!
    victim.signal('SIGSTOP')
    try {
      const {code, json} = await check([...seedArgs(), '--timeout', '20', '--deadline', '2'])
      expect(byPort(json, victim).error).toMatch(/not finished within the overall deadline \(2 s\)/)
      othersOk(json, victim)
      expect(code).toBe(6)
    } finally {
      victim.signal('SIGCONT')
    }
  })

  it('--nodes: each node asked for its own role and bus port, so roles and bus checks are kept', async () => {
    const list = cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')
    const {code, json} = await check(['--nodes', list, '--cacert', pki.caCert, '--cert', alice.cert, '--key', alice.key])
    expect(code).toBe(0)
    const roles = json.nodes.map((n) => n.role).sort()
    expect(roles).toEqual(['primary', 'primary', 'primary', 'replica', 'replica', 'replica'])
    for (const node of cluster.nodes) {
      const n = json.nodes.find((x) => x.address === `127.0.0.1:${node.port}`)!
      expect(n.bus, n.address).toMatchObject({port: node.clusterPort, ok: true})
    }
  })

  it('--nodes: a refused port, a port that accepts TCP and never answers, and a plaintext port, next to a good node', async () => {
    const refused = await freePort(false)
    const silent = await silentServer()
    const plainPort = await freePort(false)
    const plain = await startValkey({tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}, config: {port: String(plainPort)}, name: 'check-plain'})
    try {
      const good = cluster.nodes[0]!
      const list = [good.port, refused, silent.port, plainPort].map((p) => `127.0.0.1:${p}`).join(',')
      const started = Date.now()
      const {code, json} = await check(['--nodes', list, '--cacert', pki.caCert, '--cert', alice.cert, '--key', alice.key, '--timeout', '1'])
      const at = (port: number) => json.nodes.find((n) => n.address === `127.0.0.1:${port}`)!
      expect(at(good.port)).toMatchObject({status: 'ok', user: 'alice'})
      expect(at(refused).error).toBe('connection refused')
      expect(at(silent.port).error).toBe('TCP connected, but no TLS handshake within 1 s')
      expect(at(plainPort).error).toBe('this port speaks plaintext RESP, not TLS')
      expect(json.discovery.mode).toBe('list')
      expect(code).toBe(6)
      expect(Date.now() - started).toBeLessThan(15_000)
    } finally {
      silent.close()
      await plain.stop()
    }
  })

  it('a TLS 1.2-only node: checked over TLS 1.2 (where a missing client certificate fails the handshake itself), and the different setting is a finding: exit 9', async () => {
    const victim = cluster.nodes[5]!
    expect(await victim.command('CONFIG', 'SET', 'tls-protocols', 'TLSv1.2')).toBe('OK')
    try {
      const {code, json} = await check(seedArgs())
      expect(byPort(json, victim)).toMatchObject({status: 'ok', protocol: 'TLSv1.2', clientCertRequired: true, user: 'alice'})
      expect(json.findings.join('\n')).toMatch(/different tls-protocols settings: .*"TLSv1\.2" on 127\.0\.0\.1:\d+/)
      expect(json.summary.failed).toBe(0)
      expect(code).toBe(9)
    } finally {
      await victim.command('CONFIG', 'SET', 'tls-protocols', 'TLSv1.2 TLSv1.3')
    }
  })

  it('a stopped node that the cluster still lists is reported as refused; last, as it is for good', async () => {
    const victim = cluster.nodes[5]!
    await victim.stop()
    const {code, json} = await check(seedArgs())
    expect(json.nodes).toHaveLength(6)
    expect(byPort(json, victim).error).toBe('connection refused')
    othersOk(json, victim)
    expect(code).toBe(6)
  })
})

describe('valkey-tls check on a standalone primary with a replica', () => {
  it('finds the replica through INFO replication and checks both', async () => {
    const tls = {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}
    const primary = await startValkey({tls, authClients: 'optional', config: {'tls-replication': 'yes'}, name: 'check-primary'})
    const replica = await startValkey({tls, authClients: 'optional', config: {'tls-replication': 'yes', replicaof: `127.0.0.1 ${primary.port}`}, name: 'check-replica'})
    try {
      let json: ReportJson | undefined
      for (let i = 0; i < 50 && json?.nodes.length !== 2; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100)) // the replica registers with the primary
        json = (await check(['--port', String(primary.port), '--cacert', pki.caCert])).json
      }
      expect(json!.discovery).toMatchObject({mode: 'standalone', method: 'INFO replication'})
      expect(json!.nodes.map((n) => [n.address, n.role, n.status])).toEqual([
        [`127.0.0.1:${primary.port}`, 'primary', 'ok'],
        [`127.0.0.1:${replica.port}`, 'replica', 'ok'],
      ])
      expect(json!.nodes.every((n) => n.clientCertRequired === false && n.bus === null)).toBe(true)
    } finally {
      await Promise.all([replica.stop(), primary.stop()])
    }
  })
})

describe('valkey-tls check: one handshake a node where its own settings say whether it demands a certificate', () => {
  /** A TCP relay to `node` that counts the connections made through it (the node's own counters skip refused handshakes). */
  async function countingRelay(node: ValkeyHandle): Promise<{port: number; connections: () => number; close: () => void}> {
    let connections = 0
    const sockets = new Set<Socket>()
    const relay: Server = createServer((client) => {
      connections++
      const upstream = createConnection({host: '127.0.0.1', port: node.port})
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => sockets.delete(s))
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r))
    const {port} = relay.address() as {port: number}
    return {port, connections: () => connections, close: () => {
      for (const s of sockets) s.destroy()
      relay.close()
    }}
  }

  it('with --cert: one connection when CONFIG GET answers; the anonymous probe only where it does not, or with --anonymous-probe', async () => {
    const local = await makePki(join(root, 'pki-one'), {clients: ['alice', 'bob']})
    const tls = {caCert: local.caCert, cert: local.serverCert, key: local.serverKey}
    const users = {'tls-auth-clients-user': 'CN', user: ['alice on nopass ~* +@all', 'bob on nopass ~* +@all -config', 'default on nopass ~* &* +@all']}
    const demanding = await startValkey({tls, authClients: 'yes', config: users, name: 'check-one-yes'})
    const optional = await startValkey({tls, authClients: 'optional', config: users, name: 'check-one-optional'})
    try {
      const relays = new Map([[demanding, await countingRelay(demanding)], [optional, await countingRelay(optional)]])
      const runs: Array<[ValkeyHandle, 'alice' | 'bob', string[], number, boolean]> = [
        [demanding, 'alice', [], 1, true],
        [optional, 'alice', [], 1, false],
        [demanding, 'alice', ['--anonymous-probe'], 2, true],
        [optional, 'alice', ['--anonymous-probe'], 2, false],
        // bob may not run CONFIG: the settings cannot say, so the node is tried without a certificate.
        [demanding, 'bob', [], 2, true],
        [optional, 'bob', [], 2, false],
      ]
      try {
        for (const [node, who, extra, connections, required] of runs) {
          const relay = relays.get(node)!
          const before = relay.connections()
          const {json} = await check(['--nodes', `127.0.0.1:${relay.port}`, '--cacert', local.caCert, '--cert', local.clients[who]!.cert, '--key', local.clients[who]!.key, ...extra])
          const what = `${who} on tls-auth-clients ${node === demanding ? 'yes' : 'optional'} ${extra.join(' ')}`
          expect(relay.connections() - before, what).toBe(connections)
          expect(json.nodes[0], what).toMatchObject({status: 'ok', error: null, clientCertRequired: required, user: who, role: 'standalone'})
          if (who === 'bob') expect(json.nodes[0]!.notes.join(' '), what).toMatch(/TLS settings not read/)
        }
      } finally {
        for (const relay of relays.values()) relay.close()
      }
    } finally {
      await Promise.all([demanding.stop(), optional.stop()])
    }
  })
})

/**
 * Serves `pair` on `node` for the duration of `body`, then restores the node's own certificate, over
 * one connection opened before the switch (existing connections survive a reload; new ones might not
 * verify the replacement certificate).
 */
async function withCert(node: ValkeyHandle, pair: KeyPair, body: () => Promise<void>): Promise<void> {
  const admin = await TlsRespClient.connect(node.clientOptions())
  try {
    expect(await admin.command('CONFIG', 'SET', 'tls-cert-file', pair.cert, 'tls-key-file', pair.key)).toBe('OK')
    try {
      await body()
    } finally {
      expect(await admin.command('CONFIG', 'SET', 'tls-cert-file', pki.serverCert, 'tls-key-file', pki.serverKey)).toBe('OK')
    }
  } finally {
    admin.close()
  }
}

/** Accepts TCP connections on loopback and never sends a byte. */
async function silentServer(): Promise<{port: number; close: () => void}> {
  const sockets: Socket[] = []
  const server: Server = createServer((s) => sockets.push(s))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  return {port, close: () => {
    for (const s of sockets) s.destroy()
    server.close()
  }}
}
