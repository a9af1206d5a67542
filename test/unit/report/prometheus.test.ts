import {describe, expect, it} from 'vitest'

import {renderPrometheus} from '../../../src/report/prometheus.js'
import {makeFailedNode, makeNode, makePort, makeReport} from '../check/factory.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

interface Exposition {
  help: Map<string, string>
  type: Map<string, string>
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
// Go's strconv.ParseFloat as Prometheus accepts it, plus NaN and infinities.
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]?Inf)$/

/**
 * A strict parser of the text exposition format (0.0.4): HELP and TYPE at most once per family and
 * before its samples, samples of a family contiguous, label values with only \\ \" \n escapes, no
 * duplicate label names or series, a final newline. Throws on the first violation, naming the line.
 */
function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('does not end with a newline')
  const out: Exposition = {help: new Map(), type: new Map(), samples: []}
  const finished = new Set<string>()
  const series = new Set<string>()
  let current: string | undefined
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, index) => {
    const fail = (why: string) => {
      throw new Error(`line ${index + 1} ${JSON.stringify(line)}: ${why}`)
    }
    const enter = (name: string) => {
      if (!METRIC_NAME.test(name)) fail('bad metric name')
      if (name !== current) {
        if (finished.has(name)) fail(`family ${name} is not contiguous`)
        if (current) finished.add(current)
        current = name
      }
    }
    if (line === '') fail('empty line')
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string]
      enter(name)
      if (out.samples.some((s) => s.name === name)) fail(`${kind} after samples`)
      const map = kind === 'HELP' ? out.help : out.type
      if (map.has(name)) fail(`second ${kind}`)
      if (kind === 'TYPE' && !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) fail('unknown type')
      if (kind === 'HELP' && /\\(?![\\n])/.test(rest)) fail('bad escape in HELP')
      map.set(name, rest)
      return
    }
    if (line.startsWith('#')) fail('unexpected comment')
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)
    if (!head) fail('bad metric name')
    const name = head![1]!
    enter(name)
    let pos = name.length
    const labels: Record<string, string> = {}
    if (line[pos] === '{') {
      pos++
      while (line[pos] !== '}') {
        const label = /^([^=]*)="/.exec(line.slice(pos))
        if (!label || !LABEL_NAME.test(label[1]!)) fail(`bad label at column ${pos}`)
        const labelName = label![1]!
        if (labelName in labels) fail(`label ${labelName} twice`)
        pos += label![0].length
        let value = ''
        for (;;) {
          const c = line[pos]
          if (c === undefined) fail('unterminated label value')
          if (c === '"') break
          if (c === '\\') {
            const next = line[pos + 1]
            if (next === '\\') value += '\\'
            else if (next === '"') value += '"'
            else if (next === 'n') value += '\n'
            else fail(`bad escape \\${next}`)
            pos += 2
          } else {
            value += c
            pos++
          }
        }
        labels[labelName] = value
        pos++
        if (line[pos] === ',') pos++
        else if (line[pos] !== '}') fail(`expected , or } at column ${pos}`)
      }
      pos++
    }
    const rest = line.slice(pos)
    const parts = /^ (\S+)(?: (-?\d+))?$/.exec(rest)
    if (!parts || !FLOAT.test(parts[1]!)) fail('bad sample value')
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (series.has(key)) fail('duplicate series')
    series.add(key)
    out.samples.push({name, labels, value: Number(parts![1] === 'Inf' || parts![1] === '+Inf' ? Infinity : parts![1] === '-Inf' ? -Infinity : parts![1])})
  })
  for (const s of out.samples) {
    const type = out.type.get(s.name)
    if (type !== 'gauge' && !(type === 'counter' && s.name.endsWith('_total'))) throw new Error(`${s.name}: no "# TYPE ${s.name} gauge" (or counter, named _total)`)
    if (!out.help.has(s.name)) throw new Error(`${s.name}: no HELP`)
  }
  for (const name of [...out.help.keys(), ...out.type.keys()]) {
    if (!out.samples.some((s) => s.name === name)) throw new Error(`${name}: HELP/TYPE without samples`)
  }
  return out
}

const find = (e: Exposition, name: string, labels: Record<string, string> = {}) =>
  e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))

describe('the strict parser itself', () => {
  it.each([
    ['no final newline', '# HELP a x\n# TYPE a gauge\na 1'],
    ['a sample before TYPE', '# HELP a x\na 1\n# TYPE a gauge\n'],
    ['two TYPE lines', '# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1\n'],
    ['a bad value', '# HELP a x\n# TYPE a gauge\na one\n'],
    ['an unescaped quote', '# HELP a x\n# TYPE a gauge\na{l="x"y"} 1\n'],
    ['a bad escape', '# HELP a x\n# TYPE a gauge\na{l="x\\ty"} 1\n'],
    ['a bad metric name', '# HELP 1a x\n# TYPE 1a gauge\n1a 1\n'],
    ['interleaved families', '# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na{x="1"} 2\n'],
    ['a duplicate series', '# HELP a x\n# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'],
  ])('rejects %s', (_, text) => {
    expect(() => parseExposition(text)).toThrow()
  })

  it('accepts a valid exposition and unescapes label values', () => {
    const e = parseExposition('# HELP a x\n# TYPE a gauge\na{l="q\\"b\\\\n\\n"} -1.5e3\na 0\n')
    expect(e.samples).toEqual([{name: 'a', labels: {l: 'q"b\\n\n'}, value: -1500}, {name: 'a', labels: {}, value: 0}])
  })
})

