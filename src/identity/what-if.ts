/**
 * What-if mappings: the user names that mappings other than Valkey's would give, for the people who ask
 * about them. None of this is what Valkey does: `tls-auth-clients-user` maps only by CN or URI
 * (predict.ts). Pure, like predict.ts; offline only (a server cannot be asked about a mode it lacks).
 *
 * - `email` and `dn` are NATS's `verify_and_map` (nats-server server/auth.go, checkClientTLSCertSubject;
 *   nats.docs running-a-nats-service/configuration/securing_nats/auth_intro/tls_mutual_auth.md). NATS
 *   tries every e-mail SAN in order, then every DNS SAN, then every URI SAN, each looked up literally as
 *   a user name, then the subject. Shown here: the first e-mail SAN, and the subject as RFC 2253.
 * - The subject string is OpenSSL's RFC 2253 form (x509/rfc2253.ts: last RDN first, the attributes of a
 *   multi-valued RDN reversed too, `,+"\<>;` and a leading `#`/space or trailing space backslash-escaped,
 *   controls and non-ASCII bytes as `\XX`), which is what NATS's documentation tells users to write.
 *   NATS does not compare that text: it parses each configured user name as a DN (its internal/ldap
 *   ParseDN, which undoes those escapes) and compares it with the certificate's raw subject read the same
 *   way (ldap.FromRawCertSubject: RDNs last first, attributes within an RDN reversed; types
 *   case-insensitively, values byte for byte), then with the RDNs in any order, and only then literally
 *   with Go's pkix RDNSequence.String(). So this string names the NATS user for subjects of the types its
 *   ldap package knows (CN, SERIALNUMBER, C, L, ST, STREET, O, OU, POSTALCODE, DC) in UTF-8, Printable,
 *   IA5 or BMP strings. Not covered: other types (UID, emailAddress), for which NATS falls back to Go's
 *   string (which leaves them out), and T61Strings, whose bytes Go keeps raw where OpenSSL reads Latin-1.
 * - `o` and `dns` are what Valkey users asked about: the first O in DER order, as raw bytes (as CN mode
 *   takes the first CN), and the DNS SANs in order (as URI mode walks the URIs).
 */
import type {CertificateIdentity} from './describe.js'
import {type Attempt, certificateProblems, type Prediction, unusableNameReason} from './predict.js'
import {rfc2253} from '../x509/rfc2253.js'
import {displayBytes} from '../x509/text.js'

export type WhatIfMode = 'email' | 'dn' | 'o' | 'dns'
export const WHAT_IF_MODES: readonly WhatIfMode[] = ['email', 'dn', 'o', 'dns']
export const isWhatIfMode = (mode: string): mode is WhatIfMode => (WHAT_IF_MODES as readonly string[]).includes(mode)

const ORGANIZATION = '2.5.4.10'
export const WHAT_IF_NOTE = 'not Valkey behaviour: Valkey maps a client certificate only by CN or URI (tls-auth-clients-user); these are the names other mappings would use'

/** What each what-if mapping is, for messages. */
export const WHAT_IF_LABELS: Record<WhatIfMode, string> = {
  email: 'a NATS-style e-mail mapping (the first e-mail subjectAltName)',
  dn: 'a NATS-style subject mapping (the subject as RFC 2253)',
  o: 'a mapping on O (the first organization)',
  dns: 'a mapping on the DNS subjectAltNames',
}

/** The what-if candidates, for `whoami`'s output (`whatIf` in --json). */
export interface WhatIf {
  note: string
  /** The first e-mail (rfc822Name) subjectAltName; null without one. */
  email: string | null
  /** The subject as OpenSSL's RFC 2253 string; null for an empty subject. */
  dn: string | null
  /** The first O attribute; null without one. */
  o: string | null
  /** The DNS subjectAltNames, in order. */
  dns: string[]
  /** Names these mappings would give that no ACL user can have. */
  problems: Array<{mode: WhatIfMode; message: string}>
}

