import chalk from 'chalk'

import {PHASE_TEXT} from '../rotate/plan.js'
import type {NodeSummary, RotateReport, StepReport} from '../rotate/run.js'
import {displayText} from '../x509/text.js'

const yesNo = (value: boolean | null) => (value === null ? '?' : value ? 'yes' : 'no')
const trust = (ca: NodeSummary['caFile']) => (ca === null ? '?' : ca.new && ca.old ? 'old+new' : ca.new ? 'new' : 'old')
const outcome = (o: StepReport['outcome']) => ({done: chalk.green('done'), would: chalk.cyan('would'), refused: chalk.yellow.bold('refused'), failed: chalk.red.bold('FAILED')})[o]

/** The text report of `ca rotate`: the phase, one row per node, the steps (done or planned), what to do next. */
export function renderRotate(report: RotateReport): string {
  const lines: string[] = []
  if (report.phase) lines.push(chalk.bold(`valkey-tls ca rotate: ${PHASE_TEXT[report.phase]}`) + (report.phaseBefore && report.phaseBefore !== report.phase ? chalk.dim(` (was: ${PHASE_TEXT[report.phaseBefore]})`) : ''))
  if (report.nodes.length > 0) {
    const header = ['NODE', 'ROLE', 'SERVES', 'CERT FILE', 'CLIENT CERT', 'CA FILE', 'TRUSTS NEW', 'FILES']
    const rows = report.nodes.map((n) => [n.address, n.role, n.served ?? '?', n.certFile ?? '?', n.clientCertFile ?? '-', trust(n.caFile), yesNo(n.trustsNew), n.error ? 'error' : n.local ? 'here' : 'by hand'])
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
    lines.push(chalk.bold(line(header)), ...rows.map(line))
    for (const n of report.nodes) {
      if (n.error) lines.push(chalk.red(`  ${n.address}: ${displayText(n.error)}`))
      else if (n.manualBecause) lines.push(chalk.dim(`  ${n.address}: by hand, because ${displayText(n.manualBecause)}`))
    }
  }
  if (report.steps.length > 0) lines.push('steps:', ...report.steps.map((s) => `  ${outcome(s.outcome)} ${s.kind} ${s.address}: ${displayText(s.reason)}`))
  if (report.manual.length > 0) lines.push('by hand:', ...report.manual.map((m) => `  ${displayText(m)}`))
  if (report.error) lines.push(chalk.red(`error: ${displayText(report.error)}`))
  if (report.next) lines.push(report.next)
  return lines.join('\n')
}
