import {generateKeyPairSync} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {loadCa} from '../../../src/pki/ca.js'
import {createCa, issueLeaf} from '../../../src/pki/issue.js'
import {privateKeyToPem} from '../../../src/pki/keys.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('vtls-ca')
const file = (name: string, data: string | Buffer) => {
  const path = join(dir, name)
  writeFileSync(path, data)
  return path
}

beforeAll(async () => {
  const ca = await createCa({keyType: 'ec-p256', days: 30, subject: {commonName: 'Good CA'}})
  file('ca.crt', ca.cert.pem)
  file('ca.key', privateKeyToPem(ca.keys.privateKey))
  const other = await createCa({keyType: 'ec-p256', days: 30, subject: {commonName: 'Other CA'}})
  file('other.key', privateKeyToPem(other.keys.privateKey))
  const leaf = await issueLeaf({issuer: ca, keyType: 'ec-p256', days: 5, profile: 'client', subject: {commonName: 'leaf'}})
  file('leaf.crt', leaf.cert.pem)
  file('leaf.key', privateKeyToPem(leaf.keys.privateKey))
  const old = await createCa({keyType: 'ec-p256', days: 1, subject: {commonName: 'Old CA'}, now: new Date(Date.now() - 3 * 86_400_000)})
  file('old.crt', old.cert.pem)
  file('old.key', privateKeyToPem(old.keys.privateKey))
  const rsa = generateKeyPairSync('rsa', {modulusLength: 2048})
  file('rsa-pkcs1.key', rsa.privateKey.export({type: 'pkcs1', format: 'pem'}) as string)
  file('encrypted.key', rsa.privateKey.export({type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret'}) as string)
  mkdirSync(join(dir, 'folder'))
})

describe('loadCa', () => {
  it('loads a matching CA certificate and key', async () => {
    const ca = await loadCa(join(dir, 'ca.crt'), join(dir, 'ca.key'))
    expect(ca.cert.subject).toBe('CN=Good CA')
    expect(ca.certPem).toMatch(/^-----BEGIN CERTIFICATE-----/)
  })

  it.each([
    ['a leaf certificate', 'leaf.crt', 'leaf.key', /is not a CA certificate/],
    ['a key from another CA', 'ca.crt', 'other.key', /does not match CA certificate/],
    ['an expired CA', 'old.crt', 'old.key', /expired on/],
    ['an RSA key for an EC CA', 'ca.crt', 'rsa-pkcs1.key', /does not match/],
    ['an encrypted key', 'ca.crt', 'encrypted.key', /encrypted with a passphrase/],
    ['a certificate given as the key', 'ca.crt', 'ca.crt', /not a valid PEM private key/],
    ['a key given as the certificate', 'ca.key', 'ca.key', /expected a CERTIFICATE, found a PRIVATE KEY block \(this is a private key/],
    ['a missing file', 'missing.crt', 'ca.key', /cannot read CA certificate .*missing\.crt: no such file/],
    ['a folder', 'folder', 'ca.key', /is a directory/],
  ])('refuses %s with an input error', async (_, cert, key, message) => {
    const attempt = loadCa(join(dir, cert), join(dir, key))
    await expect(attempt).rejects.toThrow(message)
    await expect(loadCa(join(dir, cert), join(dir, key))).rejects.toMatchObject({kind: 'input', exitCode: 3})
  })

  it('refuses an empty file and garbage', async () => {
    await expect(loadCa(file('empty.crt', ''), join(dir, 'ca.key'))).rejects.toThrow(/is empty/)
    await expect(loadCa(file('garbage.crt', Buffer.from([0xff, 0xfe, 0x00, 0x12])), join(dir, 'ca.key'))).rejects.toThrow(/not a PEM or DER certificate/)
  })
})
