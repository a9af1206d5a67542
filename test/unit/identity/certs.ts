/**
 * Certificates for the identity unit tests: self-signed with @peculiar/x509 (no CA, no openssl), with
 * hand-encoded subjects (test/helpers/raw-certs.ts) and raw subjectAltName / Netscape extensions.
 * @peculiar/x509 re-encodes the name it is given; it keeps RDN order, attribute order inside a SET,
 * the string tags and their bytes, except that it re-encodes invalid UTF-8 in a UTF8String: use
 * `patchBytes` on the DER for that (the signature is never checked by the code under test).
 */
import {createPrivateKey, createPublicKey, webcrypto} from 'node:crypto'

import {x509} from '../../../src/pki/x509.js'
import {CN, type RawNameSpec, StringTag, encodeName, tlv} from '../../helpers/raw-certs.js'

export {CN, O, StringTag, bmp, encodeName, tlv} from '../../helpers/raw-certs.js'
export {x509}

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

export async function makeCert(spec: CertSpec = {}): Promise<x509.X509Certificate> {
  const kind = spec.key ?? 'ec'
  const extensions: x509.Extension[] = []
  if (spec.ekus) extensions.push(new x509.ExtendedKeyUsageExtension(spec.ekus))
  if (spec.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(spec.keyUsage))
  if (spec.sans) {
    const der = tlv(0x30, ...spec.sans.map((s) => tlv(s.tag, typeof s.value === 'string' ? Buffer.from(s.value) : s.value)))
    extensions.push(new x509.Extension('2.5.29.17', false, new Uint8Array(der)))
  }
  if (spec.netscape) extensions.push(new x509.Extension(NETSCAPE_CERT_TYPE, false, new Uint8Array(tlv(0x03, Buffer.from(spec.netscape)))))
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

// --- fixed keys for deterministic certificates -------------------------------------------------
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

/** A CN attribute under an explicit string tag. */
export const cn = (value: string | Uint8Array, tag: number = StringTag.utf8) => ({oid: CN, tag, value})

/** DER OBJECT IDENTIFIER TLV of a dotted OID. */
export function oidDer(dotted: string): Buffer {
  return tlv(0x06, Buffer.from(oidContent(dotted.split('.').map(Number))))
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

/** mulberry32: a small seeded PRNG, so random tests are reproducible. Returns [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed | 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}
