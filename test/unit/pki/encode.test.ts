/**
 * The certificates src/pki/encode.ts writes are the ones @peculiar/x509 wrote for the same inputs (it made them up
 * to 0.1.0): the same bytes, signature included where the signature is deterministic (Ed25519, RSA PKCS#1 v1.5),
 * the same TBSCertificate where it is not (ECDSA). The reference below is the old issue.ts, unchanged.
 */
import 'reflect-metadata'
import {execFileSync} from 'node:child_process'
import {createPrivateKey, generateKeyPairSync, webcrypto, X509Certificate} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import * as x509 from '@peculiar/x509'
import {describe, expect, it} from 'vitest'

import {Certificate} from '../../../src/pki/certificate.js'
import {ipBytes} from '../../../src/pki/encode.js'
import {createCa, issueLeaf, type SubjectFields} from '../../../src/pki/issue.js'
import {generateKeyPair, type KeyPair} from '../../../src/pki/keys.js'
import {KEY_TYPES, type KeyType} from '../../../src/pki/key-types.js'
import {mergeSans, parseSan, type SanEntry} from '../../../src/pki/names.js'
import {reissue} from '../../../src/rotate/mint.js'
import {namedBits, oid, time, unsignedInteger} from '../../../src/x509/der-write.js'
import {childrenOf, readTlv} from '../../../src/x509/der.js'
import {makeTempDir} from '../../helpers/temp.js'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)
const subtle = webcrypto.subtle
const dir = makeTempDir('vtls-encode')

