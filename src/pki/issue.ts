import {randomBytes} from 'node:crypto'

import {Certificate} from './certificate.js'
import {authorityKeyIdentifier, basicConstraints, encodeName, EKU, extendedKeyUsage, KEY_USAGE, keyIdentifier, keyUsage, signCertificate, subjectAltName, subjectKeyIdentifier} from './encode.js'
import {generateKeyPair, type KeyPair, spkiDer} from './keys.js'
import type {KeyType} from './key-types.js'
import type {SanEntry} from './names.js'

export interface Issuer {
  cert: Certificate
  keys: Pick<KeyPair, 'privateKey'>
}

export interface Issued {
  cert: Certificate
  keys: KeyPair
}

export interface SubjectFields {
  commonName: string
  organization?: string
}

export type LeafProfile = 'server' | 'client'

const DAY_MS = 86_400_000
/** Backdating absorbs small clock differences between the machine that signs and the servers. */
export const BACKDATE_MS = 5 * 60_000

/** 16 random bytes, positive and without a leading zero byte: a valid, unique DER INTEGER serial. */
export function randomSerial(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] & 0x7f) | 0x40
  return bytes.toString('hex')
}

function validity(days: number, now: Date, notAfter?: Date): {notBefore: Date; notAfter: Date} {
  return {notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: notAfter ?? new Date(now.getTime() + days * DAY_MS)}
}

/** What a certificate this CA signs names as its authority key: the CA's subjectKeyIdentifier, or (without one) its key's. */
export function authorityKeyOf(issuer: Certificate): Buffer {
  return issuer.keyId ?? keyIdentifier(issuer.spki)
}

/** What a caller may fix instead of letting it be drawn at random: the key pair, the serial (hex). */
interface Given {
  keys?: KeyPair
  serial?: string
}

export async function createCa(options: {keyType: KeyType; days: number; subject: SubjectFields; now?: Date} & Given): Promise<Issued> {
  const keys = options.keys ?? await generateKeyPair(options.keyType)
  const name = encodeName(options.subject)
  const spki = spkiDer(keys.publicKey)
  const der = signCertificate({
    serial: Buffer.from(options.serial ?? randomSerial(), 'hex'),
    issuer: name,
    subject: name,
    ...validity(options.days, options.now ?? new Date()),
    spki,
    extensions: [
      basicConstraints(true),
      keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
      subjectKeyIdentifier(keyIdentifier(spki)),
    ],
  }, keys.privateKey)
  return {cert: new Certificate(der), keys}
}

export interface LeafOptions {
  issuer: Issuer
  keyType: KeyType
  days: number
  /** An exact end instead of `days` (--not-after). */
  notAfter?: Date
  subject: SubjectFields
  profile: LeafProfile
  sans?: SanEntry[]
  uris?: string[]
  now?: Date
}

/**
 * A server certificate carries serverAuth and clientAuth: Valkey presents tls-cert-file as the client
 * certificate of cluster-bus and replication links unless tls-client-cert-file is set.
 */
export async function issueLeaf(options: LeafOptions & Given): Promise<Issued> {
  const keys = options.keys ?? await generateKeyPair(options.keyType)
  const spki = spkiDer(keys.publicKey)
  const altNames = [...(options.sans ?? []), ...(options.uris ?? []).map((uri) => ({type: 'uri' as const, value: uri}))]
  const der = signCertificate({
    serial: Buffer.from(options.serial ?? randomSerial(), 'hex'),
    issuer: options.issuer.cert.subjectDer,
    subject: encodeName(options.subject),
    ...validity(options.days, options.now ?? new Date(), options.notAfter),
    spki,
    extensions: [
      basicConstraints(false),
      keyUsage([KEY_USAGE.digitalSignature, ...(options.keyType.startsWith('rsa') ? [KEY_USAGE.keyEncipherment] : [])]),
      extendedKeyUsage(options.profile === 'server' ? [EKU.serverAuth, EKU.clientAuth] : [EKU.clientAuth]),
      subjectKeyIdentifier(keyIdentifier(spki)),
      authorityKeyIdentifier(authorityKeyOf(options.issuer.cert)),
      ...(altNames.length > 0 ? [subjectAltName(altNames)] : []),
    ],
  }, options.issuer.keys.privateKey)
  return {cert: new Certificate(der), keys}
}
