import chalk from 'chalk'
import {beforeAll, describe, expect, it} from 'vitest'

import type {CertSummary} from '../../../src/reload/assess.js'
import type {Action, NodeReport, ReloadReport} from '../../../src/reload/run.js'
import {renderReload} from '../../../src/report/reload.js'

beforeAll(() => {
  chalk.level = 0
})

const OLD: CertSummary = {subject: 'CN=localhost', notAfter: '2026-01-31T00:00:00.000Z', fingerprint256: 'AA:11:22:33:44:55:66:77:88:99'}
const NEW: CertSummary = {subject: 'CN=localhost', notAfter: '2027-03-15T00:00:00.000Z', fingerprint256: 'BB:CC:DD:EE:FF:00:11:22:33:44'}

function node(address: string, action: Action, extra: Partial<NodeReport> = {}): NodeReport {
  return {
    address, role: 'primary', id: null, action, reason: '', before: OLD, after: OLD, onDisk: OLD, filesReadHere: true,
    problems: [], warnings: [], notes: [], autoReloadInterval: null, durationMs: 3, ...extra,
  }
}

function report(nodes: NodeReport[], extra: Partial<ReloadReport> = {}): ReloadReport {
  const count = (a: Action) => nodes.filter((n) => n.action === a).length
  const summary = {
    nodes: nodes.length, durationMs: 42, reloaded: count('reloaded'), unchanged: count('unchanged'), refused: count('refused'),
    failed: count('failed'), skipped: count('skipped'), 'would-reload': count('would-reload'),
  }
  const status = summary.failed + summary.skipped > 0 ? 'failed' : summary.refused > 0 ? 'refused' : 'ok'
  return {dryRun: false, discovery: {mode: 'cluster', method: null, seed: '10.0.0.1:6379', error: null}, nodes, summary, status, ...extra}
}

const unchanged3 = () => ['10.0.0.1:6379', '10.0.0.2:6379', '10.0.0.3:6379'].map((a) => node(a, 'unchanged'))

describe('renderReload', () => {
  it('says in one line that nothing changed', () => {
    expect(renderReload(report(unchanged3()), {quiet: false})).toBe('valkey-tls reload: 3 nodes unchanged')
    expect(renderReload(report([node('10.0.0.1:6379', 'unchanged')]), {quiet: false})).toBe('valkey-tls reload: 1 node unchanged')
  })

  it('says nothing at all with quiet when nothing changed', () => {
    expect(renderReload(report(unchanged3()), {quiet: true})).toBe('')
  })

  it('mentions nodes that reload by themselves in that one line', () => {
    const all = unchanged3().map((n) => ({...n, autoReloadInterval: 60}))
    expect(renderReload(report(all), {quiet: false})).toBe('valkey-tls reload: 3 nodes unchanged; all also re-read their files by themselves (tls-auto-reload-interval)')
    const some = unchanged3().map((n, i) => ({...n, autoReloadInterval: i === 1 ? 60 : i === 2 ? 0 : null}))
    expect(renderReload(report(some), {quiet: false})).toBe('valkey-tls reload: 3 nodes unchanged; 1 also re-read their files by themselves (tls-auto-reload-interval)')
  })

  it('lists every node and a summary when a node was reloaded, even with quiet', () => {
    const nodes = [
      node('10.0.0.1:6379', 'reloaded', {role: 'replica', after: NEW, onDisk: NEW, reason: 'tls-cert-file holds a different certificate than the one served', notes: ['something to know']}),
      node('10.0.0.20:6379', 'unchanged'),
    ]
    for (const quiet of [false, true]) {
      const lines = renderReload(report(nodes), {quiet}).split('\n')
      expect(lines).toHaveLength(4)
      expect(lines[0]).toMatch(/^reloaded\s+10\.0\.0\.1:6379\s+replica\s+AA:11:22:33… \(until 2026-01-31\) -> BB:CC:DD:EE… \(until 2027-03-15\)$/)
      expect(lines[1]).toBe('    note: something to know')
      expect(lines[2]).toMatch(/^unchanged\s+10\.0\.0\.20:6379\s+primary\s+AA:11:22:33… \(until 2026-01-31\)$/)
      expect(lines[3]).toBe('1 reloaded, 1 unchanged in 42 ms')
    }
  })

  it('aligns the addresses in a column', () => {
    const lines = renderReload(report([node('10.0.0.1:6379', 'reloaded', {after: NEW}), node('10.0.0.100:6379', 'unchanged')]), {quiet: false}).split('\n')
    expect(lines[0]!.indexOf('primary')).toBe(lines[1]!.indexOf('primary'))
  })

  it('lists the problems of a refused node below it', () => {
    const problems = [{code: 'expired' as const, message: '/etc/valkey/server.crt expired on 2020-01-01'}, {code: 'key-mismatch' as const, message: 'the key does not match'}]
    const text = renderReload(report([node('10.0.0.1:6379', 'refused', {reason: `${problems[0]!.message} (and 1 more)`, problems})]), {quiet: true})
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^refused\s+10\.0\.0\.1:6379\s+primary\s+\/etc\/valkey\/server\.crt expired on 2020-01-01 \(and 1 more\)$/)
    expect(lines.slice(1, 3)).toEqual(['    - /etc/valkey/server.crt expired on 2020-01-01', '    - the key does not match'])
    expect(lines[3]).toBe('1 refused in 42 ms')
  })

  it('says a dry run changed nothing', () => {
    const nodes = [node('10.0.0.1:6379', 'would-reload', {onDisk: NEW, reason: 'tls-cert-file holds a different certificate than the one served'}), node('10.0.0.2:6379', 'unchanged')]
    const lines = renderReload(report(nodes, {dryRun: true}), {quiet: false}).split('\n')
    expect(lines[0]).toMatch(/^would-reload\s+10\.0\.0\.1:6379\s+primary\s+AA:11:22:33… \(until 2026-01-31\) -> BB:CC:DD:EE… \(until 2027-03-15\): tls-cert-file holds a different certificate than the one served$/)
    expect(lines.at(-1)).toBe('dry run (nothing changed): 1 would-reload, 1 unchanged in 42 ms')
  })

  it('does not hide a dry run behind the one-line summary, even when everything is unchanged', () => {
    const text = renderReload(report(unchanged3(), {dryRun: true}), {quiet: true})
    expect(text.split('\n').at(-1)).toBe('dry run (nothing changed): 3 unchanged in 42 ms')
  })

  it('reports a failed discovery and no nodes', () => {
    const text = renderReload(report([], {status: 'failed', discovery: {mode: 'cluster', method: null, seed: '10.0.0.1:6379', error: 'connection refused'}}), {quiet: true})
    expect(text).toBe('discovery from 10.0.0.1:6379 failed: connection refused\nno nodes in 42 ms')
  })

  it('has no colour codes with chalk level 0', () => {
    const text = renderReload(report([node('10.0.0.1:6379', 'failed', {reason: 'boom'}), node('10.0.0.2:6379', 'skipped', {reason: 'not attempted'})]), {quiet: false})
    expect(text).not.toMatch(/\u001B\[/)
    expect(text.split('\n').at(-1)).toBe('1 failed, 1 skipped in 42 ms')
  })
})
