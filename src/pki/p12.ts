/**
 * PKCS#12 (RFC 7292) files for clients that want one file (Java keystores, browsers, .NET), written with
 * node:crypto and asn1js's DER encoder: Node has no PKCS#12 writer, and the tool must not need openssl.
 *
 * The shape is what `openssl pkcs12 -export` (OpenSSL 3) writes, with the certificates unencrypted as
 * `-certpbe NONE` does (they are public): the key in a pkcs8ShroudedKeyBag under PBES2 (PBKDF2 with
 * HMAC-SHA256, AES-256-CBC), every bag with friendlyName and localKeyId (SHA-1 of the certificate, how
 * Java and OpenSSL pair key and certificate), and an HMAC-SHA256 MAC keyed by the PKCS#12 KDF (RFC 7292
 * appendix B, which every reader knows; PBMAC1 needs OpenSSL 3.4+).
 */
import {createCipheriv, createHash, createHmac, pbkdf2Sync, randomBytes} from 'node:crypto'

import * as asn1 from 'asn1js'

const OID = {
  data: '1.2.840.113549.1.7.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSha256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const

/** PBKDF2 and MAC iterations: far above OpenSSL's 2048, still a fraction of a second on a slow core. */
export const P12_ITERATIONS = 100_000

export interface P12Input {
  /** PKCS#8 PrivateKeyInfo, DER. */
  privateKey: Uint8Array
  /** The leaf certificate, DER. */
  cert: Uint8Array
  /** Issuer certificates to include after the leaf (DER), e.g. the CA. */
  chain: Uint8Array[]
  friendlyName: string
  password: string
  iterations?: number
}

export function buildPkcs12(input: P12Input): Uint8Array {
  const iterations = input.iterations ?? P12_ITERATIONS
  const localKeyId = createHash('sha1').update(input.cert).digest()
  const leafAttributes = [attribute(OID.friendlyName, new asn1.BmpString({value: input.friendlyName})), attribute(OID.localKeyId, octets(localKeyId))]

  const certBags = [
    safeBag(OID.certBag, certBag(input.cert), leafAttributes),
    ...input.chain.map((der) => safeBag(OID.certBag, certBag(der), [])),
  ]
  const keyBag = safeBag(OID.shroudedKeyBag, shroudedKey(input.privateKey, input.password, iterations), leafAttributes)
  const authSafe = der(new asn1.Sequence({value: [dataContentInfo(der(sequence(certBags))), dataContentInfo(der(sequence([keyBag])))]}))

  const macSalt = randomBytes(16)
  const macKey = pkcs12Kdf(input.password, macSalt, iterations, 3, 32)
  const mac = createHmac('sha256', macKey).update(authSafe).digest()
  const pfx = new asn1.Sequence({value: [
    new asn1.Integer({value: 3}),
    dataContentInfo(authSafe),
    new asn1.Sequence({value: [
      new asn1.Sequence({value: [algorithm(OID.sha256, new asn1.Null()), octets(mac)]}),
      octets(macSalt),
      new asn1.Integer({value: iterations}),
    ]}),
  ]})
  return der(pfx)
}

/** EncryptedPrivateKeyInfo under PBES2: PBKDF2-HMAC-SHA256 over the password's UTF-8 bytes, AES-256-CBC. */
function shroudedKey(privateKey: Uint8Array, password: string, iterations: number): asn1.Sequence {
  const salt = randomBytes(16)
  const iv = randomBytes(16)
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256')
  const cipher = createCipheriv('aes-256-cbc', key, iv)
  const encrypted = Buffer.concat([cipher.update(privateKey), cipher.final()])
  const params = new asn1.Sequence({value: [
    algorithm(OID.pbkdf2, new asn1.Sequence({value: [octets(salt), new asn1.Integer({value: iterations}), algorithm(OID.hmacWithSha256, new asn1.Null())]})),
    algorithm(OID.aes256Cbc, octets(iv)),
  ]})
  return new asn1.Sequence({value: [algorithm(OID.pbes2, params), octets(encrypted)]})
}

/**
 * RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64), for n <= 32 bytes: one block, A = H^r(D || I).
 * The password is a BMPString (UTF-16BE) with its two-byte NUL terminator, as the RFC says.
 */
export function pkcs12Kdf(password: string, salt: Uint8Array, iterations: number, id: number, n: number): Buffer {
  const v = 64
  if (n > 32) throw new Error('pkcs12Kdf: at most 32 bytes')
  const bmp = Buffer.alloc(password.length * 2 + 2)
  for (let i = 0; i < password.length; i++) bmp.writeUInt16BE(password.charCodeAt(i), i * 2)
  const fill = (bytes: Uint8Array) => {
    if (bytes.length === 0) return Buffer.alloc(0)
    const out = Buffer.alloc(v * Math.ceil(bytes.length / v))
    for (let i = 0; i < out.length; i++) out[i] = bytes[i % bytes.length]!
    return out
  }
  let a: Buffer = createHash('sha256').update(Buffer.alloc(v, id)).update(fill(salt)).update(fill(bmp)).digest()
  for (let i = 1; i < iterations; i++) a = createHash('sha256').update(a).digest()
  return a.subarray(0, n)
}

function dataContentInfo(content: Uint8Array): asn1.Sequence {
  return new asn1.Sequence({value: [new asn1.ObjectIdentifier({value: OID.data}), explicit0(octets(content))]})
}

function safeBag(bagId: string, value: asn1.BaseBlock, attributes: asn1.Sequence[]): asn1.Sequence {
  const items: asn1.BaseBlock[] = [new asn1.ObjectIdentifier({value: bagId}), explicit0(value)]
  if (attributes.length > 0) items.push(derSet(attributes))
  return new asn1.Sequence({value: items})
}

function certBag(cert: Uint8Array): asn1.Sequence {
  return new asn1.Sequence({value: [new asn1.ObjectIdentifier({value: OID.x509Certificate}), explicit0(octets(cert))]})
}

function attribute(oid: string, value: asn1.BaseBlock): asn1.Sequence {
  return new asn1.Sequence({value: [new asn1.ObjectIdentifier({value: oid}), new asn1.Set({value: [value]})]})
}

function algorithm(oid: string, parameters: asn1.BaseBlock): asn1.Sequence {
  return new asn1.Sequence({value: [new asn1.ObjectIdentifier({value: oid}), parameters]})
}

const octets = (bytes: Uint8Array) => new asn1.OctetString({valueHex: bytes})
const sequence = (items: asn1.BaseBlock[]) => new asn1.Sequence({value: items})
const explicit0 = (inner: asn1.BaseBlock) => new asn1.Constructed({idBlock: {tagClass: 3, tagNumber: 0}, value: [inner]})
const der = (block: asn1.BaseBlock): Uint8Array => new Uint8Array(block.toBER(false))

/** DER's SET OF: members in the order of their encodings. */
function derSet(items: asn1.BaseBlock[]): asn1.Set {
  const sorted = items.map((item) => ({item, bytes: Buffer.from(der(item))})).sort((a, b) => Buffer.compare(a.bytes, b.bytes))
  return new asn1.Set({value: sorted.map((s) => s.item)})
}
