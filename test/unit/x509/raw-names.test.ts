import {describe, expect, it} from 'vitest'

import {DerError} from '../../../src/x509/der.js'
import {type RawName, firstCommonName, readRawNames} from '../../../src/x509/raw-names.js'
import {bmp, CN, cn, der, dns, email, encodeName, ip, makeCert, O, oidDer, patchBytes, San, StringTag, tlv, uri} from '../../helpers/pki/raw.js'

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('latin1'))
const hexOf = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'))
/** [oid, tag, latin1 value] per attribute, RDN by RDN. */
const shape = (name: RawName) => name.map((rdn) => rdn.map((a) => [a.oid, a.valueTag, text(a.value)]))

// --- hand-built certificates, for structures no generator writes ---------------------------------
const ECDSA_SHA256 = '1.2.840.10045.4.3.2'
const name = (...cns: string[]) => encodeName(cns.map((value) => [{oid: CN, value}]))
const extension = (oid: string, value: Buffer, critical = false) =>
  tlv(0x30, oidDer(oid), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value))
const sanValue = (...entries: Buffer[]) => tlv(0x30, ...entries)

function handCert(parts: {version?: boolean; issuer?: Buffer; subject?: Buffer | null; after?: Buffer[]}): Uint8Array {
  const tbs = tlv(
    0x30,
    ...(parts.version === false ? [] : [tlv(0xa0, tlv(0x02, Buffer.from([2])))]),
    tlv(0x02, Buffer.from([1])),
    tlv(0x30, oidDer(ECDSA_SHA256)),
    parts.issuer ?? name('issuer'),
    tlv(0x30, tlv(0x17, Buffer.from('250101000000Z')), tlv(0x17, Buffer.from('350101000000Z'))),
    // subject: null ends the TBSCertificate after the validity.
    ...(parts.subject === null ? [] : [
      parts.subject ?? name('subject'),
      tlv(0x30, tlv(0x30, oidDer('1.2.840.10045.2.1')), tlv(0x03, Buffer.from([0]))),
      ...(parts.after ?? []),
    ]),
  )
  return new Uint8Array(tlv(0x30, tbs, tlv(0x30, oidDer(ECDSA_SHA256)), tlv(0x03, Buffer.from([0]))))
}

function expectDerError(fn: () => unknown, message: string): void {
  expect(fn).toThrow(DerError)
  expect(fn).toThrow(message)
}

