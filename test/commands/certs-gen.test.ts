import {X509Certificate} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {useTempDirs} from '../helpers/temp.js'

const tempDir = useTempDirs('vtls-gen')

const KEY_MATERIAL = /PRIVATE KEY|MII[A-Za-z0-9+/]{20}/

describe('valkey-tls certs gen', () => {
  it('with no flags and no terminal, writes the default set into ./tls without asking', async () => {
    const cwd = tempDir()
    const result = await runCli(['certs', 'gen'], {cwd})
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(readdirSync(join(cwd, 'tls')).sort()).toEqual(['ca.crt', 'ca.key', 'client.crt', 'client.key', 'server.crt', 'server.key'])
    expect(result.stdout).toContain(`tls-cert-file ${join(cwd, 'tls', 'server.crt')}`)
    expect(result.stdout).toContain('ACL SETUSER client on resetpass')
    expect(result.stdout).not.toMatch(KEY_MATERIAL)
    for (const leaf of ['server', 'client']) {
      expect(execFileSync('openssl', ['verify', '-CAfile', join(cwd, 'tls/ca.crt'), join(cwd, `tls/${leaf}.crt`)], {encoding: 'utf8'})).toMatch(/: OK/)
    }
  })

  it('--json lists every file with fingerprints and expiry and never key material; keys are 0600 under umask 000', async () => {
    const out = join(tempDir(), 'out')
    const result = await runCli(['certs', 'gen', '--out', out, '--json', '--client', 'alice', '--client', 'bob',
      '--client-uri', 'alice=spiffe://example.org/alice', '--san', 'db.example', '--san', 'IP:10.1.2.3', '--org', 'Acme', '--days', '30'],
    {env: {}})
    expect(result.code).toBe(0)
    expect(result.stdout + result.stderr).not.toMatch(KEY_MATERIAL)
    const json = JSON.parse(result.stdout)
    expect(json.files.map((f: {path: string}) => f.path.slice(out.length + 1))).toEqual([
      'ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key', 'alice.crt', 'alice.key', 'bob.crt', 'bob.key'])
    for (const file of json.files) {
      const actual = statSync(file.path).mode & 0o777
      expect(actual.toString(8).padStart(4, '0')).toBe(file.mode)
      if (file.kind === 'key' || file.kind === 'ca-key') {
        expect(actual).toBe(0o600)
        expect(file.fingerprint256).toBeUndefined()
        continue
      }
      const cert = new X509Certificate(readFileSync(file.path))
      expect(file.fingerprint256).toBe(cert.fingerprint256)
      expect(new Date(file.notAfter).getTime()).toBe(new Date(cert.validTo).getTime())
    }
    const alice = new X509Certificate(readFileSync(join(out, 'alice.crt')))
    expect(alice.subject).toBe('O=Acme\nCN=alice')
    expect(alice.subjectAltName).toBe('URI:spiffe://example.org/alice')
    const server = new X509Certificate(readFileSync(join(out, 'server.crt')))
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:db.example, IP Address:10.1.2.3')
    expect(json.config).toContain('tls-auth-clients-user URI')
    expect(json.acl).toEqual(['ACL SETUSER spiffe://example.org/alice on resetpass ~* &* +@all'])
  })

  it('refuses to overwrite anything without --force, leaving every file as it was; --force replaces all', async () => {
    const out = tempDir()
    writeFileSync(join(out, 'client.key'), 'precious')
    const refused = await runCli(['certs', 'gen', '--out', out])
    expectOneLineError(refused, 4, /client\.key already exists; pass --force/)
    expect(readdirSync(out)).toEqual(['client.key'])
    expect(readFileSync(join(out, 'client.key'), 'utf8')).toBe('precious')

    const forced = await runCli(['certs', 'gen', '--out', out, '--force', '--json'])
    expect(forced.code).toBe(0)
    expect(readFileSync(join(out, 'client.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    expect(statSync(join(out, 'client.key')).mode & 0o777).toBe(0o600)
  })

  it('signs with an existing CA without copying its key', async () => {
    const first = tempDir()
    expect((await runCli(['certs', 'gen', '--out', first])).code).toBe(0)
    const second = join(tempDir(), 'renewed')
    const result = await runCli(['certs', 'gen', '--out', second, '--ca-cert', join(first, 'ca.crt'), '--ca-key', join(first, 'ca.key'), '--key-type', 'ed25519', '--json'])
    expect(result.code).toBe(0)
    expect(readdirSync(second).sort()).toEqual(['ca.crt', 'client.crt', 'client.key', 'server.crt', 'server.key'])
    expect(readFileSync(join(second, 'ca.crt'), 'utf8')).toBe(readFileSync(join(first, 'ca.crt'), 'utf8'))
    expect(JSON.parse(result.stdout).ca.generated).toBe(false)
    expect(execFileSync('openssl', ['verify', '-CAfile', join(first, 'ca.crt'), join(second, 'server.crt')], {encoding: 'utf8'})).toMatch(/: OK/)
  })

  describe('bad input: one line, documented exit code, nothing written', () => {
    it.each([
      ['an unknown key type', ['--key-type', 'dsa-1024'], 2, /Expected --key-type=dsa-1024 to be one of/],
      ['days of 0', ['--days', '0'], 2, /--days/],
      ['negative days', ['--days=-5'], 2, /--days/],
      ['an invalid SAN', ['--san', 'not valid!'], 2, /invalid --san "not valid!"/],
      ['an invalid client name', ['--client', '../evil'], 2, /invalid --client/],
      ['a duplicate client', ['--client', 'alice', '--client', 'alice'], 2, /given twice/],
      ['a URI for an unknown client', ['--client-uri', 'carol=urn:x:carol'], 2, /there is no --client carol/],
      ['an unknown flag', ['--colour'], 2, /Nonexistent flag: --colour/],
      ['a CA cert without its key', ['--ca-cert', 'x.crt'], 2, /--ca-key/],
      ['an IPv6 zone', ['--san', 'fe80::1%eth0'], 2, /^Error: invalid --san "fe80::1%eth0": an IPv6 zone \("%eth0"\) cannot go in a certificate/],
      ['an IPv6 zone, prefixed, bracketed and percent-encoded', ['--san', 'IP:[fe80::1%25eth0]'], 2, /invalid --san "IP:\[fe80::1%25eth0\]": an IPv6 zone/],
      ['an IPv6 zone on an IPv4-mapped address', ['--san', '::ffff:10.0.0.1%2'], 2, /invalid --san .*an IPv6 zone/],
      ['a leaf that outlives its CA', ['--ca-days', '1', '--days', '2'], 2, /--days 2 is longer than --ca-days 1: a certificate must not outlive its CA; use --days 1 or less/],
      ['huge days', ['--days', '99999999999'], 2, /--days must be at most 36500 days/],
      ['huge CA days', ['--ca-days', '36501'], 2, /--ca-days must be at most 36500 days/],
      ['negative CA days', ['--ca-days=-1'], 2, /--ca-days/],
      ['days that are not a whole number', ['--days', '1.5'], 2, /--days/],
      ['a junk key type', ['--key-type', 'junk'], 2, /Expected --key-type=junk to be one of/],
      ['a client name with a tab', ['--client', 'a\tb'], 2, /invalid --client/],
      ['a client name with shell characters', ['--client', 'a$(id)'], 2, /invalid --client/],
      ['a client name with a slash', ['--client', 'a/b'], 2, /invalid --client/],
      ['a URI that is not ASCII', ['--client-uri', 'urn:caf\u00e9'], 2, /invalid --client-uri "urn:café": use printable ASCII/],
      ['a URI with a control character', ['--client-uri', 'urn:a\u0001b'], 2, /invalid --client-uri "urn:a\\u0001b"/],
      ['an organization with an escape sequence', ['--org', 'Acme\u001B[31m'], 2, /invalid --org "Acme\\u001b\[31m": control characters/],
      ['an organization longer than X.509 allows', ['--org', 'x'.repeat(65)], 2, /invalid --org: at most 64 characters \(got 65\)/],
    ])('%s', async (_, args, code, message) => {
      const cwd = tempDir()
      const result = await runCli(['certs', 'gen', '--out', 'tls', ...args], {cwd})
      expectOneLineError(result, code, message)
      expect(existsSync(join(cwd, 'tls'))).toBe(false)
      expect(result.stdout).toBe('')
    })

    it('--out that is a file, under a file, empty, or where no folder can be made', async () => {
      const dir = tempDir()
      writeFileSync(join(dir, 'plain'), 'x')
      expectOneLineError(await runCli(['certs', 'gen', '--out', join(dir, 'plain')]), 5, /exists and is not a folder/)
      expectOneLineError(await runCli(['certs', 'gen', '--out', join(dir, 'plain', 'sub')]), 5, /cannot (use|create) --out/)
      expect(readdirSync(dir)).toEqual(['plain'])
      expectOneLineError(await runCli(['certs', 'gen', '--out', ''], {cwd: dir}), 2, /^Error: --out must not be empty$/)
      expect(readdirSync(dir)).toEqual(['plain'])
      // mkdir(2) says ENOENT under /proc although /proc exists (Node 20's recursive mkdir loops forever on it).
      expectOneLineError(await runCli(['certs', 'gen', '--out', '/proc/valkey-tls-test'], {timeoutMs: 10_000}), 5, /^Error: cannot create --out \/proc\/valkey-tls-test: no such file or directory$/)
    })

    it('--days longer than what is left of --ca-cert: refused, naming the longest that fits', async () => {
      const dir = tempDir()
      expect((await runCli(['certs', 'gen', '--out', dir, '--ca-days', '10', '--days', '5'])).code).toBe(0)
      const out = join(dir, 'new')
      const signed = (days: string) => runCli(['certs', 'gen', '--out', out, '--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'), '--days', days])
      expectOneLineError(await signed('11'), 2, new RegExp(`^Error: --days 11 outlives the CA certificate ${join(dir, 'ca.crt')}, which expires on \\S+: use --days 9 or less, or renew the CA$`))
      expect(existsSync(out)).toBe(false)
      expect((await signed('9')).code).toBe(0)
      expect(new Date(new X509Certificate(readFileSync(join(out, 'server.crt'))).validTo) <= new Date(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).validTo)).toBe(true)
    })

    it('a CA that is not a CA, a key that does not match, malformed PEM', async () => {
      const dir = tempDir()
      expect((await runCli(['certs', 'gen', '--out', dir, '--client', 'alice'])).code).toBe(0)
      const out = join(dir, 'new')
      const gen = (...args: string[]) => runCli(['certs', 'gen', '--out', out, ...args])
      expectOneLineError(await gen('--ca-cert', join(dir, 'server.crt'), '--ca-key', join(dir, 'server.key')), 3, /is not a CA certificate/)
      expectOneLineError(await gen('--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'alice.key')), 3, /does not match CA certificate/)
      writeFileSync(join(dir, 'truncated.crt'), readFileSync(join(dir, 'ca.crt'), 'utf8').slice(0, 120))
      expectOneLineError(await gen('--ca-cert', join(dir, 'truncated.crt'), '--ca-key', join(dir, 'ca.key')), 3, /truncated PEM/)
      writeFileSync(join(dir, 'garbage.crt'), 'hello\n')
      expectOneLineError(await gen('--ca-cert', join(dir, 'garbage.crt'), '--ca-key', join(dir, 'ca.key')), 3, /not a PEM or DER certificate/)
      expectOneLineError(await gen('--ca-cert', join(dir, 'nope.crt'), '--ca-key', join(dir, 'ca.key')), 3, /no such file/)
      expect(existsSync(out)).toBe(false) // inputs are checked before the folder is created
    })

    it('errors under --json are JSON on stdout with the same exit code', async () => {
      const result = await runCli(['certs', 'gen', '--json', '--san', 'bad san', '--out', join(tempDir(), 'x')])
      expect(result.code).toBe(2)
      expect(JSON.parse(result.stdout)).toEqual({error: {code: 'usage', message: 'invalid --san "bad san": not a DNS name or IP address', exitCode: 2}})
    })
  })
})
