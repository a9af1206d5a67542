/**
 * Hardening against real Valkey 9.1 nodes:
 * - a node's tls-ca-cert-dir holding symlinks to a FIFO and to /dev/zero (beside its real CA): reload reads
 *   the folder on the node's behalf, skips them as OpenSSL does, and ends at once; a FIFO under a hashed
 *   name (which OpenSSL itself opens, and blocks on) still cannot keep the run past its bounds;
 * - a CA added to a primary's tls-ca-cert-dir without `openssl rehash`: the node does not trust it, and neither
 *   does reload's rehearsal of a replica's leaf from it (loaded anyway, the replica's link stays down);
 * - DEBUG=* runs of check, reload and whoami against a node with a password (requirepass, an ACL user) and
 *   an encrypted key with tls-key-file-pass: no password or passphrase in any output;
 * - exit codes: wrong or missing password is 7 in check, reload and whoami; NOPERM names the user a client
 *   certificate logged in as; --user without a password off a terminal is a usage error.
 */
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, constants, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {type CliResult, expectOneLineError, runCli} from '../helpers/cli.js'
import {encryptKey, issueCert, type KeyPair, makeCa, makePki, type Pki} from '../helpers/pki/openssl.js'
import {freePort} from '../helpers/ports.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-hardening')
const lockFile = join(root, 'reload.lock')

