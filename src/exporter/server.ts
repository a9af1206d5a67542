import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {emptyResult} from '../check/probe.js'
import {type CheckOptions, type CheckReport, runCheck} from '../check/run.js'
import {ValkeyTlsError} from '../errors.js'
import {renderPrometheus} from '../report/prometheus.js'
import {type Endpoint, formatAddress} from '../transport/options.js'
import {displayText} from '../x509/text.js'
import {filterOf} from '../cluster/allow.js'
import {ProbeLimiter} from './limiter.js'
import {ExporterMetrics, type Handler, HANDLERS} from './metrics.js'
import {connectionFor, type ProbeModule} from './modules.js'
import {type ProbeRequest, ProbeRequestError, parseProbeRequest} from './request.js'

/** Prometheus's text exposition format. */
const EXPOSITION = 'text/plain; version=0.0.4; charset=utf-8'
/** A probe that would have less than this left after waiting for a slot is not started. */
const MIN_PROBE_MS = 100

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
/** Where the exporter's events go (the command writes them to stderr); messages never hold a password. */
export type Logger = (level: LogLevel, message: string, fields?: Record<string, string | number>) => void

export interface ExporterOptions {
  listen: Endpoint
  /** Every module by name, the command line's (`default`) included. */
  modules: Map<string, ProbeModule>
  /** Probes run at once; as many again may wait. */
  maxProbes: number
  /** Seconds kept back from Prometheus's scrape timeout. */
  timeoutOffset: number
  version: string
  log: Logger
  /** The check a probe runs and how its report is rendered (tests put fakes here). */
  check?: (options: CheckOptions) => Promise<CheckReport>
  render?: (report: CheckReport) => string
}

export interface Exporter {
  /** Where it listens (the port the system chose, for `--listen HOST:0`). */
  readonly address: Endpoint
  /**
   * Graceful stop: no new connections, waiting probes refused (503), running probes finish (each within
   * its deadline) and are answered, then every connection is closed. Idempotent.
   */
  close(): Promise<void>
  /** Closes every connection now (a second SIGTERM). */
  destroy(): void
  /** Probes from now on use these modules (SIGHUP, the config file read again); running probes keep theirs. */
  reload(modules: Map<string, ProbeModule>): void
}

/** A request may take the longest probe's deadline, and this much more (reading it, answering). */
const REQUEST_TIMEOUT_EXTRA_MS = 10_000

