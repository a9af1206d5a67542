/**
 * `reload` against single real nodes: Valkey 9.1 with a passphrase-protected key, a client certificate
 * and a CA bundle (changes INFO tls reveals), tls-auto-reload-interval, --dry-run / --force /
 * --read-files never / --nodes; and Redis 7, which loads an expired certificate when told to.
 */
import {X509Certificate} from 'node:crypto'
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {connect} from 'node:tls'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {DEFAULT_SERVER_SANS, encryptKey, issueCert, type KeyPair, makeCa, makeExpiredCert, makePki, type Pki} from '../helpers/pki/openssl.js'
import {freePort} from '../helpers/ports.js'
import {ensureRedis7, type Redis7Handle, startRedis7} from '../helpers/redis7.js'
import {parseInfo, TlsRespClient} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-reload-node-it')

const PASS = 'pass-Phr4se-never-printed'
const SERVER = {cn: 'localhost', sans: DEFAULT_SERVER_SANS, usage: 'both' as const}

interface NodeJson {
  address: string
  action: string
  reason: string
  before: {fingerprint256: string} | null
  after: {fingerprint256: string} | null
  filesReadHere: boolean
  problems: Array<{code: string; message: string}>
  notes: string[]
  warnings: string[]
  autoReloadInterval: number | null
}

let pki: Pki
let admin: KeyPair
const files = {cert: join(root, 'live', 'server.crt'), key: join(root, 'live', 'server.key'), ca: join(root, 'live', 'ca.crt'), clientCert: join(root, 'live', 'client.crt'), clientKey: join(root, 'live', 'client.key')}

const fingerprintOf = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256
const serialOf = (path: string) => new X509Certificate(readFileSync(path)).serialNumber.replace(/^0+/, '')
/** INFO tls pads serials with leading zeros; Node does not always. */
const infoSerial = async (node: ValkeyHandle, field: string) => parseInfo(String(await node.command('INFO', 'tls')))[field]!.replace(/^0+/, '')

async function installServer(pair: KeyPair, pass = PASS) {
  copyFileSync(pair.cert, files.cert)
  await encryptKey(pair.key, files.key, pass)
}

function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: '127.0.0.1', port, rejectUnauthorized: false, cert: readFileSync(admin.cert), key: readFileSync(admin.key)})
    socket.once('secureConnect', () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256)
      socket.destroy()
    })
    socket.once('error', reject)
  })
}

async function configSets(command: (...args: string[]) => Promise<unknown>): Promise<number> {
  const stats = parseInfo(String(await command('INFO', 'commandstats')))['cmdstat_config|set']
  return Number(/calls=(\d+)/.exec(stats ?? '')?.[1] ?? 0)
}

async function reload(args: string[], ca = pki.caCert) {
  const result = await runCli(['reload', ...args, '--cacert', ca, '--cert', admin.cert, '--key', admin.key, '--lock-file', join(root, 'lock'), '--json'])
  expect(result.stdout + result.stderr).not.toContain(PASS)
  return {code: result.code, node: (JSON.parse(result.stdout) as {nodes: NodeJson[]}).nodes[0]!, json: JSON.parse(result.stdout) as {nodes: NodeJson[]; status: string}}
}

