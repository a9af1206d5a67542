import {randomBytes} from 'node:crypto'

import {generateKeyPair, type KeyPair} from './keys.js'
import type {KeyType} from './key-types.js'
import type {SanEntry} from './names.js'
import {x509} from './x509.js'

export interface Issuer {
  cert: x509.X509Certificate
  keys: Pick<KeyPair, 'privateKey' | 'signing'>
}

export interface Issued {
  cert: x509.X509Certificate
  keys: KeyPair
}

export interface SubjectFields {
  commonName: string
  organization?: string
}

export type LeafProfile = 'server' | 'client'

const DAY_MS = 86_400_000
/** Backdating absorbs small clock differences between the machine that signs and the servers. */
const BACKDATE_MS = 5 * 60_000

function subjectName(fields: SubjectFields): x509.JsonName {
  const name: x509.JsonName = []
  if (fields.organization) name.push({O: [fields.organization]})
  name.push({CN: [fields.commonName]})
  return name
}

/** 16 random bytes, positive and without a leading zero byte: a valid, unique DER INTEGER serial. */
export function randomSerial(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] & 0x7f) | 0x40
  return bytes.toString('hex')
}

function validity(days: number, now: Date, notAfter?: Date): {notBefore: Date; notAfter: Date} {
  return {notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: notAfter ?? new Date(now.getTime() + days * DAY_MS)}
}

export async function createCa(options: {keyType: KeyType; days: number; subject: SubjectFields; now?: Date}): Promise<Issued> {
  const keys = await generateKeyPair(options.keyType)
  const name = subjectName(options.subject)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name,
    issuer: name,
    ...validity(options.days, options.now ?? new Date()),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: keys.signing,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return {cert, keys}
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
export async function issueLeaf(options: LeafOptions): Promise<Issued> {
  const keys = await generateKeyPair(options.keyType)
  const usages = x509.KeyUsageFlags.digitalSignature |
    (options.keyType.startsWith('rsa') ? x509.KeyUsageFlags.keyEncipherment : 0)
  const ekus = options.profile === 'server'
    ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
    : [x509.ExtendedKeyUsage.clientAuth]
  const altNames: x509.JsonGeneralName[] = [
    ...(options.sans ?? []).map((san) => ({type: san.type, value: san.value}) as x509.JsonGeneralName),
    ...(options.uris ?? []).map((uri) => ({type: 'url', value: uri}) as x509.JsonGeneralName),
  ]
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension(ekus, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(options.issuer.cert, false),
  ]
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false))
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subjectName(options.subject),
    issuer: options.issuer.cert.subjectName,
    ...validity(options.days, options.now ?? new Date(), options.notAfter),
    publicKey: keys.publicKey,
    signingKey: options.issuer.keys.privateKey,
    signingAlgorithm: options.issuer.keys.signing,
    extensions,
  })
  return {cert, keys}
}
