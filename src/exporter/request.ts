import {isIP} from 'node:net'

import {isHostName} from '../cluster/discover.js'
import {usageError} from '../errors.js'
import {DEFAULT_PORT} from '../flags/resolve.js'
import type {Endpoint} from '../transport/options.js'
import {displayText} from '../x509/text.js'
import {COMMAND_LINE_MODULE} from './config.js'
import type {ProbeModule} from './modules.js'

/** A request the exporter refuses, with the HTTP status to answer. */
export class ProbeRequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
    this.name = 'ProbeRequestError'
  }
}

export interface ProbeRequest {
  target: Endpoint
  module: ProbeModule
  /** Epoch ms by which the answer must be sent. */
  deadline: number
}

export interface ProbeRequestContext {
  modules: Map<string, ProbeModule>
  /** Seconds kept back from Prometheus's scrape timeout, for rendering and the network. */
  timeoutOffset: number
  now?: number
}

/**
 * `/probe?target=HOST:PORT&module=NAME` plus Prometheus's `X-Prometheus-Scrape-Timeout-Seconds`: which
 * seed, which module (the command line's when none is named), and the deadline: the scrape timeout less
 * the offset, and never more than the module's own deadline.
 */
export function parseProbeRequest(query: URLSearchParams, scrapeTimeout: string | string[] | undefined, context: ProbeRequestContext): ProbeRequest {
  const targets = query.getAll('target')
  if (targets.length !== 1 || targets[0] === '') throw new ProbeRequestError(400, targets.length > 1 ? 'give one target parameter, not several' : 'the target parameter is missing (/probe?target=HOST:PORT)')
  const modules = query.getAll('module')
  if (modules.length > 1) throw new ProbeRequestError(400, 'give one module parameter, not several')
  const name = modules[0] || COMMAND_LINE_MODULE
  const module = context.modules.get(name)
  if (!module) throw new ProbeRequestError(400, `unknown module "${displayText(name.slice(0, 64))}" (known: ${[...context.modules.keys()].join(', ')})`)
  const budgetMs = Math.min(module.deadlineMs, scrapeBudgetMs(scrapeTimeout, context.timeoutOffset) ?? Infinity)
  return {target: parseTarget(targets[0]!), module, deadline: (context.now ?? Date.now()) + budgetMs}
}

/** The header's seconds less the offset (half the timeout where the offset would leave less); undefined without the header. */
export function scrapeBudgetMs(header: string | string[] | undefined, offsetSeconds: number): number | undefined {
  if (header === undefined) return undefined
  const text = Array.isArray(header) ? header[0] ?? '' : header
  const seconds = Number(text.trim())
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) throw new ProbeRequestError(400, `X-Prometheus-Scrape-Timeout-Seconds must be a positive number of seconds, not "${displayText(text.slice(0, 32))}"`)
  return Math.round(Math.max(seconds - offsetSeconds, seconds / 2) * 1000)
}

/** HOST:PORT, [IPv6]:PORT, or a host alone (port 6379), as Prometheus's `__param_target` carries it. */
export function parseTarget(raw: string): Endpoint {
  return parseEndpoint(raw, (why) => new ProbeRequestError(400, `target "${displayText(raw.slice(0, 300))}" ${why}`), {defaultPort: DEFAULT_PORT, minPort: 1})
}

/** `--listen HOST:PORT` ([IPv6]:PORT; port 0: one the system chooses). */
export function parseListenAddress(raw: string): Endpoint {
  return parseEndpoint(raw, (why) => usageError(`--listen "${displayText(raw.slice(0, 300))}" ${why}`), {minPort: 0})
}

function parseEndpoint(raw: string, bad: (why: string) => Error, {defaultPort, minPort}: {defaultPort?: number; minPort: number}): Endpoint {
  if (raw.length > 300) throw bad('is too long')
  let host: string
  let port: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(raw)
  const hostPort = /^([^:[\]\s]+)(?::(\d{1,5}))?$/.exec(raw)
  if (bracketed) {
    host = bracketed[1]!
    port = bracketed[2]
    if (isIP(host) !== 6) throw bad('has brackets around something that is not an IPv6 address')
  } else if (hostPort) {
    host = hostPort[1]!
    port = hostPort[2]
  } else if (isIP(raw) === 6 && defaultPort !== undefined) {
    host = raw
  } else {
    throw bad('is not HOST:PORT (IPv6 as [addr]:port)')
  }
  if (!isHostName(host)) throw bad('does not name a host or an IP address')
  if (port === undefined && defaultPort === undefined) throw bad('has no port (HOST:PORT)')
  const number = port === undefined ? defaultPort! : Number(port)
  if (number < minPort || number > 65_535) throw bad(`has a port outside ${minPort}-65535`)
  return {host, port: number}
}
