/**
 * Certificates with hand-encoded DER where OpenSSL's `req -subj` cannot go: subjects and subjectAltNames
 * of any string type, NUL bytes, empty values, unsorted multi-valued RDNs, several CNs, raw Netscape cert
 * types. Signed with @peculiar/x509, which signs whatever DER it is given; deliberately does not use the
 * tool's own code. Two ways out:
 * - `makeCert`: self-signed, in memory, for unit tests of the name readers (test/unit/identity, x509);
 * - `issueRawCert`: signed by a CA from ./openssl.ts and written to files, for real servers.
 *
 * @peculiar/x509 re-encodes the name it is given; it keeps RDN order, attribute order inside a SET, the
 * string tags and their bytes, except that it re-encodes invalid UTF-8 in a UTF8String: use `patchBytes`
 * on the DER for that (the signature is never checked by the code under test).
 */
import 'reflect-metadata'
import {createPrivateKey, createPublicKey, webcrypto} from 'node:crypto'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import * as x509 from '@peculiar/x509'

import type {Ca, KeyPair} from './openssl.js'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export {x509}

// --- a tiny DER encoder ---------------------------------------------------------------------------

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

/** Content bytes of an OBJECT IDENTIFIER (base-128 arcs, the first two combined), encoded independently of src/. */
export function oidContent(arcs: number[]): Uint8Array {
  const out: number[] = []
  const push = (arc: number) => {
    const b = [arc % 128]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | v % 128)
    out.push(...b)
  }
  push(arcs[0]! * 40 + arcs[1]!)
  for (const arc of arcs.slice(2)) push(arc)
  return new Uint8Array(out)
}

/** DER OBJECT IDENTIFIER TLV of a dotted OID. */
export function oidDer(dotted: string): Buffer {
  return tlv(0x06, Buffer.from(oidContent(dotted.split('.').map(Number))))
}

// --- names ----------------------------------------------------------------------------------------

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
  return tlv(0x30, ...rdns.map((rdn) => tlv(0x31, ...rdn.map((a) => tlv(0x30, oidDer(a.oid), tlv(a.tag ?? StringTag.utf8, typeof a.value === 'string' ? Buffer.from(a.value) : a.value))))))
}

/** BMPString bytes of `s`. */
export const bmp = (s: string): Buffer => Buffer.from([...s].flatMap((c) => [c.charCodeAt(0) >> 8, c.charCodeAt(0) & 0xff]))

/** A CN attribute under an explicit string tag. */
export const cn = (value: string | Uint8Array, tag: number = StringTag.utf8) => ({oid: CN, tag, value})

// --- extensions -----------------------------------------------------------------------------------

/** GeneralName context tags (implicit, primitive except otherName/directoryName). */
export const San = {email: 0x81, dns: 0x82, uri: 0x86, ip: 0x87, otherName: 0xa0, dirName: 0xa4} as const

export interface SanEntry {
  tag: number
  value: string | Uint8Array
}

export const uri = (value: string | Uint8Array): SanEntry => ({tag: San.uri, value})
export const dns = (value: string): SanEntry => ({tag: San.dns, value})
export const email = (value: string): SanEntry => ({tag: San.email, value})
export const ip = (...bytes: number[]): SanEntry => ({tag: San.ip, value: new Uint8Array(bytes)})

export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  any: '2.5.29.37.0',
} as const

export const NETSCAPE_CERT_TYPE = '2.16.840.1.113730.1.1'

function sanExtension(sans: SanEntry[]): x509.Extension {
  const der = tlv(0x30, ...sans.map((s) => tlv(s.tag, typeof s.value === 'string' ? Buffer.from(s.value) : s.value)))
  return new x509.Extension('2.5.29.17', false, new Uint8Array(der))
}

/** A Netscape cert type extension; `content` is the BIT STRING's content, unused-bits octet first. */
function netscapeExtension(content: number[]): x509.Extension {
  return new x509.Extension(NETSCAPE_CERT_TYPE, false, new Uint8Array(tlv(0x03, Buffer.from(content))))
}

