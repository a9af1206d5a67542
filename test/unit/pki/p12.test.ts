import {execFileSync, spawnSync} from 'node:child_process'
import {createPrivateKey, createPublicKey} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {createCa, issueLeaf, randomSerial} from '../../../src/pki/issue.js'
import {KEY_TYPES} from '../../../src/pki/key-types.js'
import {privateKeyDer, privateKeyToPem} from '../../../src/pki/keys.js'
import {buildPkcs12, pkcs12Kdf} from '../../../src/pki/p12.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('vtls-p12')

function openssl(args: string[], password: string): {status: number | null; stdout: string; stderr: string} {
  const result = spawnSync('openssl', [...args, '-passin', 'env:P12_PASS'], {encoding: 'utf8', env: {...process.env, P12_PASS: password}})
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

async function makeP12(keyType: (typeof KEY_TYPES)[number], password: string, name = 'alice') {
  const ca = await createCa({keyType, days: 30, subject: {commonName: 'P12 CA'}})
  const leaf = await issueLeaf({issuer: ca, keyType, days: 10, profile: 'client', subject: {commonName: name}})
  const p12 = buildPkcs12({
    privateKey: privateKeyDer(leaf.keys.privateKey),
    cert: new Uint8Array(leaf.cert.der),
    chain: [new Uint8Array(ca.cert.der)],
    friendlyName: name,
    password,
    iterations: 2048, // the file's own iteration count is read back; fewer keep the test fast
  })
  const file = join(dir, `${randomSerial()}.p12`)
  writeFileSync(file, p12)
  return {file, ca, leaf, keyPem: privateKeyToPem(leaf.keys.privateKey)}
}

describe('pkcs12Kdf', () => {
  // No published vector for SHA-256: OpenSSL verifying the MAC it keys is the independent check.
  it('is the RFC 7292 appendix B derivation: a MAC OpenSSL verifies', async () => {
    const {file} = await makeP12('ec-p256', 'smeg')
    const good = openssl(['pkcs12', '-in', file, '-info', '-nokeys', '-noout'], 'smeg')
    expect(good.stderr).toMatch(/MAC: sha256, Iteration 2048/)
    expect(good.status).toBe(0)
  })

  it('depends on every input', () => {
    const salt = Buffer.from('0a58cf64530d823f', 'hex')
    const base = pkcs12Kdf('smeg', salt, 2, 3, 32).toString('hex')
    expect(pkcs12Kdf('smeh', salt, 2, 3, 32).toString('hex')).not.toBe(base)
    expect(pkcs12Kdf('smeg', Buffer.from('0a58cf64530d8240', 'hex'), 2, 3, 32).toString('hex')).not.toBe(base)
    expect(pkcs12Kdf('smeg', salt, 3, 3, 32).toString('hex')).not.toBe(base)
    expect(pkcs12Kdf('smeg', salt, 2, 1, 32).toString('hex')).not.toBe(base)
  })
})

describe.each(KEY_TYPES.filter((t) => t !== 'rsa-3072' && t !== 'rsa-4096'))('buildPkcs12 with %s keys', (keyType) => {
  it('openssl reads it with the password: MAC, the leaf and CA certificates, and the key that matches the leaf', async () => {
    const password = 'pässwörd 1'
    const {file, ca, leaf, keyPem} = await makeP12(keyType, password)
    const info = openssl(['pkcs12', '-in', file, '-info', '-nokeys'], password)
    expect(info.status).toBe(0)
    expect(info.stderr).toMatch(/MAC: sha256, Iteration 2048/)
    expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/)
    const certs = info.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
    expect(certs.map((c) => c.replace(/\s+/g, ''))).toEqual([leaf.cert.pem, ca.cert.pem].map((c) => c.replace(/\s+/g, '')))
    expect(info.stdout).toMatch(/friendlyName: alice/)

    const keys = openssl(['pkcs12', '-in', file, '-nocerts', '-nodes'], password)
    expect(keys.status).toBe(0)
    const extracted = createPrivateKey(keys.stdout.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)![0])
    const spki = (k: ReturnType<typeof createPrivateKey>) => createPublicKey(k).export({type: 'spki', format: 'der'}).toString('hex')
    expect(spki(extracted)).toBe(spki(createPrivateKey(keyPem)))
    // The key bag and the leaf carry the same localKeyId (how readers pair them).
    const ids = [...(info.stdout + keys.stdout).matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]!.trim())
    expect(ids).toHaveLength(2)
    expect(ids[0]).toBe(ids[1])
  })

  it('a wrong password is refused by openssl', async () => {
    const {file} = await makeP12(keyType, 'right')
    const wrong = openssl(['pkcs12', '-in', file, '-info', '-nokeys', '-noout'], 'wrong')
    expect(wrong.status).not.toBe(0)
    expect(wrong.stderr).toMatch(/mac verify error: invalid password/i)
  })
})

it('the file never contains the key in clear', async () => {
  const {file, keyPem} = await makeP12('ec-p256', 'x')
  const p12 = execFileSync('cat', [file])
  const der = createPrivateKey(keyPem).export({type: 'pkcs8', format: 'der'})
  const scalar = Buffer.from(createPrivateKey(keyPem).export({format: 'jwk'}).d!, 'base64url')
  expect(scalar).toHaveLength(32)
  expect(p12.includes(der)).toBe(false)
  expect(p12.includes(scalar)).toBe(false)
})
