/**
 * `whoami` against a real Valkey 9.1: for every certificate shape, in CN and URI mode, the --json
 * prediction must equal the user the server really logs the certificate in as. The ground truth is
 * read twice: by the tool's own --verify-key, and independently by the test harness's RESP client.
 */
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {type Ca, type KeyPair, makeCa, makePki, type Pki} from '../helpers/pki/openssl.js'
import {bmp, CN, issueRawCert, O, type RawCertOptions, StringTag} from '../helpers/pki/raw.js'
import {freePort} from '../helpers/ports.js'
import {onTerminal} from '../helpers/pty.js'
import {RespError, TlsRespClient} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-whoami-it')

const latin1 = (s: string) => Buffer.from(s, 'latin1')
const LONG = 'u'.repeat(300)
const ALICE_URI = 'spiffe://example.org/alice'
const CAROL_URI = 'spiffe://example.org/carol'
const uri = (value: string | Uint8Array) => ({type: 'uri' as const, value})
const cn = (value: string | Uint8Array, tag: number = StringTag.utf8) => [{oid: CN, tag, value}]
const day = 86_400_000

/** Users on the server: name bytes → ACL rules. */
const USERS: Array<[Buffer, string[]]> = [
  [Buffer.from('alice'), ['on', 'nopass', '~*', '+@all']],
  [Buffer.from('bob'), ['on', '>bob-secret', '~*', '+@all']],
  [Buffer.from('carol'), ['off', 'nopass', '~*', '+@all']],
  [Buffer.from('a,b+c=d'), ['on', 'nopass', '+acl|whoami']],
  [latin1('\u00fcn\u00ef'), ['on', 'nopass', '+acl|whoami']], // T61 / Latin-1 bytes FC 6E EF
  [Buffer.from(LONG), ['on', 'nopass', '+acl|whoami']],
  [Buffer.from('ALICE'), ['on', 'nopass', '+acl|whoami']],
  [Buffer.from(ALICE_URI), ['on', 'nopass', '+acl|whoami']],
  [Buffer.from(CAROL_URI), ['off', 'nopass', '+acl|whoami']],
  [Buffer.from('urn:x:bob'), ['on', '>pw', '+acl|whoami']],
]

/** Certificate shapes: a name for the test, and how to build the certificate. */
const SHAPES: Array<[string, RawCertOptions]> = [
  ['existing user', {subject: [cn('alice')]}],
  ['user with a password', {subject: [cn('bob')]}],
  ['disabled user', {subject: [cn('carol')]}],
  ['missing user', {subject: [cn('nosuch')]}],
  ['different case', {subject: [cn('Alice')]}],
  ['no CN at all', {subject: [[{oid: O, value: 'alice'}]]}],
  ['empty CN', {subject: [cn('')]}],
  ['two CNs, the first missing', {subject: [cn('nosuch'), cn('alice')]}],
  ['two CNs, the first existing', {subject: [cn('alice'), cn('nosuch')]}],
  ['multi-valued RDN, alice written first', {subject: [[{oid: CN, value: 'alice'}, {oid: CN, value: 'nosuch'}]]}],
  ['multi-valued RDN, alice written second', {subject: [[{oid: CN, value: 'nosuch'}, {oid: CN, value: 'alice'}]]}],
  ['RFC 4514 special characters', {subject: [cn('a,b+c=d')]}],
  ['T61String with Latin-1 bytes', {subject: [cn(latin1('\u00fcn\u00ef'), StringTag.t61)]}],
  ['UTF8String of the same text', {subject: [cn('\u00fcn\u00ef')]}],
  ['PrintableString', {subject: [cn('alice', StringTag.printable)]}],
  ['BMPString of an existing name', {subject: [cn(bmp('alice'), StringTag.bmp)]}],
  ['embedded NUL', {subject: [cn(Buffer.from('ali\0ce'))]}],
  ['300-character name', {subject: [cn(LONG)]}],
  ['name with a space', {subject: [cn('alice smith')]}],
  ['CN=default', {subject: [cn('default')]}],
  ['URI SANs: only a later one is a user', {subject: [cn('nosuch')], sans: [uri('spiffe://example.org/nobody'), uri(ALICE_URI)]}],
  ['URI SANs: a disabled user first', {subject: [cn('alice')], sans: [uri(CAROL_URI), uri(ALICE_URI)]}],
  ['URI SAN of a disabled user only', {subject: [cn('alice')], sans: [uri(CAROL_URI)]}],
  ['URI SAN of a user with a password', {subject: [cn('x')], sans: [uri('urn:x:bob')]}],
  ['empty and NUL URIs before a user', {subject: [cn('x')], sans: [uri(''), uri(Buffer.from('spiffe://example.org/alice\0x')), uri(ALICE_URI)]}],
  ['DNS and e-mail SANs naming users, no URI', {subject: [cn('alice')], sans: [{type: 'dns', value: 'alice'}, {type: 'email', value: 'alice'}]}],
  ['URI SAN, CN naming a user', {subject: [cn('alice')], sans: [uri('spiffe://example.org/nobody')]}],
  ['serverAuth-only extended key usage', {subject: [cn('alice')], ekus: ['1.3.6.1.5.5.7.3.1']}],
  ['anyExtendedKeyUsage only', {subject: [cn('alice')], ekus: ['2.5.29.37.0']}],
  ['no extended key usage extension', {subject: [cn('alice')], ekus: []}],
  ['key usage keyCertSign only', {subject: [cn('alice')], keyUsage: 32}],
  ['key usage keyAgreement only', {subject: [cn('alice')], keyUsage: 16}],
  ['key usage digitalSignature', {subject: [cn('alice')], keyUsage: 1}],
  ['Netscape cert type SSL server only', {subject: [cn('alice')], netscapeCertType: 0x40}],
  ['Netscape cert type SSL client', {subject: [cn('alice')], netscapeCertType: 0x80}],
  ['expired', {subject: [cn('alice')], notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day)}],
  ['not yet valid', {subject: [cn('alice')], notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 10 * day)}],
]

