import chalk from 'chalk'

import type {CheckReport} from '../check/run.js'
import type {NodeResult} from '../check/probe.js'

// Coloured when rendered, not when loaded: NO_COLOR is applied after the modules are imported.
const status = (s: NodeResult['status']) => ({ok: chalk.green('ok'), warning: chalk.yellow('warning'), failed: chalk.red.bold('FAILED')})[s]

/** The terminal table of `check`: one row per node, then per-node problems, then cross-node findings. */
export function renderCheckTable(report: CheckReport): string {
  const header = ['NODE', 'ROLE', 'STATUS', 'TLS', 'HANDSHAKE', 'EXPIRES', 'CLIENT CERT', 'USER', 'BUS']
  const rows = report.nodes.map((n) => [
    n.address,
    n.role,
    status(n.status),
    n.protocol ?? '-',
    n.handshakeMs === null ? '-' : `${n.handshakeMs.toFixed(1)} ms`,
    n.daysLeft === null ? '-' : `${n.daysLeft} d`,
    n.clientCertRequired === null ? '-' : n.clientCertRequired ? 'required' : 'optional/no',
    n.user ?? '-',
    busCell(n),
  ])
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i]!))))
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i]! - visible(c))).join('  ').trimEnd()
  const lines = [chalk.bold(line(header)), ...rows.map(line)]
  const problems = report.nodes.flatMap((n) => [
    ...(n.error ? [chalk.red(`  ${n.address}: ${n.error}`)] : []),
    ...n.warnings.map((w) => chalk.yellow(`  ${n.address}: ${w}`)),
    ...n.notes.map((note) => chalk.dim(`  ${n.address}: ${note}`)),
  ])
  if (report.discovery.error) problems.unshift(chalk.red(`  discovery from ${report.discovery.seed} failed: ${report.discovery.error}`))
  if (problems.length > 0) lines.push('', ...problems)
  if (report.findings.length > 0) lines.push('', chalk.bold('Across nodes:'), ...report.findings.map((f) => chalk.yellow(`  ${f}`)))
  const s = report.summary
  const how = report.discovery.method ? ` (found with ${report.discovery.method})` : ''
  lines.push('', `${s.nodes} nodes${how}: ${s.ok} ok, ${s.warning} warning, ${s.failed} failed; ${s.findings} cross-node findings; ${s.durationMs} ms`)
  return lines.join('\n')
}

function busCell(n: NodeResult): string {
  if (!n.bus) return '-'
  return n.bus.ok ? `${n.bus.port} ok` : chalk.red(`${n.bus.port} FAILED`)
}

// eslint-disable-next-line no-control-regex
const visible = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '').length
