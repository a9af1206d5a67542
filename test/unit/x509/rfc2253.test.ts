/**
 * rfc2253() against the reference: `openssl x509 -noout -subject -nameopt RFC2253` on the same
 * certificate, for hand-picked subjects (multi-valued RDNs, the escaped characters, spaces, `#`, UTF-8
 * and the other string types, types OpenSSL has no name for) and for seeded random ones.
 */
import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {readRawNames} from '../../../src/x509/raw-names.js'
import {rfc2253} from '../../../src/x509/rfc2253.js'
import {bmp, CN, makeCert, O, patchBytes, type RawNameSpec, StringTag} from '../../helpers/pki/raw.js'
import {seededRandom} from '../../helpers/random.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('vtls-rfc2253')
const OU = '2.5.4.11'
const UID = '0.9.2342.19200300.100.1.1'
const DC = '0.9.2342.19200300.100.1.25'
const EMAIL = '1.2.840.113549.1.9.1'
let count = 0

/** What OpenSSL prints for the certificate's subject, without `subject=` and the newline (bytes as Latin-1: it is ASCII). */
function opensslRfc2253(der: Uint8Array): string {
  const file = join(dir, `c${count++}.der`)
  writeFileSync(file, der)
  const out = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-subject', '-nameopt', 'RFC2253'], {encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe']})
  expect(out).toMatch(/^subject=.*\n$/s)
  return out.slice('subject='.length, -1)
}

async function both(subject: RawNameSpec): Promise<{ours: string; openssl: string}> {
  const der = new Uint8Array((await makeCert({subject})).rawData)
  return {ours: rfc2253(readRawNames(der).subject), openssl: opensslRfc2253(der)}
}

const cn = (value: string | Uint8Array, tag: number = StringTag.utf8) => [{oid: CN, tag, value}]

