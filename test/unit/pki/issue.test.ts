import {X509Certificate} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {createCa, issueLeaf, randomSerial} from '../../../src/pki/issue.js'
import {KEY_TYPES} from '../../../src/pki/key-types.js'
import {privateKeyToPem} from '../../../src/pki/keys.js'
import {mergeSans, parseSan} from '../../../src/pki/names.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('vtls-issue')

/** The extension text as OpenSSL prints it: an independent reading of what we encoded. */
function opensslText(pem: string): string {
  const file = join(dir, `${randomSerial()}.pem`)
  writeFileSync(file, pem)
  return execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], {encoding: 'utf8'})
}

describe.each(KEY_TYPES)('certificates with %s keys', (keyType) => {
  it('a CA signs a server leaf that verifies, with the right extensions', async () => {
    const ca = await createCa({keyType, days: 30, subject: {commonName: 'Test CA', organization: 'Acme, Inc.'}})
    const server = await issueLeaf({issuer: ca, keyType, days: 10, profile: 'server', subject: {commonName: 'localhost'}, sans: mergeSans([parseSan('db.example')])})

    const caCert = new X509Certificate(ca.cert.pem)
    const leaf = new X509Certificate(server.cert.pem)
    expect(caCert.ca).toBe(true)
    expect(leaf.ca).toBe(false)
    expect(leaf.checkIssued(caCert)).toBe(true)
    expect(leaf.verify(caCert.publicKey)).toBe(true)
    expect(leaf.verify(leaf.publicKey)).toBe(false)
    expect(leaf.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:db.example')
    expect(caCert.subject).toBe('O=Acme\\, Inc.\nCN=Test CA') // one O value with a comma in it
    expect(leaf.checkHost('db.example')).toBe('db.example')
    expect(leaf.checkIP('::1')).toBe('::1')
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeGreaterThan(9.9 * 86_400_000)
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeLessThan(10.1 * 86_400_000)

    const caText = opensslText(ca.cert.pem)
    expect(caText).toMatch(/Basic Constraints: critical\s+CA:TRUE/)
    expect(caText).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/)
    const leafText = opensslText(server.cert.pem)
    expect(leafText).toMatch(/Basic Constraints: critical\s+CA:FALSE/)
    expect(leafText).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/)
    expect(leafText).toMatch(/Authority Key Identifier/)

    // The exported key is the leaf's own key, in the PKCS#8 form Valkey loads.
    const keyPem = privateKeyToPem(server.keys.privateKey)
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    const {createPrivateKey, createPublicKey} = await import('node:crypto')
    expect(createPublicKey(createPrivateKey(keyPem)).export({type: 'spki', format: 'der'}).equals(leaf.publicKey.export({type: 'spki', format: 'der'}))).toBe(true)
  }, keyType === 'rsa-4096' ? 60_000 : 20_000)
})

describe('client certificates', () => {
  it('carry clientAuth only, the CN, and URI SANs in order', async () => {
    const ca = await createCa({keyType: 'ec-p256', days: 30, subject: {commonName: 'CA'}})
    const client = await issueLeaf({issuer: ca, keyType: 'ed25519', days: 1, profile: 'client', subject: {commonName: 'alice'}, uris: ['spiffe://example.org/alice', 'urn:valkey:alice']})
    const leaf = new X509Certificate(client.cert.pem)
    expect(leaf.subject).toBe('CN=alice')
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2'])
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/alice, URI:urn:valkey:alice')
    expect(leaf.verify(new X509Certificate(ca.cert.pem).publicKey)).toBe(true)
  })

  it('have no SAN extension at all when there is nothing to put in it', async () => {
    const ca = await createCa({keyType: 'ec-p256', days: 30, subject: {commonName: 'CA'}})
    const client = await issueLeaf({issuer: ca, keyType: 'ec-p256', days: 1, profile: 'client', subject: {commonName: 'bob'}})
    expect(new X509Certificate(client.cert.pem).subjectAltName).toBeUndefined()
  })
})

describe('randomSerial', () => {
  it('is 16 bytes, positive, without a leading zero byte, and different every time', () => {
    const serials = new Set(Array.from({length: 200}, randomSerial))
    expect(serials.size).toBe(200)
    for (const serial of serials) {
      expect(serial).toMatch(/^[4-7][0-9a-f]{31}$/)
    }
  })
})
