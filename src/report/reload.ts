import chalk from 'chalk'

import type {CertSummary} from '../reload/assess.js'
import type {Action, NodeReport, ReloadReport} from '../reload/run.js'

// Coloured when rendered, not when loaded: NO_COLOR is applied after the modules are imported.
const paint = (action: Action, text: string) => ({
  reloaded: chalk.green, unchanged: chalk.dim, refused: chalk.yellow.bold, failed: chalk.red.bold, skipped: chalk.yellow, 'would-reload': chalk.cyan,
})[action](text)

/**
 * The text report of `reload`. Nothing happened and nothing is wrong: one line (none with `quiet`), so
 * cron mails only when there is something to read. Otherwise one line per node, its problems and
 * notes below it, and a summary.
 */
export function renderReload(report: ReloadReport, options: {quiet: boolean}): string {
  const s = report.summary
  const quietRun = report.status === 'ok' && s.reloaded === 0 && s['would-reload'] === 0 && !report.dryRun
  if (quietRun) {
    if (options.quiet) return ''
    const auto = report.nodes.filter((n) => n.autoReloadInterval).length
    const also = auto > 0 ? `; ${auto === s.nodes ? 'all' : auto} also re-read their files by themselves (tls-auto-reload-interval)` : ''
    return `valkey-tls reload: ${s.nodes} node${s.nodes === 1 ? '' : 's'} unchanged${also}`
  }
  const width = Math.max(0, ...report.nodes.map((n) => n.address.length))
  const lines: string[] = []
  if (report.discovery.error) lines.push(chalk.red(`discovery from ${report.discovery.seed} failed: ${report.discovery.error}`))
  for (const n of report.nodes) {
    lines.push(`${paint(n.action, n.action.padEnd(13))}${n.address.padEnd(width)}  ${(n.role === 'unknown' ? '-' : n.role).padEnd(9)} ${detail(n)}`)
    if (n.problems.length > 1 || (n.action === 'refused' && n.problems.length === 1 && !n.reason.startsWith(n.problems[0]!.message))) {
      lines.push(...n.problems.map((p) => chalk.yellow(`    - ${p.message}`)))
    }
    lines.push(...n.warnings.map((w) => chalk.yellow(`    warning: ${w}`)))
    lines.push(...n.notes.map((note) => chalk.dim(`    note: ${note}`)))
  }
  const counts = (['reloaded', 'would-reload', 'unchanged', 'refused', 'failed', 'skipped'] as const).filter((a) => s[a] > 0).map((a) => `${s[a]} ${a}`)
  lines.push(`${report.dryRun ? 'dry run (nothing changed): ' : ''}${counts.join(', ') || 'no nodes'} in ${s.durationMs} ms`)
  return lines.join('\n')
}

function detail(n: NodeReport): string {
  switch (n.action) {
    case 'reloaded': return `${cert(n.before)} -> ${cert(n.after)}`
    case 'would-reload': return `${cert(n.before)} -> ${n.onDisk ? cert(n.onDisk) : '?'}: ${n.reason}`
    case 'unchanged': return cert(n.before)
    default: return n.reason
  }
}

const cert = (c: CertSummary | null) => (c ? `${c.fingerprint256.slice(0, 11)}… (until ${c.notAfter.slice(0, 10)})` : 'none')
