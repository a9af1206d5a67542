import chalk from 'chalk'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import type {renderCheckTable as RenderCheckTable} from '../../../src/report/check.js'
import {makeFailedNode, makeNode, makePort, makeReport} from '../check/factory.js'

type Render = typeof RenderCheckTable
const ESC = '\u001B['
const savedLevel = chalk.level

/** A fresh copy of the module, loaded while chalk has `level` (the status words are coloured at load). */
async function loadRenderer(level: typeof chalk.level): Promise<Render> {
  chalk.level = level
  vi.resetModules()
  return (await import('../../../src/report/check.js')).renderCheckTable
}

afterAll(() => {
  chalk.level = savedLevel
})

const nodes = [
  makeNode({host: '10.0.0.1', port: 6379, role: 'primary', handshakeMs: 3.25, daysLeft: 365, clientCertRequired: true, user: 'alice', bus: makePort({port: 16_379})}),
  makeNode({host: 'fd00::2', port: 6380, role: 'replica', status: 'warning', handshakeMs: 12.04, daysLeft: 5, clientCertRequired: false, warnings: ['certificate expires in 5 days (2026-01-01T00:00:00.000Z)'], notes: ['TLS settings not read (NOPERM: give a user allowed CONFIG GET)']}),
  makeFailedNode({host: 'node-3.example.internal', port: 7000, role: 'unknown', error: 'connection refused', bus: makePort({port: 17_000, ok: false, error: 'refused'})}),
]
const findings = ['different CAs: "CN=A" on 10.0.0.1:6379; "CN=B" on [fd00::2]:6380', 'different tls-protocols settings: "TLSv1.3" on 10.0.0.1:6379; "TLSv1.2" on [fd00::2]:6380']
const report = makeReport(nodes, {findings})

describe('renderCheckTable (no colour)', () => {
  let render: Render
  let lines: string[]
  beforeAll(async () => {
    render = await loadRenderer(0)
    lines = render(report).split('\n')
  })

  it('has no colour codes at chalk level 0', () => {
    expect(render(report)).not.toContain(ESC)
  })

  it('prints the header and one row per node with every cell', () => {
    expect(lines[0]!.split(/ {2,}/)).toEqual(['NODE', 'ROLE', 'STATUS', 'TLS', 'HANDSHAKE', 'EXPIRES', 'CLIENT CERT', 'USER', 'BUS'])
    expect(lines[1]!.split(/ {2,}/)).toEqual(['10.0.0.1:6379', 'primary', 'ok', 'TLSv1.3', '3.3 ms', '365 d', 'required', 'alice', '16379 ok'])
    expect(lines[2]!.split(/ {2,}/)).toEqual(['[fd00::2]:6380', 'replica', 'warning', 'TLSv1.3', '12.0 ms', '5 d', 'optional/no', '-', '-'])
    expect(lines[3]!.split(/ {2,}/)).toEqual(['node-3.example.internal:7000', 'unknown', 'FAILED', '-', '-', '-', '-', '-', '17000 FAILED'])
    expect(lines[4]).toBe('')
  })

  it('aligns the columns: every cell of a row starts where its header starts', () => {
    const header = lines[0]!
    const names = ['NODE', 'ROLE', 'STATUS', 'TLS', 'HANDSHAKE', 'EXPIRES', 'CLIENT CERT', 'USER', 'BUS']
    const starts = names.map((n) => header.indexOf(n))
    expect(starts[0]).toBe(0)
    // The widest NODE cell sets the second column: "node-3.example.internal:7000" + two spaces.
    expect(starts[1]).toBe('node-3.example.internal:7000'.length + 2)
    for (const row of lines.slice(1, 4)) {
      const cellStarts = [...row.matchAll(/(?:^|(?<= {2}))(\S+(?: \S+)*)/g)].map((m) => m.index)
      expect(cellStarts).toEqual(starts)
    }
    expect(lines.slice(0, 4).every((l) => l === l.trimEnd())).toBe(true)
  })

  it('lists errors, warnings and notes per node, then the findings under "Across nodes:"', () => {
    expect(lines.slice(5, 9)).toEqual([
      '  [fd00::2]:6380: certificate expires in 5 days (2026-01-01T00:00:00.000Z)',
      '  [fd00::2]:6380: TLS settings not read (NOPERM: give a user allowed CONFIG GET)',
      '  node-3.example.internal:7000: connection refused',
      '',
    ])
    expect(lines.slice(9, 12)).toEqual(['Across nodes:', `  ${findings[0]}`, `  ${findings[1]}`])
  })

  it('ends with the summary line', () => {
    expect(lines.slice(-2)).toEqual(['', '3 nodes (found with CLUSTER SHARDS): 1 ok, 1 warning, 1 failed; 2 cross-node findings; 1234 ms'])
  })

  it('leaves out empty sections and the method when there is none', () => {
    const plain = render(makeReport([makeNode()], {discovery: {mode: 'list', method: null, seed: null, error: null}})).split('\n')
    expect(plain).toHaveLength(4)
    expect(plain[1]).toMatch(/^10\.0\.0\.1:6379 {2}primary {2}ok/)
    expect(plain[3]).toBe('1 nodes: 1 ok, 0 warning, 0 failed; 0 cross-node findings; 1234 ms')
    expect(plain).not.toContain('Across nodes:')
  })

  it('puts a discovery failure first among the problems', () => {
    const out = render(makeReport([makeFailedNode({host: '10.0.0.9', error: 'TCP connected, but no TLS handshake within 5 s'})], {
      discovery: {mode: 'seed-only', method: null, seed: '10.0.0.9:6379', error: 'no reply to INFO within 5 s'},
    })).split('\n')
    expect(out.slice(2, 5)).toEqual(['', '  discovery from 10.0.0.9:6379 failed: no reply to INFO within 5 s', '  10.0.0.9:6379: TCP connected, but no TLS handshake within 5 s'])
  })
})

describe('renderCheckTable (colour)', () => {
  it('keeps the columns aligned when cells carry colour codes', async () => {
    const render = await loadRenderer(1)
    const coloured = render(report)
    expect(coloured).toContain(ESC)
    const strip = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '')
    const plain = (await loadRenderer(0))(report)
    expect(strip(coloured)).toBe(plain)
  })

  // BUG: STATUS is coloured once, when src/report/check.ts is loaded. BaseCommand.init() sets
  // chalk.level = 0 for NO_COLOR only later, so on a terminal `NO_COLOR=1 valkey-tls check` still
  // prints the status column in colour. Flip to it() once the words are coloured at render time.
  it('honours a chalk level set after the module was loaded (known bug)', async () => {
    const render = await loadRenderer(1)
    chalk.level = 0
    expect(render(report)).not.toContain(ESC)
  })
})
