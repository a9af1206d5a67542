import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {issueCert, makeCa, makeExpiredCert, makePki, type Pki} from '../helpers/pki/openssl.js'
import {hasIpv6Loopback, portIsClosed} from '../helpers/ports.js'
import {parseInfo, RespError, tlsCommand, TlsRespClient} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {parseClusterNodes, startCluster} from '../helpers/valkey/cluster.js'
import {startValkey, type ValkeyHandle} from '../helpers/valkey/server.js'

let pkiDir: string
let pki: Pki

beforeAll(async () => {
  pkiDir = makeTempDir('harness-pki')
  pki = await makePki(pkiDir, {clients: ['alice']})
})

function serverTls() {
  return {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}
}

function versionAtLeast(v: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = v.split('.').map(Number)
  return a > major || (a === major && b >= minor)
}

describe('standalone TLS node', () => {
  let node: ValkeyHandle

  beforeAll(async () => {
    node = await startValkey({tls: serverTls(), authClients: 'optional'})
  })

  it('answers PING over TLS verified with the CA and runs Valkey >= 9.1', async () => {
    expect(node.host).toBe('127.0.0.1')
    expect(await node.command('PING')).toBe('PONG')
    const info = parseInfo(String(await node.command('INFO', 'server')))
    expect(info.valkey_version).toMatch(/^\d+\.\d+\.\d+/)
    expect(versionAtLeast(info.valkey_version!, 9, 1)).toBe(true)
    // With `port 0`, INFO's tcp_port shows the TLS port; the plain port stays disabled.
    expect(Number(info.tcp_port)).toBe(node.port)
    expect(await node.command('CONFIG', 'GET', 'port')).toEqual(['port', '0'])
    expect(Number(info.process_id)).toBe(node.pid)
  })

  it('listens on ::1 as well when the machine has IPv6 loopback', async () => {
    if (!(await hasIpv6Loopback())) return
    expect(node.config().bind).toBe('127.0.0.1 ::1')
    expect(await tlsCommand(node.clientOptions({host: '::1'}), 'PING')).toBe('PONG')
  })

  it('speaks TLS only: a client certificate is optional, the CA check is not', async () => {
    // No client certificate: accepted with tls-auth-clients optional.
    const anon = await TlsRespClient.connect(node.clientOptions({cert: undefined, key: undefined}))
    try {
      expect(await anon.command('PING')).toBe('PONG')
    } finally {
      anon.close()
    }
    // A client trusting another CA must reject the server.
    const other = await makeCa(join(pkiDir, 'other'))
    await expect(TlsRespClient.connect(node.clientOptions({ca: other.cert}))).rejects.toThrow(/certificate/i)
  })

  it('valkey-cli over TLS works through the handle', async () => {
    expect((await node.cli(['PING'])).trim()).toBe('PONG')
    const out = await node.cli(['CONFIG', 'GET', 'tls-auth-clients'])
    expect(out).toMatch(/optional/)
  })

  it('survives SIGSTOP/SIGCONT through signal()', async () => {
    node.signal('SIGSTOP')
    await expect(
      TlsRespClient.connect(node.clientOptions({timeoutMs: 500})).then(async (c) => {
        try {
          return await c.send(['PING'], 500)
        } finally {
          c.close()
        }
      }),
    ).rejects.toThrow()
    node.signal('SIGCONT')
    expect(await node.command('PING')).toBe('PONG')
  })
})