/** Every secret the runs below hold; none may appear in any output. */
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`
const OPS_PASSWORD = `ops-${randomBytes(9).toString('hex')}`
const PASSPHRASE = `kp-${randomBytes(9).toString('hex')}`
const WRONG = `wrong-${randomBytes(9).toString('hex')}`
const SECRETS = {PASSWORD, OPS_PASSWORD, PASSPHRASE, WRONG}

/** No password from the test runner's own environment. */
const NO_PASSWORD = {VALKEY_TLS_PASSWORD: '', VALKEYCLI_AUTH: '', REDISCLI_AUTH: '', VALKEY_TLS_KEY_PASSPHRASE: '', DEBUG: ''}

let pki: Pki
let admin: KeyPair
let monitor: KeyPair
let alice: KeyPair
/** requirepass, an ACL user with a password, users mapped from client certificates, an encrypted key. */
let secretNode: ValkeyHandle
let encryptedKey: string

async function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult & {ms: number}> {
  const start = performance.now()
  const result = await runCli(args, {env: {...NO_PASSWORD, ...env}, timeoutMs})
  return {...result, ms: performance.now() - start}
}

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['admin', 'monitor', 'alice']})
  admin = pki.clients.admin!
  monitor = pki.clients.monitor!
  alice = pki.clients.alice!
  encryptedKey = await encryptKey(pki.serverKey, join(root, 'server-encrypted.key'), PASSPHRASE)
  secretNode = await startValkey({
    name: 'secrets',
    // The harness's own readiness probe logs in by certificate (CN admin), so needs no password.
    tls: {caCert: pki.caCert, cert: pki.serverCert, key: encryptedKey, clientCert: admin.cert, clientKey: admin.key},
    authClients: 'optional',
    config: {
      'tls-key-file-pass': PASSPHRASE,
      'tls-auth-clients-user': 'CN',
      requirepass: PASSWORD,
      user: ['admin on nopass ~* &* +@all', `ops on >${OPS_PASSWORD} ~* &* +@all`, 'monitor on nopass ~* &* +@all -config', 'alice on nopass ~* +@all'],
    },
  })
}, 120_000)

describe('DEBUG=* never shows a password or a key passphrase', () => {
  const runs = (): Array<{label: string; args: string[]; env: NodeJS.ProcessEnv}> => {
    const connect = ['--port', String(secretNode.port), '--cacert', pki.caCert]
    const asDefault = {VALKEY_TLS_PASSWORD: PASSWORD}
    const asOps = {VALKEY_TLS_PASSWORD: OPS_PASSWORD}
    const base = [
      {label: 'check (requirepass)', args: ['check', ...connect], env: asDefault},
      {label: 'check --user ops', args: ['check', ...connect, '--user', 'ops'], env: asOps},
      {label: 'check (VALKEYCLI_AUTH)', args: ['check', ...connect], env: {VALKEYCLI_AUTH: PASSWORD}},
      {label: 'check (REDISCLI_AUTH)', args: ['check', ...connect], env: {REDISCLI_AUTH: PASSWORD}},
      {label: 'check --format prometheus', args: ['check', ...connect, '--format', 'prometheus'], env: asDefault},
      {label: 'check (wrong password)', args: ['check', ...connect], env: {VALKEY_TLS_PASSWORD: WRONG}},
      {label: 'reload (unchanged)', args: ['reload', ...connect, '--lock-file', lockFile], env: asDefault},
      {label: 'reload --force (the encrypted key opened with its passphrase, loaded)', args: ['reload', ...connect, '--lock-file', lockFile, '--force'], env: asDefault},
      {label: 'reload --user ops --dry-run --force', args: ['reload', ...connect, '--lock-file', lockFile, '--user', 'ops', '--dry-run', '--force'], env: asOps},
      {label: 'reload (wrong password)', args: ['reload', ...connect, '--lock-file', lockFile], env: {VALKEY_TLS_PASSWORD: WRONG}},
      {label: 'whoami', args: ['whoami', alice.cert, ...connect], env: asDefault},
      {label: 'whoami --verify-key', args: ['whoami', alice.cert, '--verify-key', alice.key, ...connect], env: asDefault},
      {label: 'whoami --user ops', args: ['whoami', alice.cert, ...connect, '--user', 'ops'], env: asOps},
      {label: 'whoami (wrong password)', args: ['whoami', alice.cert, ...connect, '--user', 'ops'], env: {VALKEY_TLS_PASSWORD: WRONG}},
      {label: 'certs verify (encrypted key, VALKEY_TLS_KEY_PASSPHRASE)', args: ['certs', 'verify', pki.serverCert, '--key', encryptedKey, '--cacert', pki.caCert], env: {VALKEY_TLS_KEY_PASSPHRASE: PASSPHRASE}},
    ]
    return base.flatMap((r) => (r.args.includes('--format') ? [r] : [r, {...r, label: `${r.label} --json`, args: [...r.args, '--json']}]))
      .map((r) => ({...r, env: {...r.env, DEBUG: '*'}}))
  }

  it('check, reload, whoami and certs verify, text and --json, right and wrong passwords', async () => {
    const leaks: string[] = []
    const exits: string[] = []
    for (const {label, args, env} of runs()) {
      const result = await cli(args, env)
      const output = result.stdout + result.stderr
      exits.push(`${label}: ${result.code}`)
      expect(result.stderr, `${label}: DEBUG=* should print debug lines`).toMatch(/oclif/)
      for (const [name, secret] of Object.entries(SECRETS)) if (output.includes(secret)) leaks.push(`${label} (exit ${result.code}) shows ${name}: …${output.slice(Math.max(0, output.indexOf(secret) - 100), output.indexOf(secret) + 40)}…`)
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(output)) leaks.push(`${label} shows a private key`)
    }
    console.log(`DEBUG=* runs: ${exits.join('; ')}`)
    expect(leaks, leaks.join('\n')).toEqual([])
    // The runs did what they say: the reload went through with the encrypted key, the wrong password failed.
    expect(exits).toContain('reload --force (the encrypted key opened with its passphrase, loaded): 0')
    expect(exits).toContain('check (wrong password): 7')
  }, 300_000)
})

describe('exit codes and messages for credentials', () => {
  const connect = () => ['--port', String(secretNode.port), '--cacert', pki.caCert]

  it('a wrong password (WRONGPASS) is exit 7 in check, reload and whoami', async () => {
    const env = {VALKEY_TLS_PASSWORD: WRONG}
    const check = await cli(['check', ...connect(), '--json'], env)
    expect(check.code).toBe(7)
    const report = JSON.parse(check.stdout)
    expect(report.discovery.error).toMatch(/WRONGPASS/)
    expect(report.nodes[0].error).toMatch(/AUTH failed: wrong user name or password \(WRONGPASS\)/)
    const reload = await cli(['reload', ...connect(), '--lock-file', lockFile, '--json'], env)
    expect(reload.code).toBe(7)
    expect(JSON.parse(reload.stdout).nodes[0]).toMatchObject({action: 'failed', reason: expect.stringMatching(/WRONGPASS/)})
    expectOneLineError(await cli(['whoami', alice.cert, ...connect()], env), 7, /wrong user name or password \(WRONGPASS\)/)
    // A user's wrong password too.
    const ops = await cli(['check', ...connect(), '--user', 'ops', '--json'], env)
    expect(ops.code).toBe(7)
  })

  it('no password for a node that needs one (NOAUTH) is exit 7 in check, reload and whoami', async () => {
    const check = await cli(['check', ...connect(), '--json'])
    expect(check.code).toBe(7)
    expect(JSON.parse(check.stdout).discovery.error).toMatch(/NOAUTH/)
    const reload = await cli(['reload', ...connect(), '--lock-file', lockFile, '--json'])
    expect(reload.code).toBe(7)
    expectOneLineError(await cli(['whoami', alice.cert, ...connect()]), 7, /requires a password \(NOAUTH\)/)
  })

  it('NOPERM names the user the client certificate logged in as (CN monitor), not "default"', async () => {
    const asMonitor = [...connect(), '--cert', monitor.cert, '--key', monitor.key]
    const reload = await cli(['reload', ...asMonitor, '--lock-file', lockFile])
    expect(reload.code).toBe(7)
    expect(reload.stdout + reload.stderr).toMatch(/user "monitor" may not run CONFIG GET \(NOPERM\)/)
    expect(reload.stdout + reload.stderr).not.toMatch(/"default"/)
    const whoami = await cli(['whoami', alice.cert, ...asMonitor])
    expectOneLineError(whoami, 7, /user "monitor" may not run CONFIG GET \(NOPERM\)/)
    // check goes on without the settings; its note must not blame "default" either, and names the user it saw.
    const check = await cli(['check', ...asMonitor, '--json'])
    const node = JSON.parse(check.stdout).nodes[0]
    expect(node.user).toBe('monitor')
    expect(node.notes.join(' ')).toMatch(/NOPERM/)
    expect(node.notes.join(' ')).not.toMatch(/"default"/)
    expect(node.notes.join(' ')).toMatch(/"monitor"/)
  })

  it('--user without a password off a terminal is a usage error (exit 2, one line) in check, reload and whoami', async () => {
    const closed = ['--port', String(await freePort()), '--cacert', pki.caCert, '--user', 'x']
    for (const args of [['check', ...closed], ['reload', ...closed, '--lock-file', lockFile], ['whoami', alice.cert, ...closed]]) {
      const result = await cli(args)
      expectOneLineError(result, 2, /--user x needs a password: set VALKEY_TLS_PASSWORD/)
      const json = await cli([...args, '--json'])
      expect(json.code).toBe(2)
      expect(JSON.parse(json.stdout)).toMatchObject({error: {code: 'usage', exitCode: 2}})
    }
  })
})

describe('reload with FIFOs and devices in the node\'s tls-ca-cert-dir', () => {
  let node: ValkeyHandle
  let caDir: string
  let fifo: string
  let hash: string

  beforeAll(async () => {
    caDir = join(root, 'ca-dir')
    mkdirSync(caDir)
    hash = execFileSync('openssl', ['x509', '-in', pki.caCert, '-noout', '-hash'], {encoding: 'utf8'}).trim()
    copyFileSync(pki.caCert, join(caDir, `${hash}.0`)) // the real CA, where OpenSSL looks it up
    fifo = join(root, 'fifo')
    execFileSync('mkfifo', [fifo])
    symlinkSync(fifo, join(caDir, 'fifo-link.pem'))
    symlinkSync('/dev/zero', join(caDir, 'zero-link.pem'))
    symlinkSync('/dev/urandom', join(caDir, 'urandom-link.pem'))
    execFileSync('mkfifo', [join(caDir, 'fifo-itself.pem')])
    node = await startValkey({
      name: 'ca-dir',
      tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey},
      authClients: 'yes',
      config: {'tls-ca-cert-file': '', 'tls-ca-cert-dir': caDir},
    })
  }, 60_000)

  const args = (...extra: string[]) => ['reload', '--port', String(node.port), '--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key, '--lock-file', lockFile, '--deadline', '20', '--json', ...extra]

  it('unchanged files: the odd entries are skipped, nothing loaded, done at once', async () => {
    const result = await cli(args())
    expect(result.code, result.stderr).toBe(0)
    const [report] = JSON.parse(result.stdout).nodes
    expect(report).toMatchObject({action: 'unchanged', filesReadHere: true, problems: []})
    expect(result.ms).toBeLessThan(5000) // well under --deadline 20
    console.log(`reload, CA folder with a FIFO and /dev/zero, unchanged: ${result.ms.toFixed(0)} ms`)
  })

  it('--force: validated against the real CA, loaded, and the node still serves and verifies clients', async () => {
    const result = await cli(args('--force'))
    expect(result.code, result.stdout + result.stderr).toBe(0)
    const [report] = JSON.parse(result.stdout).nodes
    expect(report).toMatchObject({action: 'reloaded', problems: []})
    expect(result.ms).toBeLessThan(5000)
    console.log(`reload --force, CA folder with a FIFO and /dev/zero: ${result.ms.toFixed(0)} ms`)
    expect(await node.command('PING')).toBe('PONG') // with the harness's client certificate, verified through the folder
  })

  it('a FIFO under the CA\'s hashed name (OpenSSL opens it and the node blocks): the run still ends within its bounds', async () => {
    const hashed = join(caDir, `${hash}.1`)
    symlinkSync(fifo, hashed)
    try {
      const result = await cli(args('--force', '--timeout', '2'))
      expect(result.code, 'the process must exit').not.toBeNull()
      const [report] = JSON.parse(result.stdout).nodes
      console.log(`reload --force, hashed FIFO in the CA folder: exit ${result.code} in ${result.ms.toFixed(0)} ms: ${report.action}: ${report.reason}`)
      expect(result.ms).toBeLessThan(12_000) // inspect + CONFIG SET + a 2 s handshake bound, far from --deadline 20
      // Ideally refused before the CONFIG SET (the folder's entry is no certificate file: see the report); at least failed, never hung.
      expect(['refused', 'failed']).toContain(report.action)
    } finally {
      rmSync(hashed)
      // Unblock the node: it waits in open(2) for a writer; a writer that closes at once gives it an empty file.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
      } catch {
        // no reader waiting: the node never opened it
      }
    }
    expect(await node.command('PING')).toBe('PONG')
  })
})

describe('reload and a tls-ca-cert-dir that was not rehashed', () => {
  it("a CA in the primary's folder under a name openssl rehash does not give: the primary does not trust it, so reload refuses the replica's leaf from it; after openssl rehash the link is up", async () => {
    const dir = join(root, 'rehash')
    const caDir = join(dir, 'primary-cas')
    mkdirSync(caDir, {recursive: true})
    const newCa = await makeCa(join(dir, 'new-ca'), {cn: 'new CA'})
    const newLeaf = await issueCert(newCa, join(dir, 'new-ca'), 'server', {cn: 'localhost', sans: ['IP:127.0.0.1'], usage: 'both'})
    copyFileSync(pki.caCert, join(caDir, 'old-ca.pem'))
    execFileSync('openssl', ['rehash', caDir])
    copyFileSync(newCa.cert, join(caDir, 'new-ca.pem')) // added, not rehashed
    const both = join(dir, 'both.pem')
    writeFileSync(both, readFileSync(pki.caCert, 'utf8') + readFileSync(newCa.cert, 'utf8'))
    const certFile = join(dir, 'replica.crt')
    const keyFile = join(dir, 'replica.key')
    copyFileSync(pki.serverCert, certFile)
    copyFileSync(pki.serverKey, keyFile)
    const primary = await startValkey({name: 'rehash-primary', tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}, authClients: 'yes',
      config: {'tls-ca-cert-file': '', 'tls-ca-cert-dir': caDir, 'tls-replication': 'yes'}})
    const replica = await startValkey({name: 'rehash-replica', tls: {caCert: both, cert: certFile, key: keyFile}, authClients: 'yes',
      config: {'tls-replication': 'yes', replicaof: `127.0.0.1 ${primary.port}`}})
    const linkUp = async () => /master_link_status:up/.test(String(await replica.command('INFO', 'replication')))
    const waitLink = async (ms: number) => {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await linkUp()) return true
      return false
    }
    expect(await waitLink(10_000)).toBe(true)

    // The replica's certificate renewed from the new CA: refused, the primary would not take it as a client.
    copyFileSync(newLeaf.cert, certFile)
    copyFileSync(newLeaf.key, keyFile)
    const reload = () => cli(['reload', '--port', String(replica.port), '--cacert', both, '--cert', admin.cert, '--key', admin.key, '--lock-file', lockFile, '--json'])
    const refused = await reload()
    const [report] = JSON.parse(refused.stdout).nodes
    expect([refused.code, report.action], refused.stdout).toEqual([10, 'refused'])
    expect(report.problems.map((p: {code: string}) => p.code)).toContain('peer-untrusted')

    // What the refusal spared: loaded anyway, the replica cannot link again once its link drops.
    expect(await replica.command('CONFIG', 'SET', 'tls-cert-file', certFile, 'tls-key-file', keyFile)).toBe('OK')
    await primary.command('CLIENT', 'KILL', 'TYPE', 'replica')
    expect(await waitLink(3000)).toBe(false)
    // The folder rehashed and reloaded on the primary: the same replica certificate links.
    execFileSync('openssl', ['rehash', caDir])
    expect(await primary.command('CONFIG', 'SET', 'tls-ca-cert-dir', caDir)).toBe('OK')
    expect(await waitLink(15_000)).toBe(true)
    const after = await reload()
    expect(JSON.parse(after.stdout).nodes[0], after.stdout).toMatchObject({action: 'unchanged', problems: []})
  }, 120_000)
})