describe('renderPrometheus', () => {
  const ok = makeNode({host: '10.0.0.1', port: 6379, role: 'primary', id: 'a'.repeat(40), handshakeMs: 3.25, clientCertRequired: true, bus: makePort({port: 16_379, handshakeMs: 1.5, notAfter: '2031-06-30T12:00:00.000Z'}),
    loaded: {server: '2030-01-01T00:00:00.000Z', client: null, ca: '2035-01-01T00:00:00.000Z'}, aclDeniedTlsCert: 4})
  const busFailed = makeNode({host: '10.0.0.2', port: 6380, role: 'replica', handshakeMs: 12, clientCertRequired: false, notAfter: '2029-03-01T00:00:00.000Z', ok: false, status: 'failed',
    error: 'cluster bus port 16380: connection refused', reason: 'refused', bus: makePort({port: 16_380, ok: false, error: 'connection refused', reason: 'refused', handshakeMs: null, notAfter: null})})
  const failed = makeFailedNode({host: '10.0.0.3', port: 6381, role: 'unknown', reason: 'timeout'})
  const report = makeReport([ok, busFailed, failed], {findings: ['different CAs: ...'], summary: {nodes: 3, ok: 1, warning: 0, failed: 2, findings: 1, durationMs: 2500}})
  const text = renderPrometheus(report)
  const e = parseExposition(text)
  const one = (name: string, labels: Record<string, string> = {}) => find(e, name, labels).map((s) => s.value)

  it('is valid exposition format with one HELP and one TYPE per family, in a fixed order', () => {
    expect([...e.type.keys()]).toEqual([
      'valkey_tls_probe_success', 'valkey_tls_discovery_success', 'valkey_tls_probe_duration_seconds', 'valkey_tls_nodes', 'valkey_tls_findings',
      'valkey_tls_node_info', 'valkey_tls_port_success', 'valkey_tls_port_failure_info', 'valkey_tls_handshake_duration_seconds',
      'valkey_tls_cert_not_after_timestamp_seconds', 'valkey_tls_client_cert_required', 'valkey_tls_node_warnings',
      'valkey_tls_loaded_cert_not_after_timestamp_seconds', 'valkey_tls_acl_access_denied_tls_cert_total',
    ])
    expect(text.match(/^# HELP /gm)).toHaveLength(14)
    expect(e.type.get('valkey_tls_acl_access_denied_tls_cert_total')).toBe('counter')
    for (const s of e.samples) expect(s.name).toMatch(METRIC_NAME)
  })

  it('probe success is 1 only when discovery worked and every node passed (warnings pass)', () => {
    expect(one('valkey_tls_probe_success')).toEqual([0])
    expect(one('valkey_tls_discovery_success')).toEqual([1])
    const warned = makeNode({status: 'warning', warnings: ['certificate expires in 3 days']})
    const good = parseExposition(renderPrometheus(makeReport([warned])))
    expect(find(good, 'valkey_tls_probe_success').map((s) => s.value)).toEqual([1])
    expect(find(good, 'valkey_tls_node_warnings').map((s) => s.value)).toEqual([1])
    // A refused discovery (only the seed checked, and it passed) is a failed probe in every output.
    const seedOnly = makeReport([makeNode()], {discovery: {mode: 'seed-only', method: null, seed: '10.0.0.1:6379', error: '10.0.0.1:6379: the server requires a client certificate', errorKind: 'auth'}})
    const refused = parseExposition(renderPrometheus(seedOnly))
    expect(find(refused, 'valkey_tls_probe_success').map((s) => s.value)).toEqual([0])
    expect(find(refused, 'valkey_tls_discovery_success').map((s) => s.value)).toEqual([0])
  })

  it('labels are node and port type only; the role is an info metric of its own (stable across failovers)', () => {
    expect(find(e, 'valkey_tls_port_success').map((s) => [s.labels, s.value])).toEqual([
      [{node: '10.0.0.1:6379', port_type: 'client'}, 1],
      [{node: '10.0.0.1:6379', port_type: 'bus'}, 1],
      [{node: '10.0.0.2:6380', port_type: 'client'}, 1], // its bus failed, not its client port
      [{node: '10.0.0.2:6380', port_type: 'bus'}, 0],
      [{node: '10.0.0.3:6381', port_type: 'client'}, 0],
    ])
    expect(find(e, 'valkey_tls_node_info').map((s) => s.labels)).toEqual([
      {node: '10.0.0.1:6379', role: 'primary', id: 'a'.repeat(40)}, {node: '10.0.0.2:6380', role: 'replica', id: ''}, {node: '10.0.0.3:6381', role: 'unknown', id: ''},
    ])
  })

  it('says why each failed port failed', () => {
    expect(find(e, 'valkey_tls_port_failure_info').map((s) => [s.labels, s.value])).toEqual([
      [{node: '10.0.0.2:6380', port_type: 'bus', reason: 'refused'}, 1],
      [{node: '10.0.0.3:6381', port_type: 'client', reason: 'timeout'}, 1],
    ])
  })

  it('gives handshake durations in seconds, and none for a port without a handshake', () => {
    expect(find(e, 'valkey_tls_handshake_duration_seconds').map((s) => [s.labels.node, s.labels.port_type, s.value])).toEqual([
      ['10.0.0.1:6379', 'client', 0.003_25], ['10.0.0.1:6379', 'bus', 0.0015], ['10.0.0.2:6380', 'client', 0.012],
    ])
  })

  it('gives not-after as Unix seconds whenever a certificate was served, verified or not', () => {
    const samples = find(e, 'valkey_tls_cert_not_after_timestamp_seconds')
    expect(samples.map((s) => [s.labels.node, s.labels.port_type, s.value])).toEqual([
      ['10.0.0.1:6379', 'client', Date.parse(ok.notAfter!) / 1000],
      ['10.0.0.1:6379', 'bus', Date.parse('2031-06-30T12:00:00.000Z') / 1000],
      ['10.0.0.2:6380', 'client', Date.parse('2029-03-01T00:00:00.000Z') / 1000],
    ])
    expect(samples[0]!.value).toBe(1_893_456_000)
    const untrusted = makeNode({ok: false, status: 'failed', error: 'certificate expired on 2020-01-01T00:00:00.000Z', reason: 'expired', notAfter: '2020-01-01T00:00:00.000Z'})
    expect(find(parseExposition(renderPrometheus(makeReport([untrusted]))), 'valkey_tls_cert_not_after_timestamp_seconds').map((s) => s.value)).toEqual([1_577_836_800])
  })

  it('what the node says it loaded, and the refused-certificate counter, where the node has them', () => {
    expect(find(e, 'valkey_tls_loaded_cert_not_after_timestamp_seconds').map((s) => [s.labels.node, s.labels.cert, s.value])).toEqual([
      ['10.0.0.1:6379', 'server', 1_893_456_000], ['10.0.0.1:6379', 'ca', Date.parse('2035-01-01T00:00:00.000Z') / 1000],
    ])
    expect(find(e, 'valkey_tls_acl_access_denied_tls_cert_total').map((s) => [s.labels.node, s.value])).toEqual([['10.0.0.1:6379', 4]])
  })

  it('says whether a client certificate is required only where it is known', () => {
    expect(find(e, 'valkey_tls_client_cert_required').map((s) => [s.labels.node, s.value])).toEqual([['10.0.0.1:6379', 1], ['10.0.0.2:6380', 0]])
  })

  it('has the run totals', () => {
    expect(find(e, 'valkey_tls_nodes').map((s) => [s.labels, s.value])).toEqual([[{status: 'ok'}, 1], [{status: 'warning'}, 0], [{status: 'failed'}, 2]])
    expect(one('valkey_tls_findings')).toEqual([1])
    expect(one('valkey_tls_probe_duration_seconds')).toEqual([2.5])
  })

  it('omits families without samples', () => {
    const only = parseExposition(renderPrometheus(makeReport([makeFailedNode()])))
    expect([...only.type.keys()]).not.toContain('valkey_tls_handshake_duration_seconds')
    expect([...only.type.keys()]).not.toContain('valkey_tls_cert_not_after_timestamp_seconds')
    expect([...only.type.keys()]).not.toContain('valkey_tls_client_cert_required')
    expect(parseExposition(renderPrometheus(makeReport([]))).samples.map((s) => s.name)).toEqual([
      'valkey_tls_probe_success', 'valkey_tls_discovery_success', 'valkey_tls_probe_duration_seconds', 'valkey_tls_nodes', 'valkey_tls_nodes', 'valkey_tls_nodes', 'valkey_tls_findings',
    ])
  })

  it('escapes backslash, double quote and newline in label values', () => {
    const odd = makeNode({address: 'x\\"\ny', bus: null})
    const out = renderPrometheus(makeReport([odd]))
    expect(out).toContain('node="x\\\\\\"\\ny"')
    const [success] = find(parseExposition(out), 'valkey_tls_port_success')
    expect(success!.labels).toEqual({node: 'x\\"\ny', port_type: 'client'})
  })

  it('writes NaN for a not-after it cannot parse, still valid', () => {
    const out = renderPrometheus(makeReport([makeNode({notAfter: 'garbage'})]))
    expect(out).toMatch(/^valkey_tls_cert_not_after_timestamp_seconds\{[^}]*\} NaN$/m)
    expect(() => parseExposition(out)).not.toThrow()
  })

  it('names IPv6 nodes in brackets', () => {
    const v6 = makeNode({host: '::1', port: 6379, bus: makePort({port: 16_379})})
    expect(find(parseExposition(renderPrometheus(makeReport([v6]))), 'valkey_tls_port_success').map((s) => s.labels.node)).toEqual(['[::1]:6379', '[::1]:6379'])
  })
})