let pki: Pki
let server: ValkeyHandle
const certs = new Map<string, KeyPair>()

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'))
  server = await startValkey({
    tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey},
    authClients: 'optional',
    name: 'whoami',
  })
  const admin = await TlsRespClient.connect(server.clientOptions())
  try {
    for (const [name, rules] of USERS) expect(await admin.command('ACL', 'SETUSER', name, ...rules)).toBe('OK')
  } finally {
    admin.close()
  }
  await Promise.all(SHAPES.map(async ([name, options], i) => certs.set(name, await issueRawCert(pki.ca, pki.dir, `shape${i}`, options))))
}, 60_000)

/** The user the server really logs a certificate in as: null when it refuses it, "default" on NOAUTH. */
async function actualUser(pair: KeyPair): Promise<string | null> {
  let client: TlsRespClient
  try {
    client = await TlsRespClient.connect({...server.clientOptions({cert: pair.cert, key: pair.key}), binary: true})
  } catch {
    return null
  }
  try {
    const reply = await client.send(['ACL', 'WHOAMI'])
    if (reply instanceof RespError) return /^NOAUTH/.test(reply.message) ? 'default' : `error: ${reply.message}`
    return (reply as Buffer).toString('latin1')
  } catch {
    return null // TLS 1.3: a refused certificate shows on the first read
  } finally {
    client.close()
  }
}

interface WhoamiJson {
  mode: string | null
  user: string | null
  reasonCode: string
  reason: string
  observedUser: string | null
  match: boolean
  attempts: {name: string; result: string}[]
}

/** The tool shows names as text (\xNN for bytes that are not UTF-8); map it to the server's bytes. */
function asLatin1(display: string | null): string | null {
  if (display === null) return null
  if (!display.includes('\\')) return Buffer.from(display, 'utf8').toString('latin1')
  return display.replace(/\\x([0-9a-f]{2})|\\\\/g, (m, hex: string | undefined) => (hex ? String.fromCharCode(Number.parseInt(hex, 16)) : '\\'))
}

/** What each mode must at least produce across the table, so the table cannot pass by being trivial. */
const SPREAD: Record<string, Array<string | null>> = {
  CN: ['alice', 'bob', 'a,b+c=d', latin1('\u00fcn\u00ef').toString('latin1'), LONG, 'default', null],
  URI: [ALICE_URI, 'urn:x:bob', 'default', null],
}

