/**
 * Which ACL user a client certificate is logged in as: Valkey 9.1's rules, as found by experiment
 * (docs/tls-auth-clients-user-rules.md, rule numbers R0-R9 below). Pure: the server facts are passed in.
 */
import {type CertificateIdentity, validityProblem} from './describe.js'
import type {WhatIfMode} from './what-if.js'
import {displayBytes} from '../x509/text.js'

export type MappingMode = 'CN' | 'URI'
export const MAPPING_MODES: readonly MappingMode[] = ['CN', 'URI']

export interface AclUserState {
  enabled: boolean
  nopass: boolean
}

export interface ServerFacts {
  /** `tls-auth-clients-user` as CONFIG GET returns it; undefined when the server does not know it. */
  mapping: MappingMode | 'off' | undefined
  authClients: 'yes' | 'no' | 'optional'
  /** e.g. "Valkey 9.1.2", for messages. */
  server: string
  /** ACL users by name bytes (hex); a name that is missing here does not exist. */
  users: Map<string, AclUserState>
}

export type ReasonCode =
  | 'mapped' // logged in as the named user
  | 'offline' // no server: the user the server would look up
  | 'rejected' // the server refuses the certificate: no connection at all
  | 'untrusted' // the server's CAs refuse the certificate (rehearsed here): no connection at all
  | 'not-requested' // tls-auth-clients no: the certificate is never asked for
  | 'unsupported' // the server predates tls-auth-clients-user
  | 'mode-off'
  | 'no-usable-field' // no CN / no URI SAN usable as a user name
  | 'no-such-user'
  | 'user-disabled'
  | 'what-if' // offline, --mode email|dn|o|dns: a mapping Valkey does not have (what-if.ts)

export type AttemptResult = 'match' | 'no-such-user' | 'disabled' | 'not-checked'

export interface Attempt {
  name: string
  result: AttemptResult
}

export interface Prediction {
  /** Valkey's mode; a what-if mode only offline, when asked for (what-if.ts). */
  mode: MappingMode | WhatIfMode | 'off' | null
  /** The user the connection ends up as; null when the server refuses the certificate. */
  user: string | null
  /** Bytes of `user`, for exact comparison with what the server reports. */
  userBytes: Uint8Array | null
  reasonCode: ReasonCode
  reason: string
  attempts: Attempt[]
  warnings: string[]
}

export interface CertificateProblem {
  code: string
  message: string
  /** The problem makes the server refuse the certificate in every mode. */
  fatal: boolean
  /** Only matters in this mapping mode. */
  mode?: MappingMode
}

const DEFAULT = new TextEncoder().encode('default')
const CLIENT_AUTH = 'clientAuth'

export const nameKey = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** Names Valkey can never have as users: ACL SETUSER refuses spaces and NUL (and CN "" is no candidate). */
export function unusableNameReason(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return 'it is empty'
  if (bytes.includes(0)) return 'it contains a NUL byte'
  if (bytes.includes(0x20)) return 'it contains a space'
  return undefined
}

/** Candidate user names for a mode, in the order the server tries them (R3-R6). */
export function candidates(identity: CertificateIdentity, mode: MappingMode): {names: Uint8Array[]; none?: string} {
  if (mode === 'CN') {
    const cn = identity.raw.commonName
    if (cn === undefined) return {names: [], none: 'the certificate has no CN'}
    if (cn.length === 0) return {names: [], none: 'the first CN is empty'}
    return {names: [cn]}
  }
  if (identity.raw.uris.length === 0) return {names: [], none: 'the certificate has no URI subjectAltName'}
  const usable = identity.raw.uris.filter((u) => u.length > 0 && !u.includes(0))
  if (usable.length === 0) return {names: [], none: 'every URI subjectAltName is empty or contains a NUL byte'}
  return {names: usable}
}

/** What is wrong with the certificate as a Valkey client certificate, independent of any server. */
export function certificateProblems(identity: CertificateIdentity, now = new Date()): CertificateProblem[] {
  const problems: CertificateProblem[] = []
  const validity = validityProblem(identity, now)
  if (validity === 'expired') problems.push({code: 'expired', fatal: true, message: `the certificate expired on ${identity.notAfter}: the server refuses it`})
  if (validity === 'not-yet-valid') problems.push({code: 'not-yet-valid', fatal: true, message: `the certificate is not valid before ${identity.notBefore}: the server refuses it`})
  // OpenSSL's "ssl_client" purpose check, which the server applies to client certificates:
  // anyExtendedKeyUsage does not count, and keyUsage needs digitalSignature or keyAgreement.
  const ekus = identity.extendedKeyUsages
  if (ekus && !ekus.includes(CLIENT_AUTH)) {
    problems.push({code: 'no-client-auth', fatal: true, message: `the extended key usage (${ekus.join(', ') || 'empty'}) lacks clientAuth: the server refuses it`})
  }
  const kus = identity.keyUsages
  if (kus && !kus.includes('digitalSignature') && !kus.includes('keyAgreement')) {
    problems.push({code: 'key-usage', fatal: true, message: `the key usage (${kus.join(', ') || 'empty'}) lacks digitalSignature: the server refuses it`})
  }
  if (identity.raw.netscapeSslClient === false) {
    problems.push({code: 'netscape-cert-type', fatal: true, message: 'the Netscape cert type lacks "SSL client": the server refuses it'})
  }
  for (const mode of MAPPING_MODES) {
    const {names, none} = candidates(identity, mode)
    if (none) problems.push({code: mode === 'CN' ? 'no-common-name' : 'no-uri', mode, fatal: false, message: `${none}: ${mode} mode logs it in as default`})
    for (const name of names) {
      const why = unusableNameReason(name)
      if (why) problems.push({code: 'unusable-name', mode, fatal: false, message: `${mode} "${displayBytes(name)}" can never be an ACL user: ${why}`})
    }
  }
  if (identity.commonNames.length > 1) {
    problems.push({code: 'several-common-names', mode: 'CN', fatal: false, message: `${identity.commonNames.length} CNs: the server uses only the first, "${identity.commonName}"`})
  }
  if (identity.raw.commonName && nameKey(identity.raw.commonName) === nameKey(DEFAULT)) {
    problems.push({code: 'default-user', mode: 'CN', fatal: false, message: 'CN "default" logs in as the default user without its password'})
  }
  return problems
}