// --- self-signed, in memory -----------------------------------------------------------------------

export type KeyKind = 'ec' | 'ec384' | 'rsa' | 'ed25519'

const KEY_ALGORITHMS: Record<KeyKind, {gen: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm; sign: Algorithm | EcdsaParams}> = {
  ec: {gen: {name: 'ECDSA', namedCurve: 'P-256'} as EcKeyGenParams, sign: {name: 'ECDSA', hash: 'SHA-256'} as EcdsaParams},
  ec384: {gen: {name: 'ECDSA', namedCurve: 'P-384'} as EcKeyGenParams, sign: {name: 'ECDSA', hash: 'SHA-384'} as EcdsaParams},
  rsa: {
    gen: {name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256'} as RsaHashedKeyGenParams,
    sign: {name: 'RSASSA-PKCS1-v1_5'},
  },
  ed25519: {gen: {name: 'Ed25519'}, sign: {name: 'Ed25519'}},
}

const keyCache = new Map<KeyKind, Promise<CryptoKeyPair>>()
function keysFor(kind: KeyKind): Promise<CryptoKeyPair> {
  let keys = keyCache.get(kind)
  if (!keys) {
    keys = webcrypto.subtle.generateKey(KEY_ALGORITHMS[kind].gen as EcKeyGenParams, true, ['sign', 'verify']) as Promise<CryptoKeyPair>
    keyCache.set(kind, keys)
  }
  return keys
}

export interface CertSpec {
  /** RDNs in DER order; default CN=alice. */
  subject?: RawNameSpec
  sans?: SanEntry[]
  /** EKU OIDs; undefined for no EKU extension. */
  ekus?: string[]
  /** KeyUsageFlags bits; undefined for no keyUsage extension. */
  keyUsage?: number
  /** Content of the Netscape cert type BIT STRING (unused-bits octet first); undefined for none. */
  netscape?: number[]
  notBefore?: Date
  notAfter?: Date
  key?: KeyKind
  serialNumber?: string
  /**
   * Byte-identical on every run: a fixed public key of the `key` kind, signed by a fixed Ed25519 key
   * (deterministic signatures). Pass fixed dates too. The signature does not match the key; nothing
   * under test checks it.
   */
  deterministic?: boolean
}

const DAY = 86_400_000
/** Whole seconds: certificate times have no milliseconds. */
export const NOW = new Date(Math.floor(Date.now() / 1000) * 1000)

/** A self-signed certificate with exactly the extensions `spec` names (none by default). */
export async function makeCert(spec: CertSpec = {}): Promise<x509.X509Certificate> {
  const kind = spec.key ?? 'ec'
  const extensions: x509.Extension[] = []
  if (spec.ekus) extensions.push(new x509.ExtendedKeyUsageExtension(spec.ekus))
  if (spec.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(spec.keyUsage))
  if (spec.sans) extensions.push(sanExtension(spec.sans))
  if (spec.netscape) extensions.push(netscapeExtension(spec.netscape))
  const common = {
    serialNumber: spec.serialNumber ?? '0123456789abcdef',
    notBefore: spec.notBefore ?? new Date(NOW.getTime() - DAY),
    notAfter: spec.notAfter ?? new Date(NOW.getTime() + 30 * DAY),
    extensions,
  }
  const name = new x509.Name(new Uint8Array(encodeName(spec.subject ?? [[{oid: CN, value: 'alice'}]])))
  if (spec.deterministic) {
    const signingKey = await webcrypto.subtle.importKey('pkcs8', ed25519Pkcs8(0x44), {name: 'Ed25519'}, false, ['sign'])
    return x509.X509CertificateGenerator.create({...common, subject: name, issuer: name, publicKey: fixedSpki(kind), signingKey, signingAlgorithm: {name: 'Ed25519'}})
  }
  return x509.X509CertificateGenerator.createSelfSigned({...common, name, keys: await keysFor(kind), signingAlgorithm: KEY_ALGORITHMS[kind].sign})
}

// fixed keys for deterministic certificates
const ed25519Pkcs8 = (fill: number) => new Uint8Array(Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, fill)]))
const RSA_2048_SPKI =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsRctk7dnQvw8LtCzNsCdpgcRE8jXSJljIM5IKrDGAhsluPScd6/c5kHHTWb2DQZVq2y5r2ForBWWerzgHEKXJvpSKaDjxYbz' +
  'XyKEGYe5j2W5JNq3mxswRn448y8POlJksakCDpgKsAMH798RhKP6EhDa/D0pPqpPYyfOokPbMNcj1LA4PZzT+9d7Jj2CFK/iuiwpRZw2WSt6nKihj8VisUmqQnj9F6zndt08W01egS6I' +
  'vid+URM3o8bCCHwRsDBYOcnpBjY9aKMPx/o+uUNcPqZKJ5mP121BHc6yM7SMcjwfaMwAQ/gw3RkeudmXmLxnmzCTyMBiYs/dzQN0WtxqfQIDAQAB'

