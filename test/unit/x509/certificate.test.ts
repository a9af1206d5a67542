import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {splitPem} from '../../../src/pki/pem.js'
import {keyTypeOf, readBasicConstraints, readCertificateFields, readExtendedKeyUsage, readKeyUsage, readTime} from '../../../src/x509/certificate.js'
import {DerError, readTlv} from '../../../src/x509/der.js'
import {oidDer, tlv} from '../../helpers/pki/raw.js'

const dir = mkdtempSync(join(tmpdir(), 'vtls-x509-fields-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const KU_TEXT: Record<string, number> = {
  'Digital Signature': 1, 'Non Repudiation': 2, 'Key Encipherment': 4, 'Data Encipherment': 8, 'Key Agreement': 16,
  'Certificate Sign': 32, 'CRL Sign': 64, 'Encipher Only': 128, 'Decipher Only': 256,
}
const EKU_TEXT: Record<string, string> = {
  'TLS Web Client Authentication': '1.3.6.1.5.5.7.3.2', 'TLS Web Server Authentication': '1.3.6.1.5.5.7.3.1', 'Code Signing': '1.3.6.1.5.5.7.3.3',
  'E-mail Protection': '1.3.6.1.5.5.7.3.4', 'Time Stamping': '1.3.6.1.5.5.7.3.8', 'OCSP Signing': '1.3.6.1.5.5.7.3.9', 'Any Extended Key Usage': '2.5.29.37.0',
}

/** A self-signed certificate made by the openssl command, and what `openssl x509 -text` says of it. */
function opensslCert(algorithm: string[], extensions: string, extra: string[] = []): {der: Uint8Array; text: string; dates: string} {
  const n = Math.random().toString(36).slice(2)
  const key = join(dir, `${n}.key`)
  const cert = join(dir, `${n}.crt`)
  execFileSync('openssl', ['genpkey', ...algorithm, '-out', key], {stdio: 'ignore'})
  const config = join(dir, `${n}.cnf`)
  writeFileSync(config, `[req]\ndistinguished_name=dn\n[dn]\n[x]\n${extensions}\n`)
  execFileSync('openssl', ['req', '-x509', '-new', '-key', key, '-subj', '/CN=t', '-days', '30', '-config', config, '-extensions', 'x', '-out', cert, ...extra], {stdio: 'ignore'})
  const text = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-text'], {encoding: 'utf8'})
  const dates = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-dates', '-serial', '-dateopt', 'iso_8601'], {encoding: 'utf8'})
  return {der: splitPem(readFileSync(cert, 'latin1'), cert)[0]!.der, text, dates}
}

/** The lines after an extension's heading in `openssl x509 -text`. */
const extensionText = (text: string, heading: string) => new RegExp(`${heading}:.*\\n\\s*(.*)`).exec(text)?.[1]?.trim()

describe('readCertificateFields, against openssl x509 -text', () => {
  it.each([
    ['RSA 2048', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], /Public-Key: \(2048 bit\)/],
    ['RSA 3072', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'], /Public-Key: \(3072 bit\)/],
    ['RSA', ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'], /rsassaPss/],
    ['EC P-256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], /NIST CURVE: P-256/],
    ['EC P-384', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], /NIST CURVE: P-384/],
    ['EC P-521', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'], /NIST CURVE: P-521/],
    ['EC K-256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], /ASN1 OID: secp256k1/],
    ['EC brainpoolP256r1', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1'], /ASN1 OID: brainpoolP256r1/],
    ['1.2.840.10045.2.1', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp224r1'], /ASN1 OID: secp224r1/], // unnamed here, as @peculiar/x509 had it
    ['1.2.840.10045.2.1', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:explicit'], /Field Type: prime-field/],
    ['Ed25519', ['-algorithm', 'ED25519'], /Public Key Algorithm: ED25519/],
    ['EdDSA', ['-algorithm', 'ED448'], /Public Key Algorithm: ED448/],
  ])('names the key %s', (keyType, algorithm, opensslSays) => {
    const {der, text} = opensslCert(algorithm, 'basicConstraints=CA:FALSE')
    expect(text).toMatch(opensslSays)
    expect(keyTypeOf(readCertificateFields(der).spki)).toBe(keyType)
  })

  it.each([
    ['keyUsage=digitalSignature\nextendedKeyUsage=clientAuth'],
    ['keyUsage=critical,keyAgreement,keyCertSign,cRLSign,encipherOnly,decipherOnly\nextendedKeyUsage=serverAuth,clientAuth,codeSigning,emailProtection,timeStamping,OCSPSigning,anyExtendedKeyUsage,1.2.3.4'],
    ['keyUsage=nonRepudiation,keyEncipherment,dataEncipherment\nbasicConstraints=critical,CA:TRUE,pathlen:3'],
    ['basicConstraints=CA:TRUE'],
    ['subjectAltName=DNS:x'],
  ])('reads serial, dates, keyUsage, extendedKeyUsage and basicConstraints as openssl does (%j)', (extensions) => {
    const {der, text, dates} = opensslCert(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], extensions, ['-set_serial', '0x00ff01'])
    const fields = readCertificateFields(der)
    expect(Buffer.from(fields.serialNumber).toString('hex').toUpperCase()).toBe(/serial=(\w+)/.exec(dates)![1]!.padStart(2 * fields.serialNumber.length, '0'))
    expect(fields.notBefore.toISOString().replace('.000Z', 'Z')).toBe(/notBefore=(.*)/.exec(dates)![1]!.replace(' ', 'T'))
    expect(fields.notAfter.toISOString().replace('.000Z', 'Z')).toBe(/notAfter=(.*)/.exec(dates)![1]!.replace(' ', 'T'))

    const ku = extensionText(text, 'X509v3 Key Usage')
    expect(fields.keyUsage).toBe(ku === undefined ? undefined : ku.split(', ').reduce((flags, name) => flags | KU_TEXT[name]!, 0))
    const eku = extensionText(text, 'X509v3 Extended Key Usage')
    expect(fields.extendedKeyUsage).toEqual(eku?.split(', ').map((name) => EKU_TEXT[name] ?? name))
    const bc = extensionText(text, 'X509v3 Basic Constraints')
    expect(fields.basicConstraints).toEqual(bc === undefined ? undefined : {ca: bc.startsWith('CA:TRUE'), pathLength: /pathlen:(\d+)/.exec(bc) ? Number(/pathlen:(\d+)/.exec(bc)![1]) : undefined})
  })
})

describe('the DER readers, on hand-made values', () => {
  const bitString = (...bytes: number[]) => new Uint8Array(tlv(0x03, Buffer.from(bytes)))
  it('keyUsage: bit n of the BIT STRING is 1 << n; unused bits do not count', () => {
    expect(readKeyUsage(bitString(7, 0x80))).toBe(1) // digitalSignature
    expect(readKeyUsage(bitString(1, 0x85))).toBe(1 | 32) // keyCertSign; the last bit (set) is unused
    expect(readKeyUsage(bitString(7, 0x00, 0x80))).toBe(256) // decipherOnly
    expect(readKeyUsage(bitString(0, 0xff, 0xff, 0xff))).toBe(511) // bits past decipherOnly are no usage
    expect(readKeyUsage(bitString(0))).toBe(0)
    expect(() => readKeyUsage(bitString())).toThrow(DerError)
    expect(() => readKeyUsage(bitString(8, 0x80))).toThrow(DerError)
    expect(() => readKeyUsage(new Uint8Array(tlv(0x04, Buffer.from([0]))))).toThrow('expected keyUsage BIT STRING')
  })

  it('extendedKeyUsage: the OIDs in order, an empty SEQUENCE is none', () => {
    expect(readExtendedKeyUsage(new Uint8Array(tlv(0x30, oidDer('1.3.6.1.5.5.7.3.2'), oidDer('1.2.3.4'))))).toEqual(['1.3.6.1.5.5.7.3.2', '1.2.3.4'])
    expect(readExtendedKeyUsage(new Uint8Array(tlv(0x30)))).toEqual([])
    expect(() => readExtendedKeyUsage(new Uint8Array(tlv(0x30, tlv(0x04, Buffer.from([1])))))).toThrow('expected KeyPurposeId')
  })

  it('basicConstraints: cA defaults to FALSE; pathLenConstraint is optional', () => {
    expect(readBasicConstraints(new Uint8Array(tlv(0x30)))).toEqual({ca: false, pathLength: undefined})
    expect(readBasicConstraints(new Uint8Array(tlv(0x30, tlv(0x01, Buffer.from([0xff])), tlv(0x02, Buffer.from([0])))))).toEqual({ca: true, pathLength: 0})
    expect(() => readBasicConstraints(new Uint8Array(tlv(0x30, tlv(0x02, Buffer.from([0x80])))))).toThrow(DerError)
    expect(() => readBasicConstraints(new Uint8Array(tlv(0x30, tlv(0x01, Buffer.from([1, 1])))))).toThrow(DerError)
  })

  it('times: UTCTime years 50-99 are 19xx, GeneralizedTime as written, nothing else', () => {
    const time = (tag: number, text: string) => readTlv(new Uint8Array(tlv(tag, Buffer.from(text))))
    expect(readTime(time(0x17, '491231235959Z'), 't').toISOString()).toBe('2049-12-31T23:59:59.000Z')
    expect(readTime(time(0x17, '500101000000Z'), 't').toISOString()).toBe('1950-01-01T00:00:00.000Z')
    expect(readTime(time(0x18, '20991231235959Z'), 't').toISOString()).toBe('2099-12-31T23:59:59.000Z')
    expect(readTime(time(0x18, '00050101000000Z'), 't').toISOString()).toBe('0005-01-01T00:00:00.000Z')
    for (const [tag, text] of [[0x17, '5001010000Z'], [0x17, '500101000000+0100'], [0x18, '20991231235959.5Z'], [0x04, '500101000000Z']] as const) {
      expect(() => readTime(time(tag, text), 't')).toThrow(DerError)
    }
  })
})