/** The names a what-if mapping would try, in order; `none` says why there is none. */
export function whatIfNames(identity: CertificateIdentity, mode: WhatIfMode): {names: Uint8Array[]; none?: string} {
  const {subject, subjectAltNames} = identity.raw
  const sans = (type: 'email' | 'dns') => subjectAltNames.flatMap((s) => (s.type === type ? [s.value] : []))
  switch (mode) {
    case 'email': {
      const first = sans('email')[0]
      return first === undefined ? {names: [], none: 'the certificate has no e-mail subjectAltName'} : {names: [first]}
    }
    case 'dn':
      return subject.length === 0 ? {names: [], none: 'the certificate\'s subject is empty'} : {names: [new TextEncoder().encode(rfc2253(subject))]}
    case 'o': {
      const first = subject.flat().find((a) => a.oid === ORGANIZATION)
      return first === undefined ? {names: [], none: 'the certificate has no O (organization)'} : {names: [first.value]}
    }
    case 'dns': {
      const names = sans('dns')
      return names.length === 0 ? {names, none: 'the certificate has no DNS subjectAltName'} : {names}
    }
  }
}

/** A name for display: the RFC 2253 string is printable ASCII and shown exactly; other names as displayBytes shows them. */
const shown = (mode: WhatIfMode, name: Uint8Array): string => (mode === 'dn' ? Buffer.from(name).toString('latin1') : displayBytes(name))

export function whatIfCandidates(identity: CertificateIdentity): WhatIf {
  const first = (mode: WhatIfMode) => {
    const name = whatIfNames(identity, mode).names[0]
    return name === undefined ? null : shown(mode, name)
  }
  const problems: WhatIf['problems'] = []
  for (const mode of WHAT_IF_MODES) {
    for (const name of whatIfNames(identity, mode).names) {
      const why = unusableNameReason(name)
      if (why) problems.push({mode, message: `${mode} "${shown(mode, name)}" can never be an ACL user: ${why}`})
    }
  }
  return {
    note: WHAT_IF_NOTE,
    email: first('email'),
    dn: first('dn'),
    o: first('o'),
    dns: whatIfNames(identity, 'dns').names.map((n) => displayBytes(n)),
    problems,
  }
}

/**
 * Offline, `--mode email|dn|o|dns`: the user name that mapping would give. The certificate is still
 * refused first for what any TLS server refuses (dates, key usages); a name no ACL user can have is
 * skipped, as it could never match.
 */
export function predictWhatIf(identity: CertificateIdentity, mode: WhatIfMode, now = new Date()): Prediction {
  const fatal = certificateProblems(identity, now).find((p) => p.fatal)
  if (fatal) return {mode, user: null, userBytes: null, reasonCode: 'rejected', reason: fatal.message, attempts: [], warnings: []}
  const {names, none} = whatIfNames(identity, mode)
  const attempts: Attempt[] = names.map((n) => ({name: shown(mode, n), result: 'not-checked'}))
  const noUser = (reason: string): Prediction => ({mode, user: null, userBytes: null, reasonCode: 'no-usable-field', reason, attempts, warnings: []})
  if (none) return noUser(`${none}: ${WHAT_IF_LABELS[mode]} gives no user name`)
  const usable = names.find((n) => unusableNameReason(n) === undefined)
  if (usable === undefined) {
    const why = names.map((n) => `"${shown(mode, n)}" ${unusableNameReason(n)!.replace(/^it /, '')}`).join('; ')
    return noUser(`${WHAT_IF_LABELS[mode]} gives no name an ACL user can have: ${why}`)
  }
  const which = names.length > 1 ? `the first of ${names.length} names that is an enabled ACL user` : `"${shown(mode, usable)}", if an enabled ACL user has that name`
  return {mode, user: shown(mode, usable), userBytes: usable, reasonCode: 'what-if', reason: `${WHAT_IF_LABELS[mode]} would take ${which}; Valkey itself has no such mode`, attempts, warnings: []}
}