describe('rfc2253: the subject exactly as openssl -nameopt RFC2253 prints it', () => {
  const cases: Array<[string, RawNameSpec, string]> = [
    ['RDNs last first', [[{oid: '2.5.4.6', tag: StringTag.printable, value: 'US'}], [{oid: O, value: 'Acme'}], cn('alice')], 'CN=alice,O=Acme,C=US'],
    ['multi-valued RDNs, their attributes reversed too', [[{oid: O, value: 'Acme'}, {oid: OU, value: 'Eng'}], [{oid: CN, value: 'alice'}, {oid: UID, value: 'u1'}]], 'UID=u1+CN=alice,OU=Eng+O=Acme'],
    ['the backslash-escaped characters, = left as is', [cn('a,b+c"d\\e<f>g;h=i')], 'CN=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h=i'],
    ['leading and trailing spaces only', [cn(' lead'), cn('trail '), cn('  both  '), cn(' '), cn('in side')], 'CN=in side,CN=\\ ,CN=\\  both \\ ,CN=trail\\ ,CN=\\ lead'],
    ['a leading #, not a later one, and a lone # unescaped', [cn('#x'), cn('a#'), cn('#')], 'CN=#,CN=a#,CN=\\#x'],
    ['UTF-8 as escaped bytes', [cn('é😀Ω')], 'CN=\\C3\\A9\\F0\\9F\\98\\80\\CE\\A9'],
    ['T61String bytes as Latin-1', [cn(new Uint8Array([0xfc, 0x6e, 0xef]), StringTag.t61)], 'CN=\\C3\\BCn\\C3\\AF'],
    ['PrintableString with a byte above 7F, as Latin-1', [cn(new Uint8Array([0x61, 0xe9]), StringTag.printable)], 'CN=a\\C3\\A9'],
    ['BMPString', [cn(bmp('Ωa'), StringTag.bmp)], 'CN=\\CE\\A9a'],
    ['UniversalString within the BMP', [cn(new Uint8Array([0, 0, 0x03, 0xa9, 0, 0, 0, 0x62]), StringTag.universal)], 'CN=\\CE\\A9b'],
    ['control characters and NUL', [cn('a\u0001b\u007fc\u0000d\u001f')], 'CN=a\\01b\\7Fc\\00d\\1F'],
    ['OpenSSL short names, and #DER for a type it has no name for', [
      [{oid: EMAIL, tag: StringTag.ia5, value: 'a@b.example'}], [{oid: DC, tag: StringTag.ia5, value: 'example'}], [{oid: '2.5.4.5', tag: StringTag.printable, value: '123'}],
      [{oid: '1.2.3.4', value: 'x'}], [{oid: '2.5.4.4', value: 'sn'}], [{oid: '2.5.4.42', value: 'gn'}], [{oid: '2.5.4.9', value: 'st'}], [{oid: '2.5.4.17', value: 'pc'}],
    ], 'postalCode=pc,street=st,GN=gn,SN=sn,1.2.3.4=#0C0178,serialNumber=123,DC=example,emailAddress=a@b.example'],
    ['an empty value', [cn('')], 'CN='],
    ['an empty subject', [], ''],
  ]
  it.each(cases)('%s', async (_name, subject, expected) => {
    const {ours, openssl} = await both(subject)
    expect(openssl).toBe(expected) // the reference says so (pins what the case is about)
    expect(ours).toBe(openssl)
  })

  it('names every attribute type of its table as OpenSSL does', async () => {
    const oids = ['2.5.4.12', '2.5.4.13', '2.5.4.15', '2.5.4.18', '2.5.4.41', '2.5.4.43', '2.5.4.44', '2.5.4.45', '2.5.4.46', '2.5.4.51', '2.5.4.54', '2.5.4.65', '2.5.4.72', '2.5.4.97',
      '2.5.4.7', '2.5.4.8', '1.2.840.113549.1.9.2', '1.3.6.1.4.1.311.60.2.1.1', '1.3.6.1.4.1.311.60.2.1.2', '1.3.6.1.4.1.311.60.2.1.3']
    const {ours, openssl} = await both(oids.map((oid) => [{oid, tag: StringTag.utf8, value: 'v'}]))
    expect(openssl.split(',')).toHaveLength(oids.length)
    expect(openssl).not.toMatch(/#/) // OpenSSL knows every one of them
    expect(ours).toBe(openssl)
  })

  it('prints invalid UTF-8 in a UTF8String as #DER (OpenSSL does not even load such a certificate)', async () => {
    const cert = patchBytes(await makeCert({subject: [cn('aXb')]}), Buffer.from('aXb'), Buffer.from([0x61, 0xff, 0x62]))
    const der = new Uint8Array(cert.rawData)
    expect(() => opensslRfc2253(der)).toThrow(/Command failed/)
    expect(rfc2253(readRawNames(der).subject)).toBe('CN=#0C0361FF62')
  })

  it('matches OpenSSL on seeded random subjects of tricky characters and string types', async () => {
    const random = seededRandom(2253)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
    const chars = [' ', '#', ',', '+', '"', '\\', '<', '>', ';', '=', 'a', 'Z', '0', '\u0000', '\u0001', '\u007f', 'é', 'Ω', '€', '😀', '\u00a0']
    const latin1Chars = chars.filter((c) => c.codePointAt(0)! <= 0xff)
    const bmpChars = chars.filter((c) => c.codePointAt(0)! <= 0xffff)
    const oids = [CN, O, OU, UID, DC, EMAIL, '2.5.4.6', '1.2.3.4.5']
    for (let n = 0; n < 25; n++) {
      const subject: RawNameSpec = Array.from({length: 1 + Math.floor(random() * 4)}, () => Array.from({length: random() < 0.3 ? 2 : 1}, () => {
        const tag = pick([StringTag.utf8, StringTag.utf8, StringTag.printable, StringTag.ia5, StringTag.t61, StringTag.bmp])
        const text = Array.from({length: Math.floor(random() * 5)}, () => pick(tag === StringTag.utf8 ? chars : tag === StringTag.bmp ? bmpChars : latin1Chars)).join('')
        const value = tag === StringTag.utf8 ? text : tag === StringTag.bmp ? bmp(text) : Buffer.from(text, 'latin1')
        return {oid: pick(oids), tag, value}
      }))
      const {ours, openssl} = await both(subject)
      expect(ours, JSON.stringify(subject)).toBe(openssl)
    }
  })
})
