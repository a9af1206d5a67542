import chalk from 'chalk'

import type {CertificateIdentity} from '../identity/describe.js'
import type {WhoamiResult} from '../identity/whoami.js'

/**
 * Human output of `whoami`: the answer first (which user, and why), then the certificate's identity,
 * then what could go wrong. Problems of the other mapping mode are shown dimmed.
 */
export function renderWhoami(result: WhoamiResult): string {
  const lines: string[] = [answerLine(result), `  ${result.reason}`]
  for (const attempt of result.attempts) lines.push(chalk.dim(`  tried ${JSON.stringify(attempt.name)}: ${attempt.result}`))
  if (result.server) {
    const mapping = result.server.tlsAuthClientsUser ?? 'not supported'
    lines.push(chalk.dim(`  ${result.server.address}: ${result.server.version}, tls-auth-clients ${result.server.tlsAuthClients}, tls-auth-clients-user ${mapping}`))
  }
  if (result.trust) lines.push(result.trust.checked ? chalk.dim(`  trust: ${result.trust.accepted ? 'the server\'s CA files accept the certificate (rehearsed here)' : `refused: ${result.trust.reason}`}`) : chalk.dim(`  ${result.trust.reason}`))
  if (result.observedUser !== undefined) lines.push(observedLine(result))
  for (const warning of result.warnings) lines.push(chalk.yellow(`  warning: ${warning}`))

  lines.push('', chalk.bold('Certificate'))
  for (const [label, value] of certificateRows(result)) lines.push(`  ${label.padEnd(8)} ${value}`)
  lines.push(...mappingLines(result.candidates), ...problemLines(result.problems, result.mode))
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

function answerLine(result: WhoamiResult): string {
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