/** Serves `/probe` (a check per request, rendered for Prometheus), `/metrics` (the exporter's own), `/` and `/-/healthy`. */
export async function startExporter(options: ExporterOptions): Promise<Exporter> {
  const {log} = options
  let {modules} = options
  const check = options.check ?? runCheck
  const render = options.render ?? renderPrometheus
  const limiter = new ProbeLimiter(options.maxProbes, options.maxProbes)
  const metrics = new ExporterMetrics([...modules.keys()], options.version)
  const longestOf = (of: Map<string, ProbeModule>) => Math.max(...[...of.values()].map((m) => m.deadlineMs))
  let longestProbeMs = longestOf(modules)
  let closing: Promise<void> | undefined

  const send = (req: IncomingMessage, res: ServerResponse, handler: Handler, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}) => {
    metrics.requested(handler, status)
    if (closing) res.shouldKeepAlive = false
    res.writeHead(status, {'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra})
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  const probe = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const started = Date.now()
    let request: ProbeRequest
    try {
      request = parseProbeRequest(url.searchParams, req.headers['x-prometheus-scrape-timeout-seconds'], {modules, timeoutOffset: options.timeoutOffset, now: started})
    } catch (error) {
      if (!(error instanceof ProbeRequestError)) throw error
      log('debug', 'probe refused', {status: error.status, reason: error.message})
      send(req, res, '/probe', error.status, `${error.message}\n`)
      return
    }
    const {module, target, deadline} = request
    const fields = {target: formatAddress(target), module: module.name}
    // The module's servers: the target first, then every node the check finds from it.
    const allow = filterOf(module.targets)
    if (allow && !allow(target)) {
      log('debug', 'probe refused', {...fields, status: 403, reason: 'not among the module\'s targets'})
      send(req, res, '/probe', 403, `target ${displayText(formatAddress(target))} is not among module ${module.name}'s targets (--allow-target, or targets: in the config)\n`)
      return
    }
    const slot = await limiter.acquire(deadline - MIN_PROBE_MS)
    if (typeof slot === 'string') {
      metrics.probed(module.name, 'rejected', 0)
      const why = slot === 'closed' ? 'the exporter is shutting down' : `${limiter.limit} probes are running already (--max-probes) and ${slot === 'busy' ? `${limiter.queued} more are waiting` : 'none finished before this probe\'s deadline'}`
      log('warn', 'probe not started', {...fields, reason: why})
      send(req, res, '/probe', 503, `probe not started: ${why}\n`, undefined, {'Retry-After': '1'})
      return
    }
    let checking: Promise<CheckReport> | undefined
    try {
      const connection = await connectionFor(module, target)
      checking = check({connection, sentinel: module.sentinel, anonymousProbe: module.anonymousProbe, warnDays: module.warnDays, concurrency: module.concurrency, deadlineMs: Math.max(1, deadline - Date.now()), allow})
      let report = await settledBy(checking, deadline)
      if (!report) {
        // The check bounds its own steps; should one still run late, Prometheus gets a failure in time, not a timeout.
        log('warn', 'probe not finished by its deadline: answered as failed', fields)
        report = unfinished(request, started)
      }
      const body = render(report)
      const seconds = (Date.now() - started) / 1000
      metrics.probed(module.name, report.status, seconds)
      log('debug', 'probe done', {...fields, status: report.status, nodes: report.summary.nodes, failed: report.summary.failed, duration_seconds: seconds, ...(report.discovery.error ? {discovery_error: report.discovery.error} : {})})
      send(req, res, '/probe', 200, body, EXPOSITION)
    } catch (error) {
      // The module's own files or password (an input error), or a bug: the exporter's problem, not the target's.
      const expected = error instanceof ValkeyTlsError
      metrics.probed(module.name, 'error', (Date.now() - started) / 1000)
      log(expected ? 'warn' : 'error', 'probe failed', {...fields, reason: oneLine(error)})
      send(req, res, '/probe', 500, `probe failed: ${expected ? oneLine(error) : 'internal error (see the exporter\'s log)'}\n`)
    } finally {
      // A check answered for at its deadline still holds its sockets: its slot is free only once it ends.
      if (checking) checking.then(slot.release, slot.release)
      else slot.release()
    }
  }

  const landing = (): string => [
    `valkey-tls exporter ${options.version}`,
    '',
    '/probe?target=HOST:PORT&module=NAME   check TLS on every node of the cluster or replication set of HOST:PORT',
    '/metrics                              the exporter\'s own metrics',
    '/-/healthy                            200 while the exporter runs',
    '',
    `modules: ${[...modules.keys()].join(', ')}`,
    '',
  ].join('\n')

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://exporter')
    const handler: Handler = (HANDLERS as readonly string[]).includes(url.pathname) ? (url.pathname as Handler) : 'other'
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, handler, 405, 'only GET and HEAD are served\n', undefined, {Allow: 'GET, HEAD'})
      return
    }
    const answer = async () => {
      switch (handler) {
        case '/probe': return probe(req, res, url)
        case '/metrics': return send(req, res, handler, 200, metrics.render({running: limiter.running, queued: limiter.queued, limit: limiter.limit}), EXPOSITION)
        case '/': return send(req, res, handler, 200, landing())
        case '/-/healthy': return send(req, res, handler, 200, 'OK\n')
        default: return send(req, res, handler, 404, 'not found: see / for what is served\n')
      }
    }
    answer().catch((error: unknown) => {
      log('error', 'request failed', {path: url.pathname.slice(0, 100), reason: oneLine(error)})
      if (!res.headersSent) send(req, res, handler, 500, 'internal error (see the exporter\'s log)\n')
      else res.destroy()
    })
  })
  // Slow or silent clients cannot hold connections open for long; a probe's answer can take its whole deadline.
  server.headersTimeout = 10_000
  server.requestTimeout = longestProbeMs + REQUEST_TIMEOUT_EXTRA_MS

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({host: options.listen.host, port: options.listen.port}, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address() as AddressInfo

  return {
    address: {host: bound.address, port: bound.port},
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        limiter.close()
        server.closeIdleConnections()
        let timer: NodeJS.Timeout | undefined
        // Running probes end by their deadlines; the bound is only a safety net.
        await Promise.race([limiter.idle(), new Promise((resolve) => (timer = setTimeout(resolve, longestProbeMs + 5000)))])
        clearTimeout(timer)
        server.closeIdleConnections()
        // Answers still being written get a moment; then whatever is left goes.
        const last = setTimeout(() => server.closeAllConnections(), 1000)
        await closed
        clearTimeout(last)
      })()
      return closing
    },
    destroy() {
      server.closeAllConnections()
    },
    reload(next) {
      modules = next
      metrics.addModules([...next.keys()])
      longestProbeMs = longestOf(next)
      server.requestTimeout = longestProbeMs + REQUEST_TIMEOUT_EXTRA_MS
    },
  }
}

/** The promise's value, or undefined when `deadline` (epoch ms) comes first. */
async function settledBy<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), undefined)))
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** What a check that ran past the probe's deadline is reported as: the seed alone, failed, nothing listed. */
function unfinished({target, deadline}: ProbeRequest, started: number): CheckReport {
  const error = `not finished within the probe's deadline (${((deadline - started) / 1000).toFixed(1)} s)`
  const seed = {...emptyResult({...target, role: 'unknown'}), error, reason: 'timeout'}
  return {
    discovery: {mode: 'seed-only', method: null, seed: formatAddress(target), error, errorKind: 'server'},
    nodes: [seed],
    findings: [],
    summary: {nodes: 1, ok: 0, warning: 0, failed: 1, findings: 0, durationMs: Date.now() - started},
    status: 'failed',
  }
}

function oneLine(error: unknown): string {
  return String((error as Error | undefined)?.message ?? error).split('\n')[0]!.slice(0, 500)
}