const ALGORITHMS: Record<KeyType, {key: Algorithm | EcKeyImportParams | RsaHashedImportParams; signing: Algorithm | EcdsaParams}> = {
  'ec-p256': {key: {name: 'ECDSA', namedCurve: 'P-256'} as EcKeyImportParams, signing: {name: 'ECDSA', hash: 'SHA-256'} as EcdsaParams},
  'ec-p384': {key: {name: 'ECDSA', namedCurve: 'P-384'} as EcKeyImportParams, signing: {name: 'ECDSA', hash: 'SHA-384'} as EcdsaParams},
  'rsa-2048': {key: {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'} as RsaHashedImportParams, signing: {name: 'RSASSA-PKCS1-v1_5'}},
  'rsa-3072': {key: {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'} as RsaHashedImportParams, signing: {name: 'RSASSA-PKCS1-v1_5'}},
  'rsa-4096': {key: {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'} as RsaHashedImportParams, signing: {name: 'RSASSA-PKCS1-v1_5'}},
  ed25519: {key: {name: 'Ed25519'}, signing: {name: 'Ed25519'}},
}

async function webKeys(keys: KeyPair, type: KeyType): Promise<CryptoKeyPair> {
  const algorithm = ALGORITHMS[type].key
  return {
    privateKey: await subtle.importKey('pkcs8', keys.privateKey.export({type: 'pkcs8', format: 'der'}), algorithm, true, ['sign']),
    publicKey: await subtle.importKey('spki', keys.publicKey.export({type: 'spki', format: 'der'}), algorithm, true, ['verify']),
  }
}

function subjectName(fields: SubjectFields): x509.JsonName {
  return [...(fields.organization ? [{O: [fields.organization]}] : []), {CN: [fields.commonName]}]
}

const BACKDATE_MS = 5 * 60_000

/** issue.ts's createCa as it was, with @peculiar/x509. */
async function referenceCa(keys: CryptoKeyPair, type: KeyType, serial: string, subject: SubjectFields, now: Date, days: number): Promise<x509.X509Certificate> {
  const name = subjectName(subject)
  return x509.X509CertificateGenerator.create({
    serialNumber: serial, subject: name, issuer: name,
    notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * 86_400_000),
    publicKey: keys.publicKey, signingKey: keys.privateKey, signingAlgorithm: ALGORITHMS[type].signing,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
}

/** issue.ts's issueLeaf as it was, with @peculiar/x509. */
async function referenceLeaf(o: {issuer: x509.X509Certificate; issuerKey: CryptoKey; issuerType: KeyType; keys: CryptoKeyPair; type: KeyType; serial: string; subject: SubjectFields;
  profile: 'server' | 'client'; sans?: SanEntry[]; uris?: string[]; now: Date; days: number}): Promise<x509.X509Certificate> {
  const usages = x509.KeyUsageFlags.digitalSignature | (o.type.startsWith('rsa') ? x509.KeyUsageFlags.keyEncipherment : 0)
  const ekus = o.profile === 'server' ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth]
  const altNames = [...(o.sans ?? []).map((s) => ({type: s.type, value: s.value}) as x509.JsonGeneralName), ...(o.uris ?? []).map((u) => ({type: 'url', value: u}) as x509.JsonGeneralName)]
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension(ekus, false),
    await x509.SubjectKeyIdentifierExtension.create(o.keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(o.issuer, false),
  ]
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false))
  return x509.X509CertificateGenerator.create({
    serialNumber: o.serial, subject: subjectName(o.subject), issuer: o.issuer.subjectName,
    notBefore: new Date(o.now.getTime() - BACKDATE_MS), notAfter: new Date(o.now.getTime() + o.days * 86_400_000),
    publicKey: o.keys.publicKey, signingKey: o.issuerKey, signingAlgorithm: ALGORITHMS[o.issuerType].signing, extensions,
  })
}

/** The TBSCertificate's bytes (all but the signature). */
const tbsOf = (der: Uint8Array) => {
  const [tbs] = childrenOf(readTlv(der))
  return Buffer.from(readTlv(der).value.subarray(tbs!.start, tbs!.end))
}
const deterministic = (type: KeyType) => type === 'ed25519' || type.startsWith('rsa')

const keyCache = new Map<string, KeyPair>()
async function keysFor(type: KeyType, slot: string): Promise<KeyPair> {
  const k = `${type}/${slot}`
  if (!keyCache.has(k)) keyCache.set(k, await generateKeyPair(type))
  return keyCache.get(k)!
}

describe.each(KEY_TYPES)('%s: the same certificates as @peculiar/x509 made', (type) => {
  const now = new Date('2026-03-04T05:06:07.890Z')

  it('a CA, a server leaf with every SAN form, and a client leaf with URIs', async () => {
    const caKeys = await keysFor(type, 'ca')
    const caWeb = await webKeys(caKeys, type)
    const subject = {commonName: 'Test CA', organization: 'Acme, Inc.'}
    const ours = await createCa({keyType: type, days: 30, subject, now, keys: caKeys, serial: '4a0102030405060708090a0b0c0d0e0f'})
    const theirs = await referenceCa(caWeb, type, '4a0102030405060708090a0b0c0d0e0f', subject, now, 30)
    expect(tbsOf(ours.cert.der).toString('hex')).toBe(tbsOf(new Uint8Array(theirs.rawData)).toString('hex'))
    if (deterministic(type)) expect(ours.cert.der.equals(Buffer.from(theirs.rawData))).toBe(true)

    const sans = mergeSans(['db.example', '10.1.2.3', '2001:db8::1:0:0:1', '[fe80::1]', '*.svc.example'].map(parseSan))
    const leafKeys = await keysFor(type, 'leaf')
    const server = await issueLeaf({issuer: ours, keyType: type, days: 10, profile: 'server', subject: {commonName: 'node-1'}, sans, now, keys: leafKeys, serial: '7f00'})
    const serverRef = await referenceLeaf({issuer: theirs, issuerKey: caWeb.privateKey, issuerType: type, keys: await webKeys(leafKeys, type), type, serial: '7f00',
      subject: {commonName: 'node-1'}, profile: 'server', sans, now, days: 10})
    expect(tbsOf(server.cert.der).toString('hex')).toBe(tbsOf(new Uint8Array(serverRef.rawData)).toString('hex'))
    if (deterministic(type)) expect(server.cert.der.equals(Buffer.from(serverRef.rawData))).toBe(true)

    const uris = ['spiffe://example.org/alice', 'urn:valkey:alice']
    const client = await issueLeaf({issuer: ours, keyType: type, days: 10, profile: 'client', subject: {commonName: 'alice', organization: 'Ünïcode GmbH'}, uris, now, keys: leafKeys, serial: '01'})
    const clientRef = await referenceLeaf({issuer: theirs, issuerKey: caWeb.privateKey, issuerType: type, keys: await webKeys(leafKeys, type), type, serial: '01',
      subject: {commonName: 'alice', organization: 'Ünïcode GmbH'}, profile: 'client', uris, now, days: 10})
    expect(tbsOf(client.cert.der).toString('hex')).toBe(tbsOf(new Uint8Array(clientRef.rawData)).toString('hex'))

    // And OpenSSL (Node's binding) verifies our signatures.
    const caNode = new X509Certificate(ours.cert.der)
    for (const leaf of [server, client]) expect(new X509Certificate(leaf.cert.der).verify(caNode.publicKey)).toBe(true)
    expect(caNode.verify(caNode.publicKey)).toBe(true)
    // What is reported is read back from the certificate.
    expect(server.cert.altNames).toEqual({dnsNames: ['localhost', 'db.example', '*.svc.example'], ipAddresses: ['127.0.0.1', '::1', '10.1.2.3', '2001:db8::1:0:0:1', 'fe80::1'], uris: []})
    expect(ours.cert.subject).toBe(theirs.subject)
    expect(client.cert.subject).toBe(clientRef.subject)
    expect(server.cert.serialNumber).toBe(serverRef.serialNumber)
    expect(server.cert.notBefore.toISOString()).toBe(serverRef.notBefore.toISOString())
  }, type === 'rsa-4096' ? 60_000 : 20_000)
})

describe('what @peculiar/x509 got wrong is not copied', () => {
  it('subject text is written as given: backslashes, quotes and a leading # are not read as escapes or hex', async () => {
    const org = String.raw`Back\slash "quoted" and \41`
    const ca = await createCa({keyType: 'ec-p256', days: 1, subject: {commonName: '#41 not hex', organization: org}})
    const file = join(dir, 'odd-subject.pem')
    writeFileSync(file, ca.cert.pem)
    const shown = execFileSync('openssl', ['x509', '-in', file, '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb'], {encoding: 'utf8'}).trim()
    expect(shown).toBe(String.raw`subject=CN=\#41 not hex,O=Back\\slash \"quoted\" and \\41`)
  })

  it("a leaf's authorityKeyIdentifier is the CA's subjectKeyIdentifier, even one not derived from the key (OpenSSL matches the two)", async () => {
    const caKey = generateKeyPairSync('ec', {namedCurve: 'P-256'})
    const keyFile = join(dir, 'odd-ski.key')
    writeFileSync(keyFile, caKey.privateKey.export({type: 'pkcs8', format: 'pem'}))
    const caFile = join(dir, 'odd-ski.crt')
    execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-subj', '/CN=odd SKI CA', '-days', '2', '-out', caFile,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-addext', 'subjectKeyIdentifier=0102030405', '-addext', 'authorityKeyIdentifier=none'])
    const {loadCa} = await import('../../../src/pki/ca.js')
    const ca = await loadCa(caFile, keyFile)
    const leaf = await issueLeaf({issuer: ca, keyType: 'ec-p256', days: 1, profile: 'client', subject: {commonName: 'x'}})
    const leafFile = join(dir, 'odd-ski-leaf.crt')
    writeFileSync(leafFile, leaf.cert.pem)
    expect(execFileSync('openssl', ['x509', '-in', leafFile, '-noout', '-ext', 'authorityKeyIdentifier'], {encoding: 'utf8'})).toMatch(/01:02:03:04:05/)
    expect(execFileSync('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslclient', leafFile], {encoding: 'utf8'})).toMatch(/OK/)
    // Its issuer field is the CA's subject, byte for byte.
    expect(new X509Certificate(leaf.cert.der).checkIssued(new X509Certificate(ca.cert.der))).toBe(true)
  })
})

describe('reissue (ca rotate)', () => {
  it('keeps subject, key and every extension but the authority key, byte for byte, and is signed by the new CA', async () => {
    const oldCa = await createCa({keyType: 'rsa-2048', days: 30, subject: {commonName: 'Old CA'}})
    const leaf = await issueLeaf({issuer: oldCa, keyType: 'ec-p256', days: 10, profile: 'server', subject: {commonName: 'node', organization: 'Ünïcode'}, sans: mergeSans([])})
    const newCa = await createCa({keyType: 'ed25519', days: 30, subject: {commonName: 'New CA'}})
    const again = new Certificate(readTlvPem(await reissue(leaf.cert.der, {...newCa, certPem: newCa.cert.pem})))
    expect(again.subjectDer.equals(leaf.cert.subjectDer)).toBe(true)
    expect(again.spki.equals(leaf.cert.spki)).toBe(true)
    const hex = (c: Certificate) => c.extensions.map((e) => `${e.oid}:${Buffer.from(e.der).toString('hex')}`)
    expect(hex(again).filter((e) => !e.startsWith('2.5.29.35:'))).toEqual(hex(leaf.cert).filter((e) => !e.startsWith('2.5.29.35:')))
    expect(new X509Certificate(again.der).verify(new X509Certificate(newCa.cert.der).publicKey)).toBe(true)
    expect(new X509Certificate(again.der).checkIssued(new X509Certificate(newCa.cert.der))).toBe(true)
  })
})

function readTlvPem(pem: Buffer): Buffer {
  return Buffer.from(pem.toString('latin1').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')
}

describe('DER pieces', () => {
  it('times: UTCTime through 2049, GeneralizedTime from 2050, seconds only', () => {
    expect(time(new Date('2049-12-31T23:59:59.999Z')).toString('latin1').slice(2)).toBe('491231235959Z')
    expect(time(new Date('2050-01-01T00:00:00Z')).toString('latin1').slice(2)).toBe('20500101000000Z')
    expect(time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(24)
  })

  it('INTEGER, named bits, OIDs and IP addresses as OpenSSL reads them', () => {
    expect(unsignedInteger(Buffer.from([0x00, 0x00, 0x80])).toString('hex')).toBe('02020080')
    expect(unsignedInteger(Buffer.from([0x00])).toString('hex')).toBe('020100')
    expect(namedBits([0, 5, 6]).toString('hex')).toBe('03020186') // digitalSignature, keyCertSign, cRLSign
    expect(namedBits([0]).toString('hex')).toBe('03020780')
    expect(namedBits([8]).toString('hex')).toBe('0303070080')
    expect(oid('1.2.840.113549.1.1.11').toString('hex')).toBe('06092a864886f70d01010b')
    expect(oid('2.999.3').toString('hex')).toBe('0603883703')
    expect(ipBytes('::1').toString('hex')).toBe('00000000000000000000000000000001')
    expect(ipBytes('2001:db8::').toString('hex')).toBe('20010db8000000000000000000000000')
    expect(ipBytes('::ffff:1.2.3.4').toString('hex')).toBe('00000000000000000000ffff01020304')
    expect(() => ipBytes('1.2.3.256')).toThrow(/not an IP address/)
  })

  it('an IPv4-mapped IPv6 SAN holds the mapped address (@peculiar/x509 wrote other bytes for it)', async () => {
    const ca = await createCa({keyType: 'ec-p256', days: 1, subject: {commonName: 'CA'}})
    const leaf = await issueLeaf({issuer: ca, keyType: 'ec-p256', days: 1, profile: 'server', subject: {commonName: 'm'}, sans: [parseSan('::ffff:192.0.2.1')]})
    expect(new X509Certificate(leaf.cert.der).subjectAltName).toBe('IP Address:0:0:0:0:0:FFFF:C000:201')
    expect(leaf.cert.altNames?.ipAddresses).toEqual(['::ffff:c000:201'])
    expect(new X509Certificate(leaf.cert.der).checkIP('::ffff:192.0.2.1')).toBe('::ffff:192.0.2.1')
  })

  it('a long SAN list needs a multi-byte length, which OpenSSL reads', async () => {
    const ca = await createCa({keyType: 'ec-p256', days: 1, subject: {commonName: 'CA'}})
    const sans = Array.from({length: 300}, (_, i) => parseSan(`n${i}.example`))
    const leaf = await issueLeaf({issuer: ca, keyType: 'ec-p256', days: 1, profile: 'server', subject: {commonName: 'big'}, sans})
    expect(new X509Certificate(leaf.cert.der).subjectAltName?.split(', ')).toHaveLength(300)
    expect(createPrivateKey(leaf.keys.privateKey.export({type: 'pkcs8', format: 'pem'})).asymmetricKeyType).toBe('ec')
  })
})