describe.each(['CN', 'URI'])('whoami --json against Valkey 9.1 in %s mode', (mode) => {
  const seen = new Set<string | null>()
  beforeAll(async () => {
    expect(await server.command('CONFIG', 'SET', 'tls-auth-clients-user', mode)).toBe('OK')
  })
  afterAll(() => {
    expect([...seen]).toEqual(expect.arrayContaining(SPREAD[mode]!))
  })

  it.concurrent.each(SHAPES.map(([name]) => name))('%s: prediction equals the server', async (name) => {
    const pair = certs.get(name)!
    const result = await runCli(['whoami', pair.cert, '--port', String(server.port), '--cacert', pki.caCert, '--verify-key', pair.key, '--json'])
    const json = JSON.parse(result.stdout) as WhoamiJson
    const actual = await actualUser(pair)
    seen.add(actual)
    expect({mode: json.mode, user: asLatin1(json.user), reason: json.reason}).toEqual({mode, user: actual, reason: json.reason})
    expect(asLatin1(json.observedUser)).toBe(actual)
    expect(json.match).toBe(true)
    expect(result.code).toBe(0)
  }, 30_000)
})

describe('whoami against a server with passwords and restricted users', () => {
  let locked: ValkeyHandle
  let otherCa: Ca
  beforeAll(async () => {
    // The harness's own connections present the server certificate (CN=localhost): map it to an admin user.
    locked = await startValkey({
      tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey},
      authClients: 'yes',
      config: {
        'tls-auth-clients-user': 'CN',
        user: ['default on >default-secret ~* +@all', 'localhost on nopass ~* &* +@all', 'ops on >ops-secret ~* +@all', 'viewer on >viewer-secret +ping +acl|whoami', 'alice on nopass ~* +@all'],
      },
      name: 'whoami-locked',
    })
    otherCa = await makeCa(join(root, 'other-ca'), {cn: 'some other CA'})
  }, 60_000)

  const base = () => ['--port', String(locked.port), '--cacert', pki.caCert, '--cert', pki.serverCert, '--key', pki.serverKey]

  it('authenticates with VALKEY_TLS_PASSWORD, warns that default needs a password, and sees NOAUTH as default', async () => {
    const pair = certs.get('missing user')!
    const result = await runCli(['whoami', pair.cert, ...base(), '--user', 'ops', '--verify-key', pair.key, '--json'], {env: {VALKEY_TLS_PASSWORD: 'ops-secret'}})
    expect(result.code).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({user: 'default', reasonCode: 'no-such-user', observedUser: 'default', observedAuthenticated: false, match: true})
    expect(json.warnings.join(' ')).toMatch(/default user has a password/)
    expect(result.stdout + result.stderr).not.toContain('ops-secret')
  })

  it('also takes REDISCLI_AUTH', async () => {
    const result = await runCli(['whoami', certs.get('existing user')!.cert, ...base(), '--user', 'ops', '--json'], {env: {REDISCLI_AUTH: 'ops-secret'}})
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({user: 'alice', reasonCode: 'mapped'})
  })

  it('CN=default logs in as default without the default password, and says so', async () => {
    const pair = certs.get('CN=default')!
    const result = await runCli(['whoami', pair.cert, ...base(), '--verify-key', pair.key, '--json'])
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({user: 'default', reasonCode: 'mapped', observedUser: 'default', observedAuthenticated: true, match: true})
    expect(json.warnings.join(' ')).toMatch(/without the default user's password/)
  })

  it('on a terminal, asks for the password when the server wants one, without echoing it', async () => {
    const {code, screen} = await onTerminal(['whoami', certs.get('existing user')!.cert, ...base(), '--user', 'ops'], [[/Password for 127\.0\.0\.1:\d+/, 'ops-secret\r']], {env: {VALKEY_TLS_PASSWORD: '', VALKEYCLI_AUTH: '', REDISCLI_AUTH: ''}})
    expect(screen).toMatch(/Logs in as alice/)
    expect(screen).not.toContain('ops-secret')
    expect(code).toBe(0)
  })

  it('a wrong password is exit 7 naming WRONGPASS, without echoing it', async () => {
    const result = await runCli(['whoami', certs.get('existing user')!.cert, ...base(), '--user', 'ops'], {env: {VALKEY_TLS_PASSWORD: 'not-it'}})
    expect(result.code).toBe(7)
    expect(result.stderr.trim()).toMatch(/^Error: 127\.0\.0\.1:\d+: wrong user name or password \(WRONGPASS\)$/)
    expect(result.stderr).not.toContain('not-it')
  })

  it('a user without CONFIG permission is exit 7 naming the command', async () => {
    const result = await runCli(['whoami', certs.get('existing user')!.cert, ...base(), '--user', 'viewer'], {env: {VALKEY_TLS_PASSWORD: 'viewer-secret'}})
    expect(result.code).toBe(7)
    expect(result.stderr.trim()).toMatch(/user "viewer" may not run (INFO|CONFIG GET) \(NOPERM\)$/)
  })

  it('no client certificate for a server that demands one is exit 7', async () => {
    const result = await runCli(['whoami', certs.get('existing user')!.cert, '--port', String(locked.port), '--cacert', pki.caCert])
    expect(result.code).toBe(7)
    expect(result.stderr).toMatch(/requires a client certificate|rejected our client certificate/)
  })

  it('the wrong CA for the server is exit 6 naming --cacert', async () => {
    const result = await runCli(['whoami', certs.get('existing user')!.cert, '--port', String(locked.port), '--cacert', otherCa.cert, '--cert', pki.serverCert, '--key', pki.serverKey])
    expect(result.code).toBe(6)
    expect(result.stderr.trim()).toMatch(/certificate not trusted by --cacert \(SELF_SIGNED_CERT_IN_CHAIN\): issued by CN=.*; pass its CA with --cacert$/)
  })

  it('a what-if --mode (email) against the live server is a one-line usage error, exit 2, without connecting; without --mode whatIf is shown beside the real answer', async () => {
    const connections = async () => Number(/total_connections_received:(\d+)/.exec(String(await locked.command('INFO', 'stats')))![1])
    const before = await connections()
    const refused = await runCli(['whoami', certs.get('existing user')!.cert, ...base(), '--user', 'ops', '--mode', 'email', '--json'], {env: {VALKEY_TLS_PASSWORD: 'ops-secret'}})
    expect(refused.code).toBe(2)
    expect(JSON.parse(refused.stdout).error.message).toMatch(/^--mode email is offline only: it is a what-if mapping Valkey does not have, and a server maps only by its tls-auth-clients-user \(CN or URI\)/)
    expectOneLineError(await runCli(['whoami', certs.get('existing user')!.cert, ...base(), '--mode', 'email']), 2, /--mode email is offline only/)
    expect(await connections()).toBe(before + 1) // only this second INFO's own connection
    const result = await runCli(['whoami', certs.get('existing user')!.cert, ...base(), '--user', 'ops', '--json'], {env: {VALKEY_TLS_PASSWORD: 'ops-secret'}})
    expect(JSON.parse(result.stdout)).toMatchObject({mode: 'CN', user: 'alice', reasonCode: 'mapped', whatIf: {dn: 'CN=alice', o: null, email: null, dns: []}})
  })

  it('a verify key that does not belong to the certificate is exit 3, before connecting', async () => {
    const result = await runCli(['whoami', certs.get('existing user')!.cert, ...base(), '--verify-key', certs.get('missing user')!.key])
    expect(result.code).toBe(3)
    expect(result.stderr.trim()).toMatch(/is not the private key of the certificate$/)
  })
})