describe('valkey-tls reload, one Valkey 9.1 node (encrypted key, client certificate, CA file)', () => {
  let node: ValkeyHandle
  const sets = () => configSets((...a) => node.command(...a))
  const args = () => ['--port', String(node.port)]

  beforeAll(async () => {
    pki = await makePki(join(root, 'pki'), {clients: ['admin']})
    admin = pki.clients.admin!
    mkdirSync(join(root, 'live'))
    await installServer({cert: pki.serverCert, key: pki.serverKey})
    copyFileSync(pki.caCert, files.ca)
    copyFileSync(admin.cert, files.clientCert)
    copyFileSync(admin.key, files.clientKey)
    node = await startValkey({
      tls: {caCert: files.ca, cert: files.cert, key: files.key, clientCert: admin.cert, clientKey: admin.key},
      authClients: 'yes',
      config: {'tls-key-file-pass': PASS, 'tls-client-cert-file': files.clientCert, 'tls-client-key-file': files.clientKey},
      name: 'reload-node',
    })
  }, 60_000)

  it('unchanged: nothing sent; text output is one line and never shows the passphrase', async () => {
    const before = await sets()
    const text = await runCli(['reload', ...args(), '--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', join(root, 'lock')])
    expect([text.code, text.stdout.trim(), text.stderr]).toEqual([0, 'valkey-tls reload: 1 node unchanged', ''])
    const {code, node: n} = await reload(args())
    expect([code, n.action, n.filesReadHere]).toEqual([0, 'unchanged', true])
    expect(await sets()).toBe(before)
  })

  it('--dry-run reports would-reload and changes nothing; the real run reloads a new encrypted key with the same passphrase', async () => {
    const renewed = await issueCert(pki.ca, join(root, 'pki'), 'renewed-1', SERVER)
    await installServer(renewed)
    const before = await sets()
    const served = await servedFingerprint(node.port)
    const dry = await reload([...args(), '--dry-run'])
    expect([dry.code, dry.node.action]).toEqual([0, 'would-reload'])
    expect(await sets()).toBe(before)
    expect(await servedFingerprint(node.port)).toBe(served)
    const real = await reload(args())
    expect([real.code, real.node.action]).toEqual([0, 'reloaded'])
    expect(real.node.after!.fingerprint256).toBe(fingerprintOf(files.cert))
    expect(await servedFingerprint(node.port)).toBe(fingerprintOf(files.cert))
    expect(await sets()).toBe(before + 1)
  })

  it('a key encrypted with another passphrase: refused ("wrong passphrase"), nothing sent', async () => {
    const renewed = await issueCert(pki.ca, join(root, 'pki'), 'renewed-2', SERVER)
    const keep = {cert: readFileSync(files.cert), key: readFileSync(files.key)}
    await installServer(renewed, 'another-passphrase-xyz')
    try {
      const before = await sets()
      const {code, node: n} = await reload(args())
      expect([code, n.action]).toEqual([10, 'refused'])
      expect(n.problems.map((p) => p.code)).toEqual(['key-unreadable'])
      expect(n.reason).toContain('wrong passphrase')
      expect(JSON.stringify(n)).not.toContain('another-passphrase-xyz')
      expect(await sets()).toBe(before)
    } finally {
      writeFileSync(files.cert, keep.cert)
      writeFileSync(files.key, keep.key)
    }
  })

  it('only tls-client-cert-file changed: seen through INFO tls, reloaded', async () => {
    const client2 = await issueCert(pki.ca, join(root, 'pki'), 'client-2', {cn: 'replication', usage: 'client'})
    copyFileSync(client2.cert, files.clientCert)
    copyFileSync(client2.key, files.clientKey)
    const before = await sets()
    const {code, node: n} = await reload(args())
    expect([code, n.action]).toEqual([0, 'reloaded'])
    expect(n.reason).toContain('tls-client-cert-file holds a different certificate than the one loaded')
    expect(await infoSerial(node, 'tls_client_cert_serial')).toBe(serialOf(client2.cert))
    expect(await sets()).toBe(before + 1)
    expect((await reload(args())).node.action).toBe('unchanged')
  })

  it('a CA bundle that gained a CA expiring first: seen through INFO tls, reloaded', async () => {
    const extra = await makeCa(join(root, 'extra-ca'), {cn: 'Extra CA', days: 30})
    writeFileSync(files.ca, readFileSync(pki.caCert, 'utf8') + readFileSync(extra.cert, 'utf8'))
    const {code, node: n} = await reload(args())
    expect([code, n.action]).toEqual([0, 'reloaded'])
    expect(n.reason).toContain('the CA files hold different CAs than the ones loaded')
    expect(await infoSerial(node, 'tls_ca_cert_serial')).toBe(serialOf(extra.cert))
    expect((await reload(args())).node.action).toBe('unchanged')
  })

  it('--force reloads an unchanged node; files not read here: reloaded only when the served certificate is due, or with --force', async () => {
    const before = await sets()
    const forced = await reload([...args(), '--force'])
    expect([forced.code, forced.node.action, forced.node.reason]).toEqual([0, 'reloaded', '--force'])
    const notDue = await reload([...args(), '--read-files', 'never'])
    expect([notDue.code, notDue.node.action, notDue.node.filesReadHere]).toEqual([0, 'unchanged', false])
    expect(notDue.node.notes.join('\n')).toMatch(/not read here.*could not be compared.*not due for renewal/)
    expect(await sets()).toBe(before + 1)
    const blind = await reload([...args(), '--read-files', 'never', '--force'])
    expect([blind.code, blind.node.action, blind.node.filesReadHere]).toEqual([0, 'reloaded', false])
    expect(blind.node.notes.join('\n')).toMatch(/not read here.*relying on the server's own checks[\s\S]*serves the same certificate as before/)
    // Due (within --min-days): reloaded to pick up renewed files; the same certificate came back, so renew it (exit 9).
    const due = await reload([...args(), '--read-files', 'never', '--min-days', '400'])
    expect([due.code, due.node.action]).toEqual([9, 'reloaded'])
    expect(due.node.reason).toMatch(/cannot be read here, and the certificate it serves expires on .* within --min-days 400/)
    expect(due.node.warnings.join('\n')).toMatch(/same certificate as before.*within --min-days 400/)
    expect(await sets()).toBe(before + 3)
  })

  it('tls-auto-reload-interval set: said in the one line and in the JSON', async () => {
    await node.command('CONFIG', 'SET', 'tls-auto-reload-interval', '3600')
    try {
      const text = await runCli(['reload', ...args(), '--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', join(root, 'lock')])
      expect(text.stdout.trim()).toBe('valkey-tls reload: 1 node unchanged; all also re-read their files by themselves (tls-auto-reload-interval)')
      const {node: n} = await reload(args())
      expect(n.autoReloadInterval).toBe(3600)
      expect(n.notes).toContain('the node also re-reads its TLS files by itself every 3600 s (tls-auto-reload-interval)')
    } finally {
      await node.command('CONFIG', 'SET', 'tls-auto-reload-interval', '0')
    }
  })

  it('nothing newer on disk, but the served certificate expires within --min-days: exit 9, said even with --quiet', async () => {
    const text = await runCli(['reload', ...args(), '--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', join(root, 'lock'), '--min-days', '400', '--quiet'])
    expect(text.code).toBe(9)
    expect(text.stdout).toMatch(/^unchanged .*\n {4}warning: .*within --min-days 400, and it is the certificate being served: renew it\n/)
  })

  it('--nodes: each listed node in order; a closed port is a failed line, exit 6', async () => {
    const closed = await freePort(false)
    const result = await runCli(['reload', '--nodes', `127.0.0.1:${node.port},127.0.0.1:${closed}`, '--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', join(root, 'lock'), '--json'])
    expect(result.code).toBe(6)
    const json = JSON.parse(result.stdout) as {nodes: NodeJson[]}
    expect(json.nodes.map((n) => [n.address, n.action])).toEqual([[`127.0.0.1:${node.port}`, 'unchanged'], [`127.0.0.1:${closed}`, 'failed']])
    expect(json.nodes[1]!.reason).toContain('connection refused')
  })

  it.each([
    [['--nodes', '127.0.0.1:1', '--cluster'], /--cluster|--nodes/],
    [['--parallel', '0'], /--parallel/],
    [['--read-files', 'sometimes'], /--read-files/],
  ])('usage error %j: exit 2, one line', async (extra, message) => {
    const result = await runCli(['reload', ...extra])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
  })
})

describe('valkey-tls reload, Redis 7 (loads an expired certificate when told to)', () => {
  let redis: Redis7Handle
  let live: KeyPair
  let admin7: TlsRespClient
  // Opened while the certificate is valid: existing connections survive a reload, so it can count afterwards.
  const sets = () => configSets((...a) => admin7.command(...a) as Promise<unknown>)

  beforeAll(async () => {
    await ensureRedis7()
    pki ??= await makePki(join(root, 'pki7'), {clients: ['admin']})
    admin ??= pki.clients.admin!
    mkdirSync(join(root, 'redis7'))
    live = {cert: join(root, 'redis7', 'server.crt'), key: join(root, 'redis7', 'server.key')}
    copyFileSync(pki.serverCert, live.cert)
    copyFileSync(pki.serverKey, live.key)
    redis = await startRedis7({caCert: pki.caCert, cert: live.cert, key: live.key})
    admin7 = await TlsRespClient.connect(redis.clientOptions())
  }, 120_000)
  afterAll(() => admin7?.close())

  it('unchanged is seen without INFO tls; an expired certificate on disk is refused; unread, the reload is caught afterwards', async () => {
    const args = ['--port', String(redis.port)]
    expect((await reload(args)).node.action).toBe('unchanged')
    const expired = await makeExpiredCert(pki.ca, join(root, 'redis7'), 'expired', SERVER)
    copyFileSync(expired.cert, live.cert)
    copyFileSync(expired.key, live.key)
    const served = await servedFingerprint(redis.port)
    const before = await sets()
    const refused = await reload(args)
    expect([refused.code, refused.node.action, refused.node.problems.map((p) => p.code)]).toEqual([10, 'refused', ['expired']])
    expect(await sets()).toBe(before)
    expect(await servedFingerprint(redis.port)).toBe(served)
    // Not validated here: Redis 7 accepts the expired certificate, and the handshake after the reload says so.
    const blind = await reload([...args, '--read-files', 'never', '--force'])
    expect([blind.code, blind.node.action]).toEqual([6, 'failed'])
    expect(blind.node.reason).toMatch(/after the reload the node serves a certificate valid from .* not valid for --min-days 1/)
    expect(blind.node.after!.fingerprint256).toBe(fingerprintOf(expired.cert))
    expect(await sets()).toBe(before + 1)
  })
})
