/**
 * Certificates with hand-encoded subjects and subjectAltNames (any string type, NUL bytes, empty
 * values, unsorted multi-valued RDNs, several CNs), signed by an openssl-made CA. OpenSSL's `req -subj`
 * cannot express most of these; @peculiar/x509 signs whatever DER we give it. Deliberately does not
 * use the tool's own code.
 */
import 'reflect-metadata'
import {createPrivateKey, webcrypto} from 'node:crypto'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import * as x509 from '@peculiar/x509'

import type {Ca, KeyPair} from './openssl-pki.js'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

const ALG = {name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256'}

// --- a tiny DER encoder -----------------------------------------------------------------------
function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}
export const tlv = (tag: number, ...content: Uint8Array[]): Buffer => {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), length(body.length), body])
}
const oid = (dotted: string): Buffer => {
  const arcs = dotted.split('.').map(Number)
  const out = [40 * arcs[0]! + arcs[1]!]
  for (const arc of arcs.slice(2)) {
    const b: number[] = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | (v & 0x7f))
    out.push(...b)
  }
  return tlv(0x06, Buffer.from(out))
}

export const StringTag = {utf8: 0x0c, printable: 0x13, t61: 0x14, ia5: 0x16, bmp: 0x1e, universal: 0x1c} as const
export const CN = '2.5.4.3'
export const O = '2.5.4.10'

/** One attribute: an OID and a value as raw bytes under a string tag. */
export interface Attr {
  oid: string
  tag?: number
  value: string | Uint8Array
}
/** A name: RDNs in DER order, attributes in the order written (not DER-sorted). */
export type RawNameSpec = Attr[][]

export function encodeName(rdns: RawNameSpec): Buffer {
  return tlv(0x30, ...rdns.map((rdn) => tlv(0x31, ...rdn.map((a) => tlv(0x30, oid(a.oid), tlv(a.tag ?? StringTag.utf8, typeof a.value === 'string' ? Buffer.from(a.value) : a.value))))))
}

/** Helpers for common string encodings. */
export const bmp = (s: string): Buffer => Buffer.from([...s].flatMap((c) => [c.charCodeAt(0) >> 8, c.charCodeAt(0) & 0xff]))

export type SanSpec = {type: 'uri' | 'dns' | 'email'; value: string | Uint8Array}

function sanExtension(sans: SanSpec[]): x509.Extension {
  const tag = {email: 0x81, dns: 0x82, uri: 0x86}
  const der = tlv(0x30, ...sans.map((s) => tlv(tag[s.type], typeof s.value === 'string' ? Buffer.from(s.value) : s.value)))
  return new x509.Extension('2.5.29.17', false, new Uint8Array(der))
}

export interface RawCertOptions {
  subject: RawNameSpec
  sans?: SanSpec[]
  /** EKU OIDs; default clientAuth. [] for no EKU extension. */
  ekus?: string[]
  notBefore?: Date
  notAfter?: Date
  /** keyUsage flags (x509.KeyUsageFlags); omitted: no keyUsage extension. */
  keyUsage?: number
  /** First byte of a Netscape cert type bit string (0x80 SSL client, 0x40 SSL server). */
  netscapeCertType?: number
}

/** Issues a client certificate with exactly the given subject and SANs, signed by `ca`; writes NAME.crt/.key. */
export async function issueRawCert(ca: Ca, dir: string, name: string, options: RawCertOptions): Promise<KeyPair> {
  const caCert = new x509.X509Certificate(await readFile(ca.cert, 'utf8'))
  const caKeyDer = createPrivateKey(await readFile(ca.key, 'utf8')).export({type: 'pkcs8', format: 'der'})
  const caKey = await webcrypto.subtle.importKey('pkcs8', new Uint8Array(caKeyDer), ALG, false, ['sign'])
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])
  const ekus = options.ekus ?? ['1.3.6.1.5.5.7.3.2']
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)]
  if (ekus.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(ekus))
  if (options.sans) extensions.push(sanExtension(options.sans))
  if (options.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(options.keyUsage, true))
  if (options.netscapeCertType !== undefined) {
    extensions.push(new x509.Extension('2.16.840.1.113730.1.1', false, new Uint8Array(tlv(0x03, Buffer.from([0x00, options.netscapeCertType])))))
  }
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `01${Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex')}`,
    subject: new x509.Name(new Uint8Array(encodeName(options.subject))),
    issuer: caCert.subjectName,
    notBefore: options.notBefore ?? new Date(now - 60_000),
    notAfter: options.notAfter ?? new Date(now + 30 * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions,
  })
  const certPath = join(dir, `${name}.crt`)
  const keyPath = join(dir, `${name}.key`)
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as CryptoKey))
  await writeFile(certPath, cert.toString('pem') + '\n')
  await writeFile(keyPath, `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`, {mode: 0o600})
  return {cert: certPath, key: keyPath}
}