describe('readRawNames on generated certificates', () => {
  it('reads every RDN in DER order; firstCommonName is the first CN, not the last', async () => {
    const cert = await makeCert({subject: [[{oid: O, tag: StringTag.printable, value: 'Acme'}], [cn('first')], [cn('second')]]})
    const names = readRawNames(der(cert))
    expect(shape(names.subject)).toEqual([[[O, 19, 'Acme']], [[CN, 12, 'first']], [[CN, 12, 'second']]])
    expect(text(firstCommonName(names.subject))).toBe('first')
    expect(shape(names.issuer)).toEqual(shape(names.subject)) // self-signed
  })

  it('keeps a multi-valued RDN in written order (not DER-sorted)', async () => {
    const cert = await makeCert({subject: [[cn('zeta'), cn('alpha')], [cn('beta')]]})
    const {subject} = readRawNames(der(cert))
    expect(shape(subject)).toEqual([[[CN, 12, 'zeta'], [CN, 12, 'alpha']], [[CN, 12, 'beta']]])
    expect(text(firstCommonName(subject))).toBe('zeta')
  })

  it('finds a CN inside a multi-valued RDN after another attribute', async () => {
    const cert = await makeCert({subject: [[{oid: O, value: 'Acme'}, cn('inside')], [cn('later')]]})
    expect(text(firstCommonName(readRawNames(der(cert)).subject))).toBe('inside')
  })

  it.each([
    ['T61String Latin-1', StringTag.t61, new Uint8Array([0xfc, 0x6e, 0xef]), 20],
    ['BMPString', StringTag.bmp, new Uint8Array(bmp('AB')), 30],
    ['UTF8String with NUL', StringTag.utf8, new Uint8Array(Buffer.from('ali\0ce')), 12],
    ['IA5String', StringTag.ia5, new Uint8Array(Buffer.from('alice')), 22],
    ['300-byte PrintableString', StringTag.printable, new Uint8Array(Buffer.alloc(300, 'a')), 19],
  ])('gives the CN content bytes of a %s', async (_, tag, value, valueTag) => {
    const cert = await makeCert({subject: [[cn(value, tag)], [cn('other')]]})
    const {subject} = readRawNames(der(cert))
    expect(hexOf(firstCommonName(subject))).toBe(hexOf(value))
    expect(subject[0]![0]!.valueTag).toBe(valueTag)
    expect(hexOf(subject[0]![0]!.valueDer)).toBe(hexOf(tlv(tag, value)))
  })

  it('gives invalid UTF-8 bytes as they are', async () => {
    const cert = patchBytes(await makeCert({subject: [[cn('XX')]]}), Buffer.from('0c025858', 'hex'), Buffer.from('0c02fffe', 'hex'))
    expect(hexOf(firstCommonName(readRawNames(der(cert)).subject))).toBe('fffe')
  })

  it('distinguishes no CN (undefined) from an empty first CN', async () => {
    const none = await makeCert({subject: [[{oid: O, value: 'Acme'}]]})
    expect(firstCommonName(readRawNames(der(none)).subject)).toBeUndefined()
    const empty = await makeCert({subject: [[cn('')], [cn('alice')]]})
    expect(hexOf(firstCommonName(readRawNames(der(empty)).subject))).toBe('')
  })

  it('lists subjectAltName entries in certificate order, empty URIs included', async () => {
    const cert = await makeCert({
      sans: [
        uri('nosuch'), uri(''), dns('db.example'), uri('alice'), email('a@example.com'), ip(127, 0, 0, 1),
        ip(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), uri(new Uint8Array([0x61, 0, 0x62])),
        {tag: San.otherName, value: Buffer.concat([oidDer('1.3.6.1.4.1.311.20.2.3'), tlv(0xa0, tlv(0x0c, Buffer.from('upn')))])},
        {tag: San.dirName, value: encodeName([[cn('dir')]])},
      ],
    })
    const sans = readRawNames(der(cert)).subjectAltNames
    expect(sans.map((s) => ('value' in s ? [s.type, hexOf(s.value)] : [s.type, s.tagNumber]))).toEqual([
      ['uri', hexOf(Buffer.from('nosuch'))], ['uri', ''], ['dns', hexOf(Buffer.from('db.example'))], ['uri', hexOf(Buffer.from('alice'))],
      ['email', hexOf(Buffer.from('a@example.com'))], ['ip', '7f000001'], ['ip', '00000000000000000000000000000001'], ['uri', '610062'],
      ['other', 0], ['other', 4],
    ])
  })

  it('has no subjectAltNames and no Netscape cert type without the extensions', async () => {
    const names = readRawNames(der(await makeCert({ekus: ['1.3.6.1.5.5.7.3.2'], keyUsage: 1})))
    expect(names.subjectAltNames).toEqual([])
    expect(names.netscapeCertType).toBeUndefined()
  })

  it.each([
    [[0x07, 0x80], 0x80], // SSL client
    [[0x05, 0xa0], 0xa0], // SSL client + S/MIME
    [[0x06, 0x40], 0x40], // SSL server only
    [[0x00], 0], // no bits at all
  ])('reads the Netscape cert type bits %j as %i', async (bits, expected) => {
    expect(readRawNames(der(await makeCert({netscape: bits}))).netscapeCertType).toBe(expected)
  })
})