/** SubjectPublicKeyInfo of a fixed key: EC keys from a constant private scalar, Ed25519 from a constant seed. */
function fixedSpki(kind: KeyKind): Uint8Array<ArrayBuffer> {
  if (kind === 'rsa') return new Uint8Array(Buffer.from(RSA_2048_SPKI, 'base64'))
  const key = kind === 'ed25519'
    ? createPrivateKey({key: Buffer.from(ed25519Pkcs8(0x33)), format: 'der', type: 'pkcs8'})
    : createPrivateKey({
      key: tlv(0x30, Buffer.from('020101', 'hex'), tlv(0x04, Buffer.alloc(kind === 'ec' ? 32 : 48, 0x11)), tlv(0xa0, Buffer.from(kind === 'ec' ? '06082a8648ce3d030107' : '06052b81040022', 'hex'))),
      format: 'der',
      type: 'sec1',
    })
  return new Uint8Array(createPublicKey(key).export({type: 'spki', format: 'der'}))
}

export const der = (cert: x509.X509Certificate): Uint8Array => new Uint8Array(cert.rawData)

/** Replaces every occurrence of `from` in the DER with the same-length `to` (e.g. an invalid UTF-8 CN). */
export function patchBytes(cert: x509.X509Certificate, from: Uint8Array, to: Uint8Array): x509.X509Certificate {
  if (from.length !== to.length) throw new Error('patchBytes needs same-length replacements')
  const bytes = Buffer.from(cert.rawData)
  let at = bytes.indexOf(from)
  if (at < 0) throw new Error('patchBytes: pattern not found')
  for (; at >= 0; at = bytes.indexOf(from, at + 1)) bytes.set(to, at)
  return new x509.X509Certificate(new Uint8Array(bytes))
}

// --- signed by a CA, to files ---------------------------------------------------------------------

const ALG = {name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256'}

export type SanSpec = {type: 'uri' | 'dns' | 'email'; value: string | Uint8Array}

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
  const ekus = options.ekus ?? [EKU.clientAuth]
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)]
  if (ekus.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(ekus))
  if (options.sans) extensions.push(sanExtension(options.sans.map((s) => ({tag: San[s.type], value: s.value}))))
  if (options.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(options.keyUsage, true))
  if (options.netscapeCertType !== undefined) extensions.push(netscapeExtension([0x00, options.netscapeCertType]))
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `01${Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex')}`,
    subject: new x509.Name(new Uint8Array(encodeName(options.subject))),
    issuer: caCert.subjectName,
    notBefore: options.notBefore ?? new Date(now - 60_000),
    notAfter: options.notAfter ?? new Date(now + 30 * DAY),
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
