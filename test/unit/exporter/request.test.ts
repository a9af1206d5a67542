import {describe, expect, it} from 'vitest'

import {buildModules} from '../../../src/exporter/modules.js'
import {parseListenAddress, parseProbeRequest, parseTarget, ProbeRequestError, scrapeBudgetMs} from '../../../src/exporter/request.js'

const modules = buildModules({
  flags: {insecure: false, timeout: 5},
  deadlineMs: 30_000, warnDays: 30, concurrency: 64,
}, {modules: new Map([['quick', {deadline: 3}]])})

const request = (query: string, header?: string) => parseProbeRequest(new URLSearchParams(query), header, {modules, timeoutOffset: 0.5, now: 1_000_000})

function refused(run: () => unknown, status: number, message: RegExp): void {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ProbeRequestError)
    expect((error as ProbeRequestError).status).toBe(status)
    expect((error as Error).message).toMatch(message)
    return
  }
  throw new Error('did not throw')
}

describe('probe request', () => {
  it('no module: the command line\'s; the deadline is the scrape timeout less the offset', () => {
    const r = request('target=10.0.0.5:6380', '10')
    expect(r.module.name).toBe('default')
    expect(r.target).toEqual({host: '10.0.0.5', port: 6380})
    expect(r.deadline - 1_000_000).toBe(9500)
  })

  it('never beyond the module\'s own deadline; without the header, that deadline', () => {
    expect(request('target=a&module=quick', '10').deadline - 1_000_000).toBe(3000)
    expect(request('target=a&module=quick').deadline - 1_000_000).toBe(3000)
    expect(request('target=a').deadline - 1_000_000).toBe(30_000)
  })

  it('a scrape timeout shorter than twice the offset keeps half of it', () => {
    expect(scrapeBudgetMs('0.6', 0.5)).toBe(300)
    expect(scrapeBudgetMs(undefined, 0.5)).toBeUndefined()
    refused(() => scrapeBudgetMs('soon', 0.5), 400, /X-Prometheus-Scrape-Timeout-Seconds must be a positive number of seconds, not "soon"/)
    refused(() => scrapeBudgetMs('-1', 0.5), 400, /positive/)
  })

  it('refuses a missing or repeated target, an unknown or repeated module', () => {
    refused(() => request(''), 400, /the target parameter is missing/)
    refused(() => request('target='), 400, /the target parameter is missing/)
    refused(() => request('target=a:1&target=b:2'), 400, /one target parameter, not several/)
    refused(() => request('target=a:1&module=nope'), 400, /unknown module "nope" \(known: default, quick\)/)
    refused(() => request('target=a:1&module=quick&module=default'), 400, /one module parameter/)
  })
})

describe('target', () => {
  it('HOST:PORT, [IPv6]:PORT, a host alone (6379), a bare IPv6 address', () => {
    expect(parseTarget('valkey-1.internal:7000')).toEqual({host: 'valkey-1.internal', port: 7000})
    expect(parseTarget('[::1]:6380')).toEqual({host: '::1', port: 6380})
    expect(parseTarget('[fe80::1]')).toEqual({host: 'fe80::1', port: 6379})
    expect(parseTarget('valkey')).toEqual({host: 'valkey', port: 6379})
    expect(parseTarget('::1')).toEqual({host: '::1', port: 6379})
  })

  it('refuses what is not a host and port, shown safely', () => {
    refused(() => parseTarget('a:b'), 400, /^target "a:b" is not HOST:PORT/)
    refused(() => parseTarget('a:0'), 400, /port outside 1-65535/)
    refused(() => parseTarget('a:70000'), 400, /port outside 1-65535/)
    refused(() => parseTarget('[10.0.0.1]:1'), 400, /not an IPv6 address/)
    refused(() => parseTarget('evil\u001b:1'), 400, /^target "evil\\x1b:1" does not name a host/)
    refused(() => parseTarget('x'.repeat(400)), 400, /too long/)
  })
})

describe('--listen', () => {
  it('needs a port; 0 lets the system choose', () => {
    expect(parseListenAddress('127.0.0.1:9470')).toEqual({host: '127.0.0.1', port: 9470})
    expect(parseListenAddress('[::1]:0')).toEqual({host: '::1', port: 0})
    expect(() => parseListenAddress('127.0.0.1')).toThrow(/--listen "127\.0\.0\.1" has no port/)
    expect(() => parseListenAddress('::1')).toThrow(/--listen "::1" is not HOST:PORT/)
  })
})
