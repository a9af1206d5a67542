/** `certs verify`: the validation `reload` relies on, offline, against openssl-made certificates. */
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {type Ca, issueCert, type KeyPair, makeCa, makeExpiredCert, makeNotYetValidCert} from '../helpers/pki/openssl.js'
import {makeTempDir} from '../helpers/temp.js'

const dir = makeTempDir('vtls-verify')

let ca: Ca
let otherCa: Ca
let good: KeyPair
let expired: KeyPair
let future: KeyPair
let foreign: KeyPair
let shortLived: KeyPair

beforeAll(async () => {
  ca = await makeCa(join(dir, 'ca'))
  otherCa = await makeCa(join(dir, 'other'), {cn: 'other CA'})
  good = await issueCert(ca, dir, 'good', {cn: 'localhost', usage: 'server'})
  expired = await makeExpiredCert(ca, dir, 'expired', {cn: 'localhost', usage: 'server'})
  future = await makeNotYetValidCert(ca, dir, 'future', {cn: 'localhost', usage: 'server'})
  foreign = await issueCert(otherCa, dir, 'foreign', {cn: 'localhost', usage: 'server'})
  shortLived = await issueCert(ca, dir, 'short', {cn: 'localhost', usage: 'server', days: 5})
}, 60_000)

// These are server certificates (serverAuth only): checked as such.
const verify = (...args: string[]) => runCli(['certs', 'verify', '--purpose', 'server', ...args])

describe('valkey-tls certs verify', () => {
  it('a good certificate, its key and its CA: exit 0, and --json says what was checked', async () => {
    const result = await verify('--cert', good.cert, '--key', good.key, '--ca', ca.cert, '--json')
    expect(result.code).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({ok: true, keyMatches: true, chainVerified: true, problems: []})
    expect(json.fingerprint256).toBe(execFileSync('openssl', ['x509', '-in', good.cert, '-noout', '-fingerprint', '-sha256'], {encoding: 'utf8'}).trim().replace(/^.*=/, ''))
    expect(result.stdout).not.toMatch(/PRIVATE KEY/)
  })

  const refusals: Array<[string, () => string[], string, RegExp]> = [
    ['an expired certificate', () => ['--cert', expired.cert, '--key', expired.key, '--ca', ca.cert], 'expired', /expired on/],
    ['a certificate not valid yet', () => ['--cert', future.cert, '--key', future.key, '--ca', ca.cert], 'not-yet-valid', /not valid before/],
    ['a key that is not the certificate\'s', () => ['--cert', good.cert, '--key', foreign.key, '--ca', ca.cert], 'key-mismatch', /is not the private key of/],
    ['a certificate from another CA', () => ['--cert', foreign.cert, '--key', foreign.key, '--ca', ca.cert], 'untrusted', /^a client verifying with .* refuses .* as a server certificate: unable to verify the first certificate$/m],
    ['a certificate inside --min-days', () => ['--cert', shortLived.cert, '--key', shortLived.key, '--min-days', '30'], 'expires-soon', /within --min-days 30/],
  ]
  it.each(refusals)('%s: refused, exit 10, with the reason', async (_name, args, code, message) => {
    const result = await verify(...args(), '--json')
    expect(result.code).toBe(10)
    const json = JSON.parse(result.stdout)
    expect(json.ok).toBe(false)
    expect(json.problems.map((p: {code: string}) => p.code)).toContain(code)
    expect(json.problems.map((p: {message: string}) => p.message).join('\n')).toMatch(message)
  })

  it('an encrypted key: refused without the passphrase, accepted with it, which is never printed', async () => {
    const encrypted = join(dir, 'encrypted.key')
    execFileSync('openssl', ['pkey', '-in', good.key, '-aes256', '-passout', 'pass:s3cret-pass', '-out', encrypted])
    const without = await verify('--cert', good.cert, '--key', encrypted)
    expect(without.code).toBe(10)
    expect(without.stdout).toMatch(/is encrypted and no passphrase was given/)
    const wrong = await runCli(['certs', 'verify', '--cert', good.cert, '--key', encrypted], {env: {VALKEY_TLS_KEY_PASSPHRASE: 'nope'}})
    expect(wrong.stdout).toMatch(/wrong passphrase/)
    const right = await runCli(['certs', 'verify', '--purpose', 'server', '--cert', good.cert, '--key', encrypted, '--ca', ca.cert], {env: {VALKEY_TLS_KEY_PASSPHRASE: 's3cret-pass'}})
    expect(right.code).toBe(0)
    expect(right.stdout + right.stderr).not.toContain('s3cret-pass')
  })

  it('a certificate file with its chain: the leaf comes first and the chain is followed to the CA', async () => {
    const bundle = join(dir, 'bundle.crt')
    writeFileSync(bundle, readFileSync(good.cert, 'utf8') + readFileSync(ca.cert, 'utf8'))
    const result = await verify('--cert', bundle, '--key', good.key, '--ca', ca.cert)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^OK: safe to load/)
  })

  it('a garbage certificate file is an input error: one line, exit 3', async () => {
    const garbage = join(dir, 'garbage.crt')
    writeFileSync(garbage, 'not a certificate\n')
    expectOneLineError(await verify('--cert', garbage), 3, /garbage\.crt: (no PEM data found|not a PEM or DER certificate)/)
  })
})