describe('readRawNames on hand-built DER', () => {
  it('finds issuer and subject without the optional version field', () => {
    const names = readRawNames(handCert({version: false, issuer: name('ca'), subject: name('leaf')}))
    expect(shape(names.issuer)).toEqual([[[CN, 12, 'ca']]])
    expect(shape(names.subject)).toEqual([[[CN, 12, 'leaf']]])
    expect(names.subjectAltNames).toEqual([])
  })

  it('skips issuer/subject unique IDs and reads a critical SAN among other extensions', () => {
    const extensions = tlv(0xa3, tlv(0x30,
      extension('2.5.29.19', tlv(0x30)),
      extension('2.5.29.17', sanValue(tlv(0x86, Buffer.from('u1')), tlv(0x86, Buffer.from('u2'))), true),
    ))
    const names = readRawNames(handCert({after: [tlv(0x81, Buffer.from([0, 1])), tlv(0x82, Buffer.from([0, 2])), extensions]}))
    expect(names.subjectAltNames.map((s) => s.type === 'uri' && text(s.value))).toEqual(['u1', 'u2'])
  })

  it('reports a non-string value with its tag, and -1 for a non-universal one', () => {
    const subject = tlv(0x30, tlv(0x31, tlv(0x30, oidDer(O), tlv(0x04, Buffer.from([1, 2])))), tlv(0x31, tlv(0x30, oidDer(CN), tlv(0x80, Buffer.from('x')))))
    const names = readRawNames(handCert({subject}))
    expect(names.subject.map((rdn) => rdn[0]!.valueTag)).toEqual([4, -1])
    expect(hexOf(names.subject[0]![0]!.valueDer)).toBe('04020102')
  })

  it.each([
    ['an empty RDN', () => handCert({subject: tlv(0x30, tlv(0x31))}), 'empty RelativeDistinguishedName'],
    ['an attribute with three parts', () => handCert({subject: tlv(0x30, tlv(0x31, tlv(0x30, oidDer(CN), tlv(0x0c, Buffer.from('a')), tlv(0x0c, Buffer.from('b')))))}), 'malformed AttributeTypeAndValue'],
    ['an attribute without a value', () => handCert({subject: tlv(0x30, tlv(0x31, tlv(0x30, oidDer(CN))))}), 'malformed AttributeTypeAndValue'],
    ['an attribute type that is not an OID', () => handCert({subject: tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x0c, Buffer.from('CN')), tlv(0x0c, Buffer.from('a')))))}), 'expected attribute type'],
    ['an RDN that is a SEQUENCE', () => handCert({subject: tlv(0x30, tlv(0x30, tlv(0x30, oidDer(CN), tlv(0x0c, Buffer.from('a')))))}), 'expected RelativeDistinguishedName'],
    ['a Name that is a SET', () => handCert({subject: tlv(0x31)}), 'expected Name'],
    ['a TBSCertificate that ends before the subject', () => handCert({subject: null}), 'expected Name'],
    ['a universal-class GeneralName', () => handCert({after: [tlv(0xa3, tlv(0x30, extension('2.5.29.17', sanValue(tlv(0x16, Buffer.from('x'))))))]}), 'malformed GeneralName'],
    ['a SAN that is not a SEQUENCE', () => handCert({after: [tlv(0xa3, tlv(0x30, extension('2.5.29.17', tlv(0x04))))]}), 'expected GeneralNames'],
    ['an extension without a value', () => handCert({after: [tlv(0xa3, tlv(0x30, tlv(0x30, oidDer('2.5.29.17'))))]}), 'expected extension value'],
    ['a Netscape cert type that is not a BIT STRING', () => handCert({after: [tlv(0xa3, tlv(0x30, extension('2.16.840.1.113730.1.1', tlv(0x04, Buffer.from([0x80])))))]}), 'expected Netscape cert type'],
    ['a primitive [3]', () => handCert({after: [tlv(0x83, Buffer.from([0]))]}), 'expected a constructed value'],
  ])('throws DerError for %s', (_, build, message) => {
    expectDerError(() => readRawNames(build()), message)
  })

  it('throws DerError when the input is not a SEQUENCE or has trailing garbage inside', () => {
    expectDerError(() => readRawNames(new Uint8Array([0x04, 0x00])), 'expected Certificate SEQUENCE')
    expectDerError(() => readRawNames(new Uint8Array([0x30, 0x02, 0x04, 0x00])), 'expected TBSCertificate')
    expectDerError(() => readRawNames(new Uint8Array([0x30, 0x03, 0x30, 0x00, 0x00])), 'truncated')
  })

  it('throws DerError for every truncation of a real certificate', async () => {
    const full = der(await makeCert({sans: [uri('alice')], netscape: [0x07, 0x80]}))
    expect(readRawNames(full).subjectAltNames).toHaveLength(1)
    for (let n = 0; n < full.length; n++) expect(() => readRawNames(full.subarray(0, n)), `prefix of ${n} bytes`).toThrow(DerError)
  })
})
