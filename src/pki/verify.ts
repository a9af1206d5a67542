import {createPrivateKey, type KeyObject, type X509Certificate} from 'node:crypto'

import {parseNodeCertificates} from './parse.js'

const DAY_MS = 86_400_000

export interface VerifyInput {
  /** The certificate file's contents: the leaf first, then any intermediates. */
  certPem: Buffer
  certPath: string
  keyPem?: Buffer
  keyPath?: string
  /** Passphrase of an encrypted key (never shown). */
  passphrase?: string
  /** CA bundle the certificate must chain to. */
  caPem?: Buffer
  caPath?: string
  /** The certificate must stay valid at least this many days from now. */
  minDays: number
  now?: Date
}

export interface Problem {
  code:
    | 'not-yet-valid' | 'expired' | 'expires-soon' | 'key-unreadable' | 'key-encrypted' | 'key-mismatch' | 'untrusted' | 'ca-expired'
    // reload: files the server could not load, and trust between cluster nodes
    | 'file-unusable' | 'ca-unusable' | 'cert-unusable' | 'peer-untrusted' | 'peer-rejected'
  message: string
}

export interface VerifyResult {
  ok: boolean
  subject: string
  issuer: string
  notBefore: string
  notAfter: string
  daysLeft: number
  fingerprint256: string
  /** null when no key was given. */
  keyMatches: boolean | null
  /** null when no CA was given. */
  chainVerified: boolean | null
  problems: Problem[]
}

/**
 * Everything that must hold before a server is told to load a certificate: it parses, it is valid now
 * and for `minDays` more, the key is its key (encrypted keys with their passphrase), and it chains
 * to the CA. Older Valkey and Redis accept an expired certificate through CONFIG SET: this refuses it.
 * Unreadable or malformed files throw input errors; everything else is a listed problem.
 */
export function verifyCertificate(input: VerifyInput): VerifyResult {
  return verifyChain(parseNodeCertificates(input.certPem, input.certPath), input)
}

/** verifyCertificate for a chain already parsed from `input.certPem` (leaf first). */
export function verifyChain(chain: X509Certificate[], input: VerifyInput): VerifyResult {
  const now = input.now ?? new Date()
  const leaf = chain[0]!
  const problems: Problem[] = []
  const notBefore = new Date(leaf.validFrom)
  const notAfter = new Date(leaf.validTo)
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS)
  if (now < notBefore) problems.push({code: 'not-yet-valid', message: `${input.certPath} is not valid before ${notBefore.toISOString()}`})
  else if (now > notAfter) problems.push({code: 'expired', message: `${input.certPath} expired on ${notAfter.toISOString()}`})
  else if (notAfter.getTime() - now.getTime() < input.minDays * DAY_MS) {
    problems.push({code: 'expires-soon', message: `${input.certPath} expires on ${notAfter.toISOString()}, within --min-days ${input.minDays}`})
  }

  let keyMatches: boolean | null = null
  if (input.keyPem) {
    const key = readKey(input.keyPem, input.keyPath ?? 'key', input.passphrase, problems)
    if (key) {
      keyMatches = leaf.checkPrivateKey(key)
      if (!keyMatches) problems.push({code: 'key-mismatch', message: `${input.keyPath} is not the private key of ${input.certPath}`})
    }
  }

  let chainVerified: boolean | null = null
  if (input.caPem) {
    const cas = parseNodeCertificates(input.caPem, input.caPath ?? 'CA')
    const path = buildChain(leaf, chain.slice(1), cas)
    chainVerified = path !== undefined
    if (!path) problems.push({code: 'untrusted', message: `${input.certPath} (issued by ${leaf.issuer.replace(/\n/g, ', ')}) does not chain to ${input.caPath ?? 'the CA'}`})
    for (const cert of (path ?? []).slice(1)) {
      if (now > new Date(cert.validTo)) problems.push({code: 'ca-expired', message: `${cert.subject.replace(/\n/g, ', ')} in the chain expired on ${new Date(cert.validTo).toISOString()}`})
    }
  }

  return {
    ok: problems.length === 0,
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft,
    fingerprint256: leaf.fingerprint256,
    keyMatches,
    chainVerified,
    problems,
  }
}

function readKey(pem: Buffer, path: string, passphrase: string | undefined, problems: Problem[]): KeyObject | undefined {
  try {
    return createPrivateKey({key: pem, format: 'pem', passphrase})
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(pem.toString('latin1'))
    if (encrypted && passphrase === undefined) problems.push({code: 'key-encrypted', message: `${path} is encrypted and no passphrase was given`})
    else if (encrypted) problems.push({code: 'key-unreadable', message: `${path}: wrong passphrase`})
    else problems.push({code: 'key-unreadable', message: `${path} is not a PEM private key (${(error as Error).message.split('\n')[0]})`})
    return undefined
  }
}

/**
 * A path from `leaf` through `intermediates` to a certificate of `cas`, each link checked by issuer name
 * and signature; undefined when there is none. (What OpenSSL checks beyond this, such as key usage and
 * name constraints, the server's own load and the post-reload handshake still catch.)
 */
export function buildChain(leaf: X509Certificate, intermediates: X509Certificate[], cas: X509Certificate[]): X509Certificate[] | undefined {
  const path = [leaf]
  let current = leaf
  for (let depth = 0; depth < 10; depth++) {
    const anchor = cas.find((ca) => signedBy(current, ca))
    if (anchor) return current === anchor ? path : [...path, anchor]
    const next = intermediates.find((c) => c !== current && !path.includes(c) && signedBy(current, c))
    if (!next) return undefined
    path.push(next)
    current = next
  }
  return undefined
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  if (cert.fingerprint256 === issuer.fingerprint256) return true // the CA itself
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
}
