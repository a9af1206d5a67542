import chalk from 'chalk'

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
  const rows: Array<[string, string]> = [
    ['subject', result.subject],
    ['issuer', result.issuer],
    ['serial', result.serialNumber],
    ['valid', `${result.notBefore} to ${result.notAfter} (${daysText(result.daysLeft)})`],
    ['key', result.keyType],
    ['usage', result.extendedKeyUsages === null ? '(no extended key usage)' : result.extendedKeyUsages.join(', ')],
    ['SHA-256', result.fingerprint256],
  ]
  const sans = [...result.uris.map((u) => `URI:${u}`), ...result.dnsNames.map((d) => `DNS:${d}`), ...result.ipAddresses.map((i) => `IP:${i}`), ...result.emails.map((e) => `email:${e}`)]
  if (sans.length > 0) rows.splice(1, 0, ['SAN', sans.join(', ')])
  for (const [label, value] of rows) lines.push(`  ${label.padEnd(8)} ${value}`)

  lines.push('', chalk.bold('Mapping modes'))
  lines.push(`  CN   tries ${result.candidates.CN === null ? '(nothing: no CN)' : JSON.stringify(result.candidates.CN)}`)
  lines.push(`  URI  tries ${result.candidates.URI.length === 0 ? '(nothing: no usable URI SAN)' : result.candidates.URI.map((u) => JSON.stringify(u)).join(', then ')}`)
  if (result.problems.length > 0) {
    lines.push('', chalk.bold('Problems'))
    for (const problem of result.problems) {
      const relevant = problem.mode === undefined || result.mode === null || problem.mode === result.mode
      const text = `  ${problem.mode ? `[${problem.mode}] ` : ''}${problem.message}`
      lines.push(relevant ? chalk.yellow(text) : chalk.dim(text))
    }
  }
  return lines.join('\n')
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