describe('whoami against nodes that cannot answer: one line, exit 6, within the timeout', () => {
  it('a refused port', async () => {
    const port = await freePort(false)
    expectOneLineError(await runCli(['whoami', certs.get('existing user')!.cert, '--port', String(port), '--cacert', pki.caCert]), 6, /127\.0\.0\.1:\d+: connection refused$/)
  })

  it('a plaintext port of a real server', async () => {
    const plain = await freePort(false)
    const node = await startValkey({tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}, config: {port: String(plain)}, name: 'whoami-plain'})
    try {
      const result = await runCli(['whoami', certs.get('existing user')!.cert, '--port', String(plain), '--cacert', pki.caCert, '--timeout', '1'])
      expectOneLineError(result, 6, /this port speaks plaintext RESP, not TLS$/)
    } finally {
      await node.stop()
    }
  })

  it('a stopped (SIGSTOP) node', async () => {
    const node = await startValkey({tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}, name: 'whoami-stopped'})
    node.signal('SIGSTOP')
    try {
      const started = Date.now()
      const result = await runCli(['whoami', certs.get('existing user')!.cert, '--port', String(node.port), '--cacert', pki.caCert, '--timeout', '1'])
      expectOneLineError(result, 6, /no TLS handshake within 1 s/)
      expect(Date.now() - started).toBeLessThan(10_000) // bounded by the timeout, not by the node
    } finally {
      node.signal('SIGCONT')
      await node.stop()
    }
  })
})
