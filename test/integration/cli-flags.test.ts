/**
 * valkey-cli's connection flags against real Valkey 9.1 servers: lines pasted from valkey-cli (--tls -h -p,
 * -u valkeys://..., --cacertdir with an `openssl rehash` folder), --tls-ciphers / --tls-ciphersuites
 * against servers that allow only some, and --password-command against nodes where each password is
 * valid on one node only, so a value fetched once and reused fails.
 */
import {execFile} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {beforeAll, describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {makeCa, makePki, type Pki} from '../helpers/pki/openssl.js'
import {makeTempDir} from '../helpers/temp.js'
import {runValkeyCli} from '../helpers/valkey/binaries.js'
import {startValkey, useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-cli-flags')
const run = promisify(execFile)

interface NodeJson {
  address: string
  status: string
  error: string | null
  reason: string | null
  protocol: string | null
  cipher: string | null
  user: string | null
  settings: {tlsAuthClients: string | null} | null
}
interface ReportJson {
  nodes: NodeJson[]
  status: string
}

let pki: Pki
/** default's password is default-secret; ops/ops-secret; the client certificate alice logs in as alice. */
let server: ValkeyHandle
/** TLS 1.2 only, two ECDSA ciphers allowed. */
let tls12: ValkeyHandle
/** TLS 1.3 only, two suites allowed. */
let tls13: ValkeyHandle
/** Three nodes where user rot has one password each: pw-1, pw-2, pw-3 (default is off). */
let rotating: ValkeyHandle[]
let otherCa: string

const script = (name: string, body: string) => {
  const path = join(root, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['alice']})
  otherCa = (await makeCa(join(root, 'other'), {cn: 'unrelated CA'})).cert
  const tls = {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}
  // The helpers' own connections present the server certificate (CN localhost): that user lets them in.
  const helper = 'localhost on nopass ~* &* +@all'
  const users = ['default on >default-secret ~* &* +@all', 'ops on >ops-secret ~* &* +@all', 'alice on nopass ~* &* +@all', helper]
  ;[server, tls12, tls13, ...rotating] = await Promise.all([
    startValkey({tls, authClients: 'optional', config: {'tls-auth-clients-user': 'CN', user: users}, name: 'flags'}),
    startValkey({tls, authClients: 'no', config: {'tls-protocols': '"TLSv1.2"', 'tls-ciphers': 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384', 'tls-prefer-server-ciphers': 'no'}, name: 'tls12'}),
    startValkey({tls, authClients: 'no', config: {'tls-protocols': '"TLSv1.3"', 'tls-ciphersuites': 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256', 'tls-prefer-server-ciphers': 'no'}, name: 'tls13'}),
    ...[1, 2, 3].map((i) => startValkey({tls, authClients: 'optional', config: {'tls-auth-clients-user': 'CN', user: [`rot on >pw-${i} ~* &* +@all`, 'default off', helper]}, name: `rot${i}`})),
  ])
}, 120_000)

const port = (node: ValkeyHandle) => String(node.port)

async function check(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{code: number | null; json: ReportJson; stderr: string; stdout: string}> {
  const result = await runCli(['check', ...args, '--json'], {env})
  return {code: result.code, json: JSON.parse(result.stdout) as ReportJson, stderr: result.stderr, stdout: result.stdout}
}

describe('valkey-cli lines, pasted', () => {
  it('--tls -h 127.0.0.1 -p PORT --cacert --cert --key: what valkey-cli does, as the same user', async () => {
    const line = ['--tls', '-h', '127.0.0.1', '-p', port(server), '--cacert', pki.caCert, '--cert', pki.clients.alice!.cert, '--key', pki.clients.alice!.key]
    expect((await runValkeyCli([...line, 'ACL', 'WHOAMI'])).trim()).toBe('alice')
    const {code, json, stderr} = await check(line)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(json.nodes[0]).toMatchObject({address: `127.0.0.1:${server.port}`, status: 'ok', user: 'alice'})
  })

  it('-u valkeys://USER:@host:port: the user from the URI, its password from the environment', async () => {
    const uri = `valkeys://ops:@127.0.0.1:${server.port}`
    const ok = await check(['-u', uri, '--cacert', pki.caCert], {VALKEY_TLS_PASSWORD: 'ops-secret'})
    expect(ok.stderr).toBe('')
    expect(ok.json.nodes[0]).toMatchObject({status: 'ok', error: null, settings: {tlsAuthClients: 'optional'}})
    // The same password as another user fails: the URI's user was the one sent.
    const wrong = await check(['-u', `valkeys://default:@127.0.0.1:${server.port}`, '--cacert', pki.caCert], {VALKEY_TLS_PASSWORD: 'ops-secret'})
    expect(wrong.code).toBe(7)
    expect(wrong.json.nodes[0]).toMatchObject({status: 'failed', reason: 'wrong-password'})
  })

  it('-u valkeys://USER:PASSWORD@ and rediss://PASSWORD@ work as in valkey-cli, with a warning and never the password shown', async () => {
    for (const [uri, user] of [[`valkeys://ops:ops-secret@127.0.0.1:${server.port}`, 'ops'], [`rediss://default-secret@127.0.0.1:${server.port}/0`, 'default']] as const) {
      expect((await runValkeyCli(['-u', uri, '--cacert', pki.caCert, '--no-auth-warning', 'ACL', 'WHOAMI'])).trim()).toBe(user)
      const result = await runCli(['check', '-u', uri, '--cacert', pki.caCert, '--json'], {env: {DEBUG: '*'}})
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout).nodes[0]).toMatchObject({status: 'ok', error: null})
      const warnings = result.stderr.split('\n').filter((l) => l.startsWith('Warning: '))
      expect(warnings).toEqual([expect.stringMatching(/^Warning: the password in --uri shows in the process list and shell history: prefer --password-command or VALKEY_TLS_PASSWORD/)])
      expect(warnings[0]!.includes('default user\'s password')).toBe(user === 'default')
      expect(result.stdout + result.stderr.replaceAll(uri, '<the argv>')).not.toMatch(/-secret/)
    }
  })

  it('-u with a plaintext scheme, or with --host, --port or --user: one-line usage errors (exit 2)', async () => {
    expectOneLineError(await runCli(['check', '-u', `valkey://127.0.0.1:${server.port}`]), 2, /--uri valkey:\/\/ is a plaintext connection and valkey-tls always uses TLS: write valkeys:\/\//)
    expectOneLineError(await runCli(['check', '-u', 'redis://h']), 2, /write rediss:\/\//)
    for (const extra of [['-h', 'x'], ['-p', '1'], ['--user', 'ops']]) {
      expectOneLineError(await runCli(['check', '-u', `valkeys://127.0.0.1:${server.port}`, ...extra]), 2, /^Error: --(host|port|user) cannot be used with --uri \(see --help\)$/)
    }
    expectOneLineError(await runCli(['check', '-u', 'valkeys://127.0.0.1:99999']), 2, /--uri: the port must be a number from 1 to 65535/)
  })

  it('--cacertdir with an openssl rehash folder, as valkey-cli; an unrelated CA alone there is not trusted', async () => {
    const dir = join(root, 'cadir')
    mkdirSync(dir)
    copyFileSync(pki.caCert, join(dir, 'valkey-ca.pem'))
    copyFileSync(otherCa, join(dir, 'other-ca.pem'))
    await run('openssl', ['rehash', dir])
    expect((await runValkeyCli(['--tls', '-p', port(tls12), '--cacertdir', dir, 'PING'])).trim()).toBe('PONG')
    const ok = await check(['--tls', '-p', port(tls12), '--cacertdir', dir])
    expect(ok.code).toBe(0)
    expect(ok.json.nodes[0]).toMatchObject({status: 'ok', error: null})

    const only = join(root, 'cadir-other')
    mkdirSync(only)
    copyFileSync(otherCa, join(only, 'other-ca.pem'))
    await run('openssl', ['rehash', only])
    const untrusted = await check(['-p', port(tls12), '--cacertdir', only])
    expect(untrusted.code).toBe(6)
    expect(untrusted.json.nodes[0]).toMatchObject({status: 'failed', reason: 'untrusted'})
    // With --cacert as well, both are trusted (SSL_CTX_load_verify_locations(file, dir)).
    expect((await check(['-p', port(tls12), '--cacertdir', only, '--cacert', pki.caCert])).code).toBe(0)
  })

  it('--cacertdir of a folder never rehashed: one-line input error (exit 3) with the fix', async () => {
    const dir = join(root, 'cadir-plain')
    mkdirSync(dir)
    copyFileSync(pki.caCert, join(dir, 'ca.pem'))
    expectOneLineError(await runCli(['check', '-p', port(tls12), '--cacertdir', dir]), 3, /has no certificate named as openssl rehash names them \(HASH\.0\): run openssl rehash/)
  })
})

describe('--tls-ciphers and --tls-ciphersuites against servers that allow only some', () => {
  const cipherOf = async (node: ValkeyHandle, args: string[]) => {
    const {code, json} = await check(['-p', port(node), '--cacert', pki.caCert, ...args])
    return {code, node: json.nodes[0]!}
  }

  it('TLS 1.2: the cipher offered is the one negotiated; one the server refuses fails the handshake', async () => {
    for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384']) {
      const {code, node} = await cipherOf(tls12, ['--tls-ciphers', cipher])
      expect(code).toBe(0)
      expect(node).toMatchObject({protocol: 'TLSv1.2', cipher})
    }
    const refused = await cipherOf(tls12, ['--tls-ciphers', 'ECDHE-ECDSA-CHACHA20-POLY1305'])
    expect(refused.code).toBe(6)
    expect(refused.node).toMatchObject({status: 'failed', reason: 'no-shared-cipher'})
    // TLS 1.3 suites do not matter to a TLS 1.2 server, as in OpenSSL.
    expect((await cipherOf(tls12, ['--tls-ciphersuites', 'TLS_AES_256_GCM_SHA384'])).node).toMatchObject({status: 'ok', protocol: 'TLSv1.2'})
  })

  it('TLS 1.3: the same with suites; --tls-ciphers leaves TLS 1.3 alone', async () => {
    for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256']) {
      const {code, node} = await cipherOf(tls13, ['--tls-ciphersuites', suite])
      expect(code).toBe(0)
      expect(node).toMatchObject({protocol: 'TLSv1.3', cipher: suite})
    }
    const refused = await cipherOf(tls13, ['--tls-ciphersuites', 'TLS_AES_256_GCM_SHA384'])
    expect(refused.code).toBe(6)
    expect(refused.node).toMatchObject({status: 'failed', reason: 'no-shared-cipher'})
    expect((await cipherOf(tls13, ['--tls-ciphers', 'ECDHE-ECDSA-CHACHA20-POLY1305'])).node).toMatchObject({status: 'ok', protocol: 'TLSv1.3'})
  })

  it('lists OpenSSL knows nothing of: one-line usage errors', async () => {
    expectOneLineError(await runCli(['check', '-p', port(tls12), '--tls-ciphers', 'NOT-A-CIPHER']), 2, /--tls-ciphers: no TLS 1.2 cipher OpenSSL knows/)
    expectOneLineError(await runCli(['check', '-p', port(tls13), '--tls-ciphersuites', 'TLS_NOPE']), 2, /--tls-ciphersuites: no TLS 1.3 suite OpenSSL knows/)
    expectOneLineError(await runCli(['check', '-p', port(tls13), '--tls-ciphers', 'TLS_AES_128_GCM_SHA256']), 2, /is a TLS 1.3 suite: give it with --tls-ciphersuites/)
  })
})

describe('--password-command', () => {
  const nodes = () => ['--nodes', rotating.map((n) => `127.0.0.1:${n.port}`).join(','), '--concurrency', '1', '--user', 'rot', '--cacert', pki.caCert]

  it('is run for every connection: each node gets the next password, where one fetched once would fail', async () => {
    const counter = join(root, 'counter')
    writeFileSync(counter, '0')
    const next = script('next-password', `n=$(($(cat '${counter}') + 1)); echo $n > '${counter}'; echo "pw-$n"`)
    const {code, json, stderr, stdout} = await check([...nodes(), '--password-command', next], {DEBUG: '*'})
    expect(json.nodes.map((n) => [n.status, n.error])).toEqual([['ok', null], ['ok', null], ['ok', null]])
    expect(code).toBe(0)
    expect(readFileSync(counter, 'utf8').trim()).toBe('3')
    expect(stdout + stderr).not.toMatch(/pw-\d/)
    // The control: the first value, fetched once and reused, works on the first node only.
    const once = await check(nodes(), {VALKEY_TLS_PASSWORD: 'pw-1'})
    expect(once.json.nodes.map((n) => n.reason)).toEqual([null, 'wrong-password', 'wrong-password'])
    expect(once.code).toBe(7)
  })

  it('VALKEY_TLS_PASSWORD_COMMAND, with a shell asked for explicitly', async () => {
    const counter = join(root, 'counter-env')
    writeFileSync(counter, '0')
    const command = `sh -c 'n=$(($(cat ${counter}) + 1)); echo $n > ${counter}; echo pw-$n'`
    const {code, json} = await check(nodes(), {VALKEY_TLS_PASSWORD_COMMAND: command})
    expect(json.nodes.map((n) => n.status)).toEqual(['ok', 'ok', 'ok'])
    expect(code).toBe(0)
    expect(readFileSync(counter, 'utf8').trim()).toBe('3')
  })

  const whoamiArgs = () => ['whoami', pki.clients.alice!.cert, '-p', port(server), '--cacert', pki.caCert, '--user', 'ops']

  it('precedence: --password-command, then VALKEY_TLS_PASSWORD_COMMAND, then VALKEY_TLS_PASSWORD', async () => {
    const status = async (args: string[], env: NodeJS.ProcessEnv) => (await check(['-p', port(server), '--cacert', pki.caCert, '--user', 'ops', ...args], env)).json.nodes[0]!.reason
    expect(await status(['--password-command', 'echo ops-secret'], {VALKEY_TLS_PASSWORD: 'wrong', VALKEY_TLS_PASSWORD_COMMAND: 'echo wrong'})).toBeNull()
    expect(await status(['--password-command', 'echo wrong'], {VALKEY_TLS_PASSWORD_COMMAND: 'echo ops-secret'})).toBe('wrong-password')
    expect(await status([], {VALKEY_TLS_PASSWORD_COMMAND: 'echo ops-secret', VALKEY_TLS_PASSWORD: 'wrong'})).toBeNull()
    expect(await status([], {VALKEY_TLS_PASSWORD_COMMAND: 'echo wrong', VALKEY_TLS_PASSWORD: 'ops-secret'})).toBe('wrong-password')
    expect(await status([], {VALKEY_TLS_PASSWORD_COMMAND: '', VALKEY_TLS_PASSWORD: 'ops-secret'})).toBeNull()
  })

  it('two password sources on the command line are a usage error', async () => {
    expectOneLineError(await runCli([...whoamiArgs(), '--password-command', 'echo x', '--askpass']), 2, /--askpass cannot be used with --password-command/)
    const uri = ['whoami', pki.clients.alice!.cert, '-u', `valkeys://ops:ops-secret@127.0.0.1:${server.port}`, '--cacert', pki.caCert, '--password-command', 'echo x']
    const result = await runCli(uri)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/Error: --uri holds a password: do not give --password-command too/)
  })

  it('failures: one line with the exit status and stderr\'s first line, exit 7 (credentials); never the output', async () => {
    const fails = script('fails', 'echo pw-leaked; echo "vault: permission denied" >&2; exit 1')
    expectOneLineError(await runCli([...whoamiArgs(), '--password-command', fails]), 7,
      new RegExp(`^Error: 127\\.0\\.0\\.1:${server.port}: the password command \\(--password-command\\) exited with status 1: vault: permission denied$`))
    expectOneLineError(await runCli([...whoamiArgs(), '--timeout', '0.5', '--password-command', 'sleep 10']), 7, /the password command \(--password-command\) did not finish within 0\.5 s \(see --timeout\)$/)
    expectOneLineError(await runCli(whoamiArgs(), {env: {VALKEY_TLS_PASSWORD_COMMAND: 'true'}}), 7, /the password command \(VALKEY_TLS_PASSWORD_COMMAND\) printed nothing$/)
    const inCheck = await check(['-p', port(server), '--cacert', pki.caCert, '--user', 'ops', '--password-command', fails])
    expect(inCheck.code).toBe(7)
    expect(inCheck.json.nodes[0]).toMatchObject({status: 'failed', reason: 'password-command', error: 'AUTH failed: the password command (--password-command) exited with status 1: vault: permission denied'})
    expect(inCheck.stdout + inCheck.stderr).not.toMatch(/pw-leaked/)
  })

  it('a program that is not there, or an unclosed quote: usage errors before any connection', async () => {
    expectOneLineError(await runCli([...whoamiArgs(), '--password-command', 'no-such-token-tool --json']), 2, /--password-command: no-such-token-tool is not found on PATH$/)
    expectOneLineError(await runCli(whoamiArgs(), {env: {VALKEY_TLS_PASSWORD_COMMAND: 'sh -c \'echo'}}), 2, /VALKEY_TLS_PASSWORD_COMMAND: a ' quote is not closed$/)
  })
})