/** Offline: the user the server would look up in `mode`, assuming it exists and is enabled. */
export function predictOffline(identity: CertificateIdentity, mode: MappingMode, now = new Date()): Prediction {
  const fatal = certificateProblems(identity, now).find((p) => p.fatal)
  if (fatal) return refused(mode, fatal)
  const {names, none} = candidates(identity, mode)
  const attempts = names.map((n) => ({name: displayBytes(n), result: 'not-checked' as const}))
  if (none) return result(mode, DEFAULT, 'no-usable-field', `${none}: logged in as default`, attempts)
  const first = names[0]!
  const reason = mode === 'CN'
    ? `CN "${displayBytes(first)}", if an enabled ACL user has that name`
    : `the first of the URIs that names an enabled ACL user${names.length > 1 ? ` (${names.length} candidates)` : ''}`
  return result(mode, first, 'offline', reason, attempts)
}

/** Against a server: exactly the user the connection will be logged in as (R0-R8). */
export function predictOnline(identity: CertificateIdentity, facts: ServerFacts, now = new Date()): Prediction {
  const mode = facts.mapping ?? null
  if (facts.authClients === 'no') {
    return finish(facts, result(mode, DEFAULT, 'not-requested', 'tls-auth-clients is "no": the server never asks for a client certificate', []))
  }
  const fatal = certificateProblems(identity, now).find((p) => p.fatal)
  if (fatal) return refused(mode, fatal)
  if (facts.mapping === undefined) {
    return finish(facts, result(null, DEFAULT, 'unsupported', `${facts.server} predates tls-auth-clients-user (Valkey 9.0+, Redis 8.6+)`, []))
  }
  if (facts.mapping === 'off') return finish(facts, result('off', DEFAULT, 'mode-off', 'tls-auth-clients-user is "off"', []))
  const {names, none} = candidates(identity, facts.mapping)
  if (none) return finish(facts, result(facts.mapping, DEFAULT, 'no-usable-field', none, []))
  const attempts: Attempt[] = []
  for (const name of names) {
    const state = facts.users.get(nameKey(name))
    const attempt: Attempt = {name: displayBytes(name), result: state === undefined ? 'no-such-user' : state.enabled ? 'match' : 'disabled'}
    attempts.push(attempt)
    if (attempt.result === 'match') {
      return finish(facts, result(facts.mapping, name, 'mapped', `${facts.mapping} "${attempt.name}" names an enabled ACL user`, attempts))
    }
    if (facts.mapping === 'CN') break // R3: only the first CN is ever tried
  }
  const disabled = attempts.filter((a) => a.result === 'disabled')
  const code = disabled.length > 0 ? 'user-disabled' : 'no-such-user'
  const what = attempts.map((a) => `"${a.name}"`).join(', ')
  const reason = code === 'user-disabled'
    ? `ACL user ${disabled.map((a) => `"${a.name}"`).join(', ')} is disabled${attempts.length > disabled.length ? '; no ACL user for the other URIs' : ''}`
    : `no ACL user named ${what}`
  return finish(facts, result(facts.mapping, DEFAULT, code, reason, attempts))
}

function result(mode: Prediction['mode'], user: Uint8Array, reasonCode: ReasonCode, reason: string, attempts: Attempt[]): Prediction {
  return {mode, user: displayBytes(user), userBytes: user, reasonCode, reason, attempts, warnings: []}
}

function refused(mode: Prediction['mode'], problem: CertificateProblem): Prediction {
  return {mode, user: null, userBytes: null, reasonCode: 'rejected', reason: problem.message, attempts: [], warnings: []}
}

/** Warnings that depend on the user the connection ends up as. */
function finish(facts: ServerFacts, prediction: Prediction): Prediction {
  const user = prediction.userBytes && facts.users.get(nameKey(prediction.userBytes))
  const isDefault = prediction.userBytes !== null && nameKey(prediction.userBytes) === nameKey(DEFAULT)
  if (isDefault && prediction.reasonCode === 'mapped') {
    prediction.warnings.push('the certificate logs in as "default" without the default user\'s password')
  } else if (isDefault && user && !user.enabled) {
    prediction.warnings.push('the default user is disabled: the client gets NOAUTH until it AUTHs')
  } else if (isDefault && user && !user.nopass) {
    prediction.warnings.push('the default user has a password: the client must AUTH before any command')
  }
  if (prediction.reasonCode === 'mapped' && !isDefault && user?.nopass && facts.authClients === 'optional') {
    prediction.warnings.push(`user "${prediction.user}" is nopass and tls-auth-clients is "optional": anyone can AUTH as it without a certificate`)
  }
  return prediction
}
