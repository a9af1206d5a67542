import chalk from 'chalk'

import {isWhatIfMode, WHAT_IF_LABELS} from '../identity/what-if.js'
import type {CertificateIdentity} from '../identity/describe.js'
import type {WhoamiResult} from '../identity/whoami.js'

/**
 * Human output of `whoami`: the answer first (which user, and why), then the certificate's identity,
 * then what could go wrong. Problems of the other mapping mode are shown dimmed.
 */
export function renderWhoami(result: WhoamiResult): string {
  const lines: string[] = [answerLine(result), `  ${result.reason}`]
  for (const attempt of result.attempts) lines.push(chalk.dim(`  tried "${attempt.name}": ${attempt.result}`)) // quoted as everywhere else: the name is escaped already (displayBytes)
  if (result.server) {
    const mapping = result.server.tlsAuthClientsUser ?? 'not supported'
    lines.push(chalk.dim(`  ${result.server.address}: ${result.server.version}, tls-auth-clients ${result.server.tlsAuthClients}, tls-auth-clients-user ${mapping}`))
  }
  if (result.trust) lines.push(result.trust.checked ? chalk.dim(`  trust: ${result.trust.accepted ? 'the server\'s CA files accept the certificate (rehearsed here)' : `refused: ${result.trust.reason}`}`) : chalk.dim(`  ${result.trust.reason}`))
  if (result.observedUser !== undefined) lines.push(observedLine(result))
  for (const warning of result.warnings) lines.push(chalk.yellow(`  warning: ${warning}`))

  lines.push('', chalk.bold('Certificate'))
  for (const [label, value] of certificateRows(result)) lines.push(`  ${label.padEnd(8)} ${value}`)
  lines.push(...mappingLines(result.candidates), ...whatIfLines(result), ...problemLines(result.problems, result.mode))
  return lines.join('\n')
}

export type ShownIdentity = Omit<CertificateIdentity, 'raw'>

/** The certificate's identity as label/value rows (`certs inspect` adds its own). */
export function certificateRows(cert: ShownIdentity): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['subject', cert.subject],
    ['issuer', cert.issuer],
    ['serial', cert.serialNumber],
    ['valid', `${cert.notBefore} to ${cert.notAfter} (${daysText(cert.daysLeft)})`],
    ['key', cert.keyType],
    ['usage', cert.extendedKeyUsages === null ? '(no extended key usage)' : cert.extendedKeyUsages.join(', ')],
    ['SHA-256', cert.fingerprint256],
  ]
  const sans = [...cert.uris.map((u) => `URI:${u}`), ...cert.dnsNames.map((d) => `DNS:${d}`), ...cert.ipAddresses.map((i) => `IP:${i}`), ...cert.emails.map((e) => `email:${e}`)]
  if (sans.length > 0) rows.splice(1, 0, ['SAN', sans.join(', ')])
  return rows
}

/** What each tls-auth-clients-user mode would try. */
export function mappingLines(candidates: WhoamiResult['candidates']): string[] {
  return [
    '', chalk.bold('Mapping modes'),
    `  CN   tries ${candidates.CN === null ? '(nothing: no CN)' : JSON.stringify(candidates.CN)}`,
    `  URI  tries ${candidates.URI.length === 0 ? '(nothing: no usable URI SAN)' : candidates.URI.map((u) => JSON.stringify(u)).join(', then ')}`,
  ]
}

/** Problems, those of the other mapping mode than `mode` dimmed. */
export function problemLines(problems: WhoamiResult['problems'], mode: WhoamiResult['mode'], heading = 'Problems'): string[] {
  if (problems.length === 0) return []
  const lines = ['', chalk.bold(heading)]
  for (const problem of problems) {
    const relevant = problem.mode === undefined || mode === null || problem.mode === mode
    const text = `  ${problem.mode ? `[${problem.mode}] ` : ''}${problem.message}`
    lines.push(relevant ? chalk.yellow(text) : chalk.dim(text))
  }
  return lines
}

/** The what-if section: names other mappings would use, set apart from what Valkey does. */
function whatIfLines(result: WhoamiResult): string[] {
  const {whatIf} = result
  const shown = (value: string | null, none: string) => (value === null ? chalk.dim(`(${none})`) : JSON.stringify(value))
  const lines = ['', `${chalk.bold('What-if mappings')} ${chalk.yellow('(not Valkey behaviour: Valkey maps only CN or URI)')}`]
  lines.push(`  email  ${shown(whatIf.email, 'no e-mail SAN')}${chalk.dim('  NATS verify_and_map: the first e-mail SAN')}`)
  // The RFC 2253 string is printable ASCII, shown exactly (JSON quoting would double its backslashes).
  lines.push(`  dn     ${whatIf.dn ?? chalk.dim('(empty subject)')}${chalk.dim('  NATS verify_and_map: the subject as RFC 2253')}`)
  lines.push(`  o      ${shown(whatIf.o, 'no O')}`)
  lines.push(`  dns    ${whatIf.dns.length === 0 ? chalk.dim('(no DNS SAN)') : whatIf.dns.map((d) => JSON.stringify(d)).join(', then ')}`)
  for (const problem of whatIf.problems) {
    const text = `  ${problem.message}`
    lines.push(problem.mode === result.mode ? chalk.yellow(text) : chalk.dim(text))
  }
  if (!isWhatIfMode(result.mode ?? '') && result.server === null) lines.push(chalk.dim('  --mode email|dn|o|dns predicts one of them'))
  return lines
}

function answerLine(result: WhoamiResult): string {
  const whatIfMode = result.mode ?? ''
  if (isWhatIfMode(whatIfMode)) {
    const label = `${chalk.yellow('What-if, not Valkey behaviour:')} ${WHAT_IF_LABELS[whatIfMode]}`
    if (result.reasonCode === 'rejected') return `${label} ${chalk.red.bold('(refused: any TLS server refuses this certificate)')}`
    return result.user === null ? `${label} gives ${chalk.yellow.bold('no user name')}` : `${label} would give ${chalk.green.bold(result.user)}`
  }
  const mode = result.mode === null ? '' : ` (tls-auth-clients-user ${result.mode})`
  if (result.user === null) return chalk.red.bold(`Refused: the server will not accept this certificate${mode}`)
  if (result.reasonCode === 'offline') return `${chalk.bold('Would log in as')} ${chalk.green.bold(result.user)}${mode}`
  const colour = result.reasonCode === 'mapped' ? chalk.green.bold : chalk.yellow.bold
  return `${chalk.bold('Logs in as')} ${colour(result.user)}${mode}`
}

function observedLine(result: WhoamiResult): string {
  const seen = result.observedUser === null ? `refused (${result.observedError ?? 'handshake failed'})` : `${result.observedUser}${result.observedAuthenticated ? '' : ' (not authenticated: NOAUTH)'}`
  return result.match ? chalk.green(`  verified: the server says ${seen}`) : chalk.red.bold(`  MISMATCH: the server says ${seen}`)
}

function daysText(days: number): string {
  if (days < 0) return chalk.red(`expired ${-days} days ago`)
  return days < 30 ? chalk.yellow(`${days} days left`) : `${days} days left`
}
