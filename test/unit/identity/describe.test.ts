import {X509Certificate as NodeX509} from 'node:crypto'

import {beforeAll, describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {type CertificateIdentity, DAY, describeCertificate, validityProblem} from '../../../src/identity/describe.js'
import {CN, cn, dns, EKU, email, ip, makeCert, NOW, O, patchBytes, StringTag, uri, x509} from '../../helpers/pki/raw.js'

const hexOf = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'))
const {digitalSignature, keyAgreement, keyEncipherment, keyCertSign} = x509.KeyUsageFlags

let full: x509.X509Certificate
let identity: CertificateIdentity
const notBefore = new Date(NOW.getTime() - 2 * DAY)
const notAfter = new Date(NOW.getTime() + 10 * DAY + DAY / 2)

beforeAll(async () => {
  full = await makeCert({
    serialNumber: '0a1b2c3d4e5f',
    subject: [[{oid: O, tag: StringTag.printable, value: 'Acme, Inc.'}], [cn('alice')], [cn('bob')]],
    sans: [
      uri('spiffe://example/alice'), dns('db.example'), uri(''), email('alice@example.com'), ip(10, 0, 0, 1),
      ip(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01), ip(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
      ip(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1), ip(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0xab, 0xcd),
      ip(10, 0, 0, 0, 255, 255, 255, 0), uri('urn:bob'), dns('other.example'),
    ],
    ekus: [EKU.clientAuth, EKU.serverAuth, '1.2.3.4', EKU.any],
    keyUsage: digitalSignature | keyAgreement,
    notBefore,
    notAfter,
  })
  identity = describeCertificate(full, 'full.crt', NOW)
})

describe('describeCertificate', () => {
  it('gives subject and issuer in RFC 4514 form and the serial in upper case', () => {
    expect(identity.subject).toBe('CN=bob,CN=alice,O=Acme\\, Inc.')
    expect(identity.issuer).toBe(identity.subject)
    expect(identity.serialNumber).toBe('0A1B2C3D4E5F')
  })

  it('gives the first CN and every CN in DER order', () => {
    expect(identity.commonName).toBe('alice')
    expect(identity.commonNames).toEqual(['alice', 'bob'])
    expect(hexOf(identity.raw.commonName)).toBe(hexOf(Buffer.from('alice')))
  })

  it('gives URIs (empty included), emails and DNS names in certificate order', () => {
    expect(identity.uris).toEqual(['spiffe://example/alice', '', 'urn:bob'])
    expect(identity.raw.uris.map(hexOf)).toEqual(['spiffe://example/alice', '', 'urn:bob'].map((u) => hexOf(Buffer.from(u))))
    expect(identity.emails).toEqual(['alice@example.com'])
    expect(identity.dnsNames).toEqual(['db.example', 'other.example'])
  })

  it('formats IPv4, compressed IPv6, and other lengths as #hex', () => {
    expect(identity.ipAddresses).toEqual(['10.0.0.1', '2001:db8::1', '::1', '2001:db8::1:0:0:1', 'fe80::1234:0:0:abcd', '#0a000000ffffff00'])
  })

  it('gives the SHA-256 fingerprint as colon-separated upper-case hex, as Node computes it', () => {
    expect(identity.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(identity.fingerprint256).toBe(new NodeX509(Buffer.from(full.rawData)).fingerprint256)
  })

  it('names extended key usages in order, with unknown ones as OIDs', () => {
    expect(identity.extendedKeyUsages).toEqual(['clientAuth', 'serverAuth', '1.2.3.4', 'anyExtendedKeyUsage'])
  })

  it('names key usages', () => {
    expect(identity.keyUsages).toEqual(['digitalSignature', 'keyAgreement'])
  })

  it('gives validity times, and whole days left rounded down', () => {
    expect(identity.notBefore).toBe(notBefore.toISOString())
    expect(identity.notAfter).toBe(notAfter.toISOString())
    expect(identity.daysLeft).toBe(10)
    expect(describeCertificate(full, 'x', new Date(notAfter.getTime() + DAY / 2)).daysLeft).toBe(-1)
    expect(describeCertificate(full, 'x', new Date(notAfter.getTime() - 1)).daysLeft).toBe(0)
  })

  it('has null EKU/key usage, no names and no Netscape flag for a bare certificate', async () => {
    const bare = describeCertificate(await makeCert({subject: [[{oid: O, value: 'Acme'}]]}), 'bare.crt', NOW)
    expect(bare).toMatchObject({commonName: null, commonNames: [], uris: [], emails: [], dnsNames: [], ipAddresses: [], extendedKeyUsages: null, keyUsages: null})
    expect(bare.raw).toEqual({commonName: undefined, uris: [], netscapeSslClient: undefined, subjectAltNames: [], subject: [[expect.objectContaining({oid: O})]]})
  })

  it('reports the Netscape SSL client bit', async () => {
    expect(describeCertificate(await makeCert({netscape: [0x05, 0xa0]}), 'a', NOW).raw.netscapeSslClient).toBe(true)
    expect(describeCertificate(await makeCert({netscape: [0x06, 0x40]}), 'b', NOW).raw.netscapeSslClient).toBe(false)
  })

  it('lists key usages in bit order', async () => {
    const id = describeCertificate(await makeCert({keyUsage: keyCertSign | keyEncipherment | x509.KeyUsageFlags.decipherOnly}), 'ku', NOW)
    expect(id.keyUsages).toEqual(['keyEncipherment', 'keyCertSign', 'decipherOnly'])
  })

  it.each([
    ['ec', 'EC P-256'],
    ['ec384', 'EC P-384'],
    ['rsa', 'RSA 2048'],
    ['ed25519', 'Ed25519'],
  ] as const)('names a %s key %j', async (key, keyType) => {
    expect(describeCertificate(await makeCert({key}), key, NOW).keyType).toBe(keyType)
  })

  it('shows odd CN bytes escaped, keeping the raw bytes', async () => {
    const t61 = describeCertificate(await makeCert({subject: [[cn(new Uint8Array([0xfc, 0x6e, 0xef]), StringTag.t61)]]}), 't61', NOW)
    expect(t61.commonName).toBe('\\xfcn\\xef')
    expect(hexOf(t61.raw.commonName)).toBe('fc6eef')
    expect(t61.subject).toBe('CN=ünï')
    const nul = describeCertificate(await makeCert({subject: [[cn('ali\0ce')], [cn('x\\y')]]}), 'nul', NOW)
    expect(nul.commonNames).toEqual(['ali\\x00ce', 'x\\\\y'])
    const utf8 = patchBytes(await makeCert({subject: [[cn('XX')]]}), Buffer.from('0c025858', 'hex'), Buffer.from('0c02fffe', 'hex'))
    const bad = describeCertificate(utf8, 'bad', NOW)
    expect(bad.commonName).toBe('\\xff\\xfe')
    expect(bad.subject).toBe('CN=#0c02fffe')
  })

  it('keeps a BMP CN as its UTF-16 bytes', async () => {
    const id = describeCertificate(await makeCert({subject: [[{oid: CN, tag: StringTag.bmp, value: new Uint8Array([0, 0x41, 0, 0x42])}]]}), 'bmp', NOW)
    expect(id.commonName).toBe('\\x00A\\x00B')
    expect(hexOf(id.raw.commonName)).toBe('00410042')
    expect(id.subject).toBe('CN=AB')
  })
})

describe('describeCertificate on malformed input', () => {
  function expectInputError(fn: () => unknown, ...parts: string[]): void {
    let thrown: unknown
    try {
      fn()
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ValkeyTlsError)
    const error = thrown as ValkeyTlsError
    expect(error.kind).toBe('input')
    expect(error.exitCode).toBe(3)
    expect(error.message).not.toContain('\n')
    for (const part of parts) expect(error.message).toContain(part)
  }

  it('wraps a DER error in an input error naming the file', () => {
    const fake = {rawData: new Uint8Array([0x04, 0x00]).buffer} as unknown as x509.X509Certificate
    expectInputError(() => describeCertificate(fake, 'broken.crt'), 'broken.crt: malformed certificate (expected Certificate SEQUENCE)')
  })

  it('wraps errors from the certificate object too', () => {
    // Only its DER is read (the fields come from x509/certificate.ts): an object whose DER cannot be had.
    const throwing = new Proxy(full, {get: (target, key) => (key === 'rawData' ? (() => { throw new TypeError('boom') })() : Reflect.get(target, key, target))})
    expectInputError(() => describeCertificate(throwing, 'proxy.crt', NOW), 'proxy.crt: malformed certificate (boom)')
  })

  it('refuses a certificate whose subject has an empty RDN, which @peculiar/x509 accepts', async () => {
    // Name "CN=ab" becomes an empty RDN followed by "CN=" (same length), in issuer and subject.
    const cert = await makeCert({subject: [[cn('ab')]]})
    const from = Buffer.from('300d310b300906035504030c026162', 'hex')
    const to = Buffer.from('300d3100310930070603550403' + '0c00', 'hex')
    const patched = patchBytes(cert, from, to)
    expect(() => patched.subject).not.toThrow()
    expectInputError(() => describeCertificate(patched, 'empty-rdn.crt', NOW), 'empty-rdn.crt', 'RelativeDistinguishedName')
  })
})

describe('validityProblem', () => {
  it('is undefined inside the validity period, boundaries included', () => {
    expect(validityProblem(identity, NOW)).toBeUndefined()
    expect(validityProblem(identity, notBefore)).toBeUndefined()
    expect(validityProblem(identity, notAfter)).toBeUndefined()
  })

  it('is expired after notAfter and not-yet-valid before notBefore', () => {
    expect(validityProblem(identity, new Date(notAfter.getTime() + 1))).toBe('expired')
    expect(validityProblem(identity, new Date(notBefore.getTime() - 1))).toBe('not-yet-valid')
  })

  it('defaults to the current time', async () => {
    const expired = describeCertificate(await makeCert({notBefore: new Date(Date.now() - 3 * DAY), notAfter: new Date(Date.now() - DAY)}), 'old')
    expect(validityProblem(expired)).toBe('expired')
    expect(expired.daysLeft).toBeLessThan(0)
  })
})
