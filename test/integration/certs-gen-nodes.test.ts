/**
 * certs gen's new outputs in real Valkey 9.1: each --server certificate loaded into its own node (and
 * used by that node as the client certificate of its replication link), --not-after certificates, and the
 * key and certificate inside a --p12 file.
 */
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {connect, type PeerCertificate} from 'node:tls'

import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {parseInfo, tlsCommand} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup} from '../helpers/valkey/server.js'

useValkeyCleanup('each')
const root = makeTempDir('vtls-gen-nodes')

interface GenJson {
  servers: {name: string; cert: string; key: string; config: string[]}[]
  files: {path: string; kind: string; owner: string; fingerprint256?: string; notAfter?: string}[]
}

async function gen(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{dir: string; json: GenJson}> {
  const dir = join(root, name)
  const result = await runCli(['certs', 'gen', '--out', dir, '--json', ...args], {timeoutMs: 60_000, env})
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  return {dir, json: JSON.parse(result.stdout)}
}

/** The certificate a node serves, verified against `ca` for `servername` (a host name) or 127.0.0.1. */
function served(port: number, ca: string, servername?: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: '127.0.0.1', port, ca: readFileSync(ca), servername, rejectUnauthorized: true}, () => {
      resolve(socket.getPeerCertificate())
      socket.destroy()
    })
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timeout')))
    socket.on('error', reject)
  })
}

/** The value of a directive in the printed lines for one node. */
const directive = (lines: string[], key: string) => lines.find((l) => l.startsWith(`${key} `))!.slice(key.length + 1)

describe('certs gen --server in real Valkey 9.1', () => {
  it('each node loads its own certificate from the lines printed for it, serves it under its own name, and replicates over TLS with it', async () => {
    const {dir, json} = await gen('nodes', ['--server', 'node1=node1.test,10.0.0.1', '--server', 'node2=node2.test', '--server', 'node3'])
    const nodes = []
    for (const node of json.servers) {
      const tls = {caCert: directive(node.config, 'tls-ca-cert-file'), cert: directive(node.config, 'tls-cert-file'), key: directive(node.config, 'tls-key-file'),
        clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key')}
      expect(tls.cert).toBe(join(dir, `${node.name}.crt`))
      nodes.push({node, handle: await startValkey({tls, authClients: 'yes', config: {'tls-replication': 'yes'}, name: `gen-${node.name}`})})
    }
    const fingerprints = new Set<string>()
    for (const {node, handle} of nodes) {
      const peer = await served(handle.port, join(dir, 'ca.crt'), node.name === 'node3' ? 'node3' : `${node.name}.test`)
      expect(peer.subject.CN).toBe(node.name)
      expect(peer.fingerprint256).toBe(json.files.find((f) => f.owner === node.name && f.kind === 'cert')!.fingerprint256)
      fingerprints.add(peer.fingerprint256)
    }
    expect(fingerprints.size).toBe(3)
    // node2's certificate does not name node1: a client checking names refuses it there.
    await expect(served(nodes[1]!.handle.port, join(dir, 'ca.crt'), 'node1.test')).rejects.toThrow(/altnames|node1\.test/i)

    // A replica presents its own tls-cert-file to its primary: node2 replicates from node1, which demands a certificate.
    const [primary, replica] = [nodes[0]!.handle, nodes[1]!.handle]
    expect(await replica.command('REPLICAOF', '127.0.0.1', String(primary.port))).toBe('OK')
    await expect.poll(async () => parseInfo(String(await replica.command('INFO', 'replication'))).master_link_status, {timeout: 20_000}).toBe('up')
    expect(await tlsCommand({port: nodes[2]!.handle.port, ca: join(dir, 'ca.crt'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key')}, 'PING')).toBe('PONG')
  }, 120_000)
})

describe('certs gen --not-after in real Valkey 9.1', () => {
  it.each([['a duration', '2h'], ['a date-time', new Date(Date.now() + 3 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z')]])('%s: the node loads the certificate and reports its end in INFO tls', async (_, notAfter) => {
    const {dir, json} = await gen(`na-${notAfter.length}`, ['--not-after', notAfter])
    const tls = {caCert: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key')}
    const server = await startValkey({tls, authClients: 'yes', name: 'gen-na'})
    const info = parseInfo(String(await server.command('INFO', 'tls')))
    const end = Date.parse(json.files.find((f) => f.owner === 'server' && f.kind === 'cert')!.notAfter!)
    const expectedSeconds = (end - Date.now()) / 1000
    expect(Math.abs(Number(info.tls_server_cert_expires_in_seconds) - expectedSeconds)).toBeLessThan(60)
    if (notAfter === '2h') expect(expectedSeconds).toBeLessThanOrEqual(2 * 3600)
    expect(new Date((await served(server.port, tls.caCert)).valid_to).getTime()).toBe(Math.floor(end / 1000) * 1000)
  }, 90_000)
})

describe('certs gen --p12 in real Valkey 9.1', () => {
  it('the key and certificate taken out of alice.p12 log in as alice', async () => {
    const password = 'alice p12'
    const {dir, json} = await gen('p12', ['--client', 'alice', '--p12'], {VALKEY_TLS_P12_PASSWORD: password})
    expect(json.files.some((f) => f.path === join(dir, 'alice.p12'))).toBe(true)
    const env = {...process.env, PW: password}
    const cert = join(dir, 'from-p12.crt')
    const key = join(dir, 'from-p12.key')
    writeFileSync(cert, execFileSync('openssl', ['pkcs12', '-in', join(dir, 'alice.p12'), '-clcerts', '-nokeys', '-passin', 'env:PW'], {env}))
    writeFileSync(key, execFileSync('openssl', ['pkcs12', '-in', join(dir, 'alice.p12'), '-nocerts', '-nodes', '-passin', 'env:PW'], {env}), {mode: 0o600})
    const tls = {caCert: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key')}
    const server = await startValkey({tls, authClients: 'yes', config: {'tls-auth-clients-user': 'CN'}, name: 'gen-p12'})
    expect(await server.command('ACL', 'SETUSER', 'alice', 'on', 'resetpass', '~*', '+@all')).toBe('OK')
    expect(await tlsCommand({port: server.port, ca: tls.caCert, cert, key}, 'ACL', 'WHOAMI')).toBe('alice')
  }, 90_000)
})