describe('tls-auth-clients yes', () => {
  let node: ValkeyHandle

  beforeAll(async () => {
    node = await startValkey({
      tls: {...serverTls(), clientCert: pki.clients.alice!.cert, clientKey: pki.clients.alice!.key},
      authClients: 'yes',
    })
  })

  it('accepts a client presenting a certificate from the CA', async () => {
    expect(await node.command('PING')).toBe('PONG')
  })

  it('refuses a client without a certificate (TLS 1.3: on first read)', async () => {
    let outcome: string
    try {
      const c = await TlsRespClient.connect(node.clientOptions({cert: undefined, key: undefined}))
      try {
        const r = await c.send(['PING'], 5000)
        outcome = r instanceof RespError ? `resp-error ${r.message}` : `reply ${JSON.stringify(r)}`
      } catch (e) {
        outcome = `rejected ${(e as Error).message}`
      } finally {
        c.close()
      }
    } catch (e) {
      outcome = `rejected ${(e as Error).message}`
    }
    expect(outcome).toMatch(/^rejected/)
    expect(outcome).not.toMatch(/timeout/)
  })

  it('refuses an expired client certificate and one from another CA', async () => {
    const expired = await makeExpiredCert(pki.ca, pkiDir, 'expired-client', {usage: 'client'})
    const otherCa = await makeCa(join(pkiDir, 'other2'))
    const foreign = await issueCert(otherCa, join(pkiDir, 'other2'), 'foreign-client', {usage: 'client'})
    for (const kp of [expired, foreign]) {
      let ok = false
      try {
        const c = await TlsRespClient.connect(node.clientOptions({cert: kp.cert, key: kp.key}))
        try {
          ok = (await c.send(['PING'], 5000)) === 'PONG'
        } catch {
          ok = false
        } finally {
          c.close()
        }
      } catch {
        ok = false
      }
      expect(ok, kp.cert).toBe(false)
    }
  })
})

describe('stop()', () => {
  it('frees the port: connections are refused afterwards', async () => {
    const node = await startValkey({tls: serverTls()})
    expect(await portIsClosed(node.port)).toBe(false)
    await node.stop()
    expect(node.exitStatus()).toBeDefined()
    expect(await portIsClosed(node.port)).toBe(true)
    expect(() => process.kill(node.pid, 0)).toThrow()
  })

  it('kills a SIGSTOPped server', async () => {
    const node = await startValkey({tls: serverTls()})
    node.signal('SIGSTOP')
    await node.stop(1000)
    expect(await portIsClosed(node.port)).toBe(true)
    expect(() => process.kill(node.pid, 0)).toThrow()
  })

  it('surfaces the server log when the server cannot start', async () => {
    await expect(
      startValkey({tls: {...serverTls(), cert: join(pkiDir, 'does-not-exist.crt')}, readyTimeoutMs: 5000}),
    ).rejects.toThrow(/exited early[\s\S]*(does-not-exist|Failed to configure TLS)/)
  })
})

describe('cluster over TLS', () => {
  it('3 primaries + 1 replica each reach cluster_state:ok with 6 nodes', async () => {
    const cluster = await startCluster({primaries: 3, replicasPerPrimary: 1, tls: serverTls()})
    try {
      expect(cluster.nodes).toHaveLength(6)
      for (const n of cluster.nodes) {
        const info = parseInfo(String(await n.command('CLUSTER', 'INFO')))
        expect(info.cluster_state).toBe('ok')
        expect(info.cluster_known_nodes).toBe('6')
        expect(info.cluster_slots_assigned).toBe('16384')
      }
      const nodes = parseClusterNodes(String(await cluster.nodes[0]!.command('CLUSTER', 'NODES')))
      expect(nodes).toHaveLength(6)
      expect(nodes.filter((l) => l.flags.includes('master'))).toHaveLength(3)
      expect(nodes.filter((l) => l.flags.includes('slave'))).toHaveLength(3)
      for (const l of nodes) expect(l.address).toMatch(/^127\.0\.0\.1:\d+@\d+/)
      const shards = (await cluster.nodes[0]!.command('CLUSTER', 'SHARDS')) as unknown[]
      expect(shards).toHaveLength(3)
      const shardNodes = shards.flatMap((sh) => {
        const fields = sh as unknown[]
        return fields[fields.indexOf('nodes') + 1] as unknown[]
      })
      expect(shardNodes).toHaveLength(6)
      // Replication runs over TLS too.
      const replica = cluster.nodes.find((n) => nodes.some((l) => l.flags.includes('slave') && l.address.startsWith(`127.0.0.1:${n.port}@`)))!
      const rinfo = parseInfo(String(await replica.command('INFO', 'replication')))
      expect(rinfo.role).toBe('slave')
      await expect.poll(async () => parseInfo(String(await replica.command('INFO', 'replication'))).master_link_status, {timeout: 15_000}).toBe('up')
    } finally {
      await cluster.stop()
    }
    for (const n of cluster.nodes) expect(await portIsClosed(n.port)).toBe(true)
  })
})
