/** `whoami` offline: identity fields cross-checked with openssl, modes, and every kind of bad input. */
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {type Ca, issueCert, type KeyPair, makeCa, makeExpiredCert} from '../helpers/pki/openssl.js'
import {makeTempDir} from '../helpers/temp.js'

const dir = makeTempDir('vtls-whoami')
const openssl = (...args: string[]) => execFileSync('openssl', args, {encoding: 'utf8'}).trim()

let ca: Ca
let rich: KeyPair
let serverOnly: KeyPair
let expired: KeyPair

beforeAll(async () => {
  ca = await makeCa(dir)
  rich = await issueCert(ca, dir, 'rich', {
    cn: 'alice',
    usage: 'client',
    sans: ['URI:spiffe://example.org/ns/a', 'URI:urn:example:alice', 'DNS:alice.example', 'IP:10.1.2.3', 'IP:2001:db8::7', 'email:alice@example.org'],
  })
  serverOnly = await issueCert(ca, dir, 'server-only', {cn: 'bob', usage: 'server'})
  expired = await makeExpiredCert(ca, dir, 'expired', {cn: 'carol', usage: 'client'})
}, 60_000)

describe('valkey-tls whoami (offline)', () => {
  it('--json shows the identity exactly as openssl reads it, and the CN the server would look up', async () => {
    const result = await runCli(['whoami', rich.cert, '--json'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({
      commonName: 'alice',
      uris: ['spiffe://example.org/ns/a', 'urn:example:alice'],
      dnsNames: ['alice.example'],
      ipAddresses: ['10.1.2.3', '2001:db8::7'],
      emails: ['alice@example.org'],
      extendedKeyUsages: ['clientAuth'],
      keyType: 'EC P-256',
      mode: 'CN',
      user: 'alice',
      reasonCode: 'offline',
      server: null,
      candidates: {CN: 'alice', URI: ['spiffe://example.org/ns/a', 'urn:example:alice']},
    })
    expect(json.subject).toBe(openssl('x509', '-in', rich.cert, '-noout', '-subject', '-nameopt', 'RFC2253').replace(/^subject=/, ''))
    expect(json.issuer).toBe(openssl('x509', '-in', rich.cert, '-noout', '-issuer', '-nameopt', 'RFC2253').replace(/^issuer=/, ''))
    expect(json.fingerprint256).toBe(openssl('x509', '-in', rich.cert, '-noout', '-fingerprint', '-sha256').replace(/^.*=/, ''))
    expect(json.serialNumber).toBe(openssl('x509', '-in', rich.cert, '-noout', '-serial').replace(/^serial=/, ''))
    expect(new Date(json.notAfter).getTime()).toBe(new Date(openssl('x509', '-in', rich.cert, '-noout', '-enddate').replace(/^notAfter=/, '')).getTime())
    expect(json.daysLeft).toBeGreaterThan(360)
    expect(json.problems).toEqual([])
  })

  it('--mode uri predicts the ordered URI SANs; the first is the answer offline', async () => {
    const json = JSON.parse((await runCli(['whoami', rich.cert, '--mode', 'URI', '--json'])).stdout)
    expect(json).toMatchObject({mode: 'URI', user: 'spiffe://example.org/ns/a', reasonCode: 'offline'})
    expect(json.attempts.map((a: {name: string}) => a.name)).toEqual(['spiffe://example.org/ns/a', 'urn:example:alice'])
  })

  it('shows a CN with a backslash escaped once, the same in the answer, the reason, the attempt and the JSON', async () => {
    const odd = join(dir, 'backslash.crt')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'backslash.key'), '-out', odd, '-days', '2', '-subj', '/CN=a\\\\b"c,d'], {stdio: 'ignore'})
    expect(openssl('x509', '-in', odd, '-noout', '-subject', '-nameopt', 'RFC2253')).toBe('subject=CN=a\\\\b\\"c\\,d') // the CN is a\b"c,d
    const shown = 'a\\\\b"c,d' // displayBytes: the backslash as \\, so that no two byte strings look the same
    const json = JSON.parse((await runCli(['whoami', odd, '--json'])).stdout)
    expect(json).toMatchObject({commonName: shown, user: shown, attempts: [{name: shown}]})
    const text = (await runCli(['whoami', odd])).stdout
    expect(text).toContain(`Would log in as ${shown} (tls-auth-clients-user CN)`)
    expect(text).toContain(`  CN "${shown}", if an enabled ACL user has that name`)
    expect(text).toContain(`  tried "${shown}": not-checked`)
  })

  it('reads DER, and the first certificate of a PEM bundle is the leaf', async () => {
    const der = join(dir, 'rich.der')
    execFileSync('openssl', ['x509', '-in', rich.cert, '-outform', 'DER', '-out', der])
    const bundle = join(dir, 'bundle.pem')
    writeFileSync(bundle, readFileSync(rich.cert, 'utf8') + readFileSync(ca.cert, 'utf8'))
    for (const file of [der, bundle]) {
      const json = JSON.parse((await runCli(['whoami', file, '--json'])).stdout)
      expect(json.commonName).toBe('alice')
    }
  })

  it('flags an expired certificate and one without clientAuth as refused, on the terminal too', async () => {
    const expiredJson = JSON.parse((await runCli(['whoami', expired.cert, '--json'])).stdout)
    expect(expiredJson).toMatchObject({user: null, reasonCode: 'rejected'})
    expect(expiredJson.reason).toMatch(/expired on/)
    const text = await runCli(['whoami', serverOnly.cert])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^Refused: the server will not accept this certificate/)
    expect(text.stdout).toMatch(/extended key usage \(serverAuth\) lacks clientAuth/)
    expect(text.stdout).not.toMatch(/\u001b\[/) // no colour when not on a terminal
  })

  describe('what-if mappings Valkey does not have', () => {
    let nats: string
    const subject = 'UID=u1+CN=alice,OU=ops\\+dev,O=Acme\\, Inc.,DC=example,DC=org'
    beforeAll(() => {
      nats = join(dir, 'nats.pem')
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'nats.key'), '-out', nats, '-days', '30',
        '-subj', '/DC=org/DC=example/O=Acme, Inc./OU=ops\\+dev/CN=alice+UID=u1',
        '-addext', 'subjectAltName=email:alice@example.org,email:alice2@example.org,DNS:alice.example,DNS:db.example', '-addext', 'extendedKeyUsage=clientAuth',
      ], {stdio: 'ignore'})
    })

    it('--json has them in whatIf, the subject exactly as openssl -nameopt RFC2253 prints it; the answer stays CN', async () => {
      const result = await runCli(['whoami', nats, '--json'])
      expect(result.code).toBe(0)
      const json = JSON.parse(result.stdout)
      expect(openssl('x509', '-in', nats, '-noout', '-subject', '-nameopt', 'RFC2253')).toBe(`subject=${subject}`)
      expect(json.whatIf).toEqual({
        note: expect.stringMatching(/^not Valkey behaviour/),
        email: 'alice@example.org',
        dn: subject,
        o: 'Acme, Inc.',
        dns: ['alice.example', 'db.example'],
        problems: [
          {mode: 'dn', message: `dn "${subject}" can never be an ACL user: it contains a space`},
          {mode: 'o', message: 'o "Acme, Inc." can never be an ACL user: it contains a space'},
        ],
      })
      expect(json).toMatchObject({mode: 'CN', user: 'alice', reasonCode: 'offline'})
    })

    it('text output has its own section, after Valkey\'s modes, headed as not Valkey behaviour', async () => {
      const {stdout} = await runCli(['whoami', nats])
      expect(stdout).toMatch(/^Would log in as alice \(tls-auth-clients-user CN\)/)
      const section = stdout.slice(stdout.indexOf('What-if mappings'))
      expect(stdout.indexOf('What-if mappings')).toBeGreaterThan(stdout.indexOf('Mapping modes'))
      expect(section.split('\n')[0]).toBe('What-if mappings (not Valkey behaviour: Valkey maps only CN or URI)')
      expect(section).toContain(`  dn     ${subject}  NATS verify_and_map`)
      expect(section).toMatch(/ {2}email {2}"alice@example\.org"/)
      expect(section).toMatch(/ {2}dns {4}"alice\.example", then "db\.example"/)
    })

    it.each([
      ['email', 'alice@example.org', 'what-if'],
      ['DNS', 'alice.example', 'what-if'],
      ['o', null, 'no-usable-field'],
      ['dn', null, 'no-usable-field'],
    ])('--mode %s predicts the name that mapping would give, as not Valkey behaviour', async (mode, user, reasonCode) => {
      const result = await runCli(['whoami', nats, '--mode', mode, '--json'])
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout)).toMatchObject({mode: mode.toLowerCase(), user, reasonCode})
      const text = (await runCli(['whoami', nats, '--mode', mode])).stdout
      expect(text).toMatch(/^What-if, not Valkey behaviour: /)
      expect(text).toMatch(user === null ? /gives no user name\n.*contains a space/ : new RegExp(`would give ${user.replaceAll('.', '\\.')}\n`))
    })
  })

  describe('bad input: one line, exit 3, no stack trace', () => {
    const cases: Array<[string, () => string, RegExp]> = [
      ['a missing file', () => join(dir, 'nope.pem'), /cannot read certificate .*nope\.pem: no such file or directory$/],
      ['a directory', () => dir, /is a directory, not a regular file$/],
      ['an empty file', () => write('empty.pem', ''), /is empty$/],
      ['truncated PEM', () => write('trunc.pem', readFileSync(rich.cert, 'utf8').slice(0, 300)), /truncated PEM/],
      ['garbage inside a PEM block', () => write('garbage.pem', '-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n'), /not valid base64/],
      ['valid base64 that is no certificate', () => write('b64.pem', `-----BEGIN CERTIFICATE-----\n${Buffer.from('hello world, not DER').toString('base64')}\n-----END CERTIFICATE-----\n`), /not a valid X\.509 certificate/],
      ['a private key', () => rich.key, /found a PRIVATE KEY block \(this is a private key, not a certificate\)$/],
      ['a bundle with binary junk', () => write('junk.pem', readFileSync(rich.cert, 'utf8') + '\u0001\u0002junk\n' + readFileSync(ca.cert, 'utf8')), /binary data outside the PEM blocks/],
      ['a bundle whose second certificate is broken', () => write('broken2.pem', readFileSync(rich.cert, 'utf8') + readFileSync(ca.cert, 'utf8').replace(/\n[A-Za-z0-9+/]{64}\n/, '\nAAAA\n')), /certificate 2/],
      ['random bytes', () => write('random.bin', Buffer.from(Array.from({length: 200}, (_, i) => (i * 37 + 11) % 256))), /not a PEM or DER certificate$/],
      ['truncated DER', () => write('trunc.der', execFileSync('openssl', ['x509', '-in', rich.cert, '-outform', 'DER']).subarray(0, 120)), /not a valid X\.509 certificate$/],
    ]
    it.each(cases)('%s', async (_name, make, message) => {
      expectOneLineError(await runCli(['whoami', make()]), 3, message)
    })

    it('--json puts the error on stdout as JSON', async () => {
      const result = await runCli(['whoami', join(dir, 'nope.pem'), '--json'])
      expect(result.code).toBe(3)
      expect(JSON.parse(result.stdout)).toEqual({error: {code: 'input', exitCode: 3, message: expect.stringMatching(/no such file/)}})
    })
  })

  describe('usage errors: exit 2', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['an unknown --mode', ['--mode', 'spiffe'], /--mode must be cn or uri \(Valkey's modes\), or email, dn, o or dns \(what-if, offline\), not "spiffe"$/],
      ['--mode against a server', ['--mode', 'uri', '--port', '1'], /--mode is for offline use/],
      ['a what-if --mode against a server', ['--mode', 'dn', '--port', '1'], /--mode dn is offline only: it is a what-if mapping Valkey does not have/],
      ['--verify-key without a server', ['--verify-key', 'x.key'], /--verify-key needs a server/],
      ['--askpass without a terminal', ['--askpass', '--port', '1'], /--askpass needs a terminal/],
      ['a zero --timeout', ['--timeout', '0', '--port', '1'], /--timeout must be a number of seconds/],
      ['an IP address as --sni', ['--sni', '127.0.0.1', '--port', '1'], /--sni must be a host name/],
      ['a port out of range', ['--port', '70000'], /70000/],
    ]
    it.each(cases)('%s', async (_name, args, message) => {
      expectOneLineError(await runCli(['whoami', rich.cert, ...args]), 2, message)
    })
  })
})

function write(name: string, content: string | Buffer): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}
