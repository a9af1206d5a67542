import {readdirSync} from 'node:fs'

/**
 * The exporter's own metrics, for `/metrics` only (probe results are on `/probe`): probes by module and
 * outcome, their durations, probes running and waiting, HTTP requests, and the usual process metrics.
 * Label values are only ever module names from the config and fixed words: a request for an unknown
 * module or path adds no series.
 */
export type ProbeOutcome = 'ok' | 'warning' | 'failed' | 'rejected' | 'error'
const OUTCOMES: ProbeOutcome[] = ['ok', 'warning', 'failed', 'rejected', 'error']
export const HANDLERS = ['/probe', '/metrics', '/', '/-/healthy', 'other'] as const
export type Handler = (typeof HANDLERS)[number]

export interface ExporterGauges {
  running: number
  queued: number
  limit: number
}

export class ExporterMetrics {
  private readonly probes = new Map<string, number>()
  private readonly durations = new Map<string, {sum: number; count: number}>()
  private readonly requests = new Map<string, number>()
  private readonly startedAt = Date.now() / 1000 - process.uptime()

  private modules: string[] = []

  constructor(modules: string[], private readonly version: string) {
    this.addModules(modules)
  }

  /** Every module's series exist from the start (or from the reload that adds it), at 0: rate() and alerts see the first probe. */
  addModules(modules: string[]): void {
    this.modules = modules
    for (const module of modules) {
      if (this.durations.has(module)) continue
      for (const outcome of OUTCOMES) this.probes.set(key({module, outcome}), 0)
      this.durations.set(module, {sum: 0, count: 0})
    }
  }

  probed(module: string, outcome: ProbeOutcome, seconds: number): void {
    const k = key({module, outcome})
    this.probes.set(k, (this.probes.get(k) ?? 0) + 1)
    if (outcome === 'rejected') return
    const d = this.durations.get(module)
    if (d) {
      d.sum += seconds
      d.count++
    }
  }

  requested(handler: Handler, code: number): void {
    const k = key({handler, code: String(code)})
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1)
  }

  render(gauges: ExporterGauges): string {
    const out: string[] = []
    const family = (name: string, type: string, help: string, samples: Array<[Record<string, string>, number]>, suffix = '') => {
      out.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`)
      for (const [labels, value] of samples) out.push(`${name}${suffix}${labelText(labels)} ${formatValue(value)}\n`)
    }
    family('valkey_tls_exporter_build_info', 'gauge', 'The exporter\'s version and Node.js version; always 1.', [[{version: this.version, nodejs: process.versions.node}, 1]])
    family('valkey_tls_exporter_probes_total', 'counter', 'Probes answered, by module and outcome (ok, warning, failed: the check\'s status; rejected: too many probes at once or shutting down; error: the module\'s files or password could not be read).',
      [...this.probes].map(([k, v]) => [parseKey(k), v]))
    const durations = [...this.durations]
    out.push('# HELP valkey_tls_exporter_probe_duration_seconds Time from a probe request to its answer, by module (rejected probes excluded).\n# TYPE valkey_tls_exporter_probe_duration_seconds summary\n')
    for (const [module, d] of durations) {
      out.push(`valkey_tls_exporter_probe_duration_seconds_sum${labelText({module})} ${formatValue(Number(d.sum.toFixed(6)))}\n`)
      out.push(`valkey_tls_exporter_probe_duration_seconds_count${labelText({module})} ${d.count}\n`)
    }
    family('valkey_tls_exporter_probes_running', 'gauge', 'Probes running now.', [[{}, gauges.running]])
    family('valkey_tls_exporter_probes_waiting', 'gauge', 'Probes waiting for one of the running ones to finish.', [[{}, gauges.queued]])
    family('valkey_tls_exporter_probes_limit', 'gauge', 'Most probes run at once (--max-probes).', [[{}, gauges.limit]])
    family('valkey_tls_exporter_modules', 'gauge', 'Modules known now, the command line\'s included.', [[{}, this.modules.length]])
    if (this.requests.size > 0) family('valkey_tls_exporter_http_requests_total', 'counter', 'HTTP requests answered, by handler and status code.', [...this.requests].map(([k, v]) => [parseKey(k), v]))
    const usage = process.cpuUsage()
    family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', [[{}, Number(((usage.user + usage.system) / 1e6).toFixed(6))]])
    family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[{}, process.memoryUsage.rss()]])
    family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [[{}, Number(this.startedAt.toFixed(3))]])
    const fds = openFileDescriptors()
    if (fds !== undefined) family('process_open_fds', 'gauge', 'Number of open file descriptors.', [[{}, fds]])
    return out.join('')
  }
}

function key(labels: Record<string, string>): string {
  return JSON.stringify(labels)
}

function parseKey(k: string): Record<string, string> {
  return JSON.parse(k) as Record<string, string>
}

function labelText(labels: Record<string, string>): string {
  const text = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')
  return text ? `{${text}}` : ''
}

function formatValue(value: number): string {
  return Number.isFinite(value) ? String(value) : 'NaN'
}

/** Linux only (/proc/self/fd); undefined elsewhere. */
function openFileDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length - 1 // the descriptor readdir itself opened
  } catch {
    return undefined
  }
}
