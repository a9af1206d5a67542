import {describe, expect, it} from 'vitest'

import {allowedBy, filterOf, outsideRules, parseTargetRule} from '../../../src/cluster/allow.js'
import {parseExporterConfig} from '../../../src/exporter/config.js'

const allows = (rules: string[], host: string, port = 6379) => allowedBy(rules.map(parseTargetRule), {host, port})

describe('exporter target rules', () => {
  it('networks, addresses, names, names below a domain, and ports', () => {
    expect(allows(['10.0.0.0/8'], '10.1.2.3')).toBe(true)
    expect(allows(['10.0.0.0/8'], '11.1.2.3')).toBe(false)
    expect(allows(['10.0.0.5'], '10.0.0.5', 7000)).toBe(true) // no port: any port
    expect(allows(['10.0.0.5:6379'], '10.0.0.5', 7000)).toBe(false)
    expect(allows(['10.0.0.5:*'], '10.0.0.5', 7000)).toBe(true)
    expect(allows(['[fd00::]/8'], 'fd12::1')).toBe(true)
    expect(allows(['[fd00::]/8:6379'], 'fd12::1', 6380)).toBe(false)
    expect(allows(['[::1]:6379'], '::1')).toBe(true)
    expect(allows(['::1'], '[::1]')).toBe(true)
    expect(allows(['db1.valkey.internal'], 'DB1.valkey.internal.')).toBe(true)
    expect(allows(['db1.valkey.internal'], 'db2.valkey.internal')).toBe(false)
    expect(allows(['*.valkey.internal'], 'a.b.valkey.internal')).toBe(true)
    expect(allows(['*.valkey.internal'], 'valkey.internal')).toBe(false)
    expect(allows(['*.valkey.internal'], 'evilvalkey.internal')).toBe(false)
    expect(allows(['*:6379'], 'anything.example')).toBe(true)
    expect(allows(['*:6379'], 'anything.example', 1)).toBe(false)
    // Never resolved: a name rule does not allow an address, nor a network a name.
    expect(allows(['localhost'], '127.0.0.1')).toBe(false)
    expect(allows(['127.0.0.0/8'], 'localhost')).toBe(false)
    // An IPv4-mapped IPv6 address reaches the IPv4 host on a dual-stack socket: the IPv4 rules hold for it, both ways.
    expect(allows(['10.0.0.0/8'], '::ffff:10.0.0.5')).toBe(true)
    expect(allows(['10.0.0.0/8'], '[::ffff:a00:5]')).toBe(true)
    expect(allows(['10.0.0.0/8'], '::ffff:11.0.0.5')).toBe(false)
    expect(allows(['[::ffff:10.0.0.0]/104'], '10.0.0.5')).toBe(true)
    expect(allowedBy(undefined, {host: 'anything', port: 1})).toBe(true)
    expect(allowedBy([], {host: 'anything', port: 1})).toBe(false)
  })

  it('refuses what is not a rule, saying why', () => {
    // An unbracketed IPv6 address ending in what looks like a port is refused as ambiguous; ::1 and fd00::10 are not.
    expect(() => parseTargetRule('::1:6379')).toThrow('target rule "::1:6379": ambiguous: write [::1]:6379 for port 6379 of ::1, or [::1:6379] for that address')
    expect(() => parseTargetRule('fe80::1:7000')).toThrow(/ambiguous/)
    expect(() => parseTargetRule('fe80::1:16379')).toThrow(/goes in brackets/) // (16379 is no IPv6 group)
    expect(parseTargetRule('[::1:6379]').port).toBeUndefined()
    expect(parseTargetRule('::1').port).toBeUndefined()
    expect(allows(['fd00::10'], 'fd00::10')).toBe(true)
    expect(() => parseTargetRule('10.0.0.0/33')).toThrow(/"10\.0\.0\.0\/33": \/33 is not a prefix length for IPv4/)
    expect(() => parseTargetRule('fd00::/8:6379')).toThrow(/goes in brackets/)
    expect(() => parseTargetRule('fd00::1:6379')).toThrow(/ambiguous/) // an IPv6 address, or fd00::1 port 6379? Brackets say which
    expect(parseTargetRule('[fd00::1:6379]').port).toBeUndefined()
    expect(() => parseTargetRule('db1:99999')).toThrow(/port 99999 is not 1-65535 or \*/)
    expect(() => parseTargetRule('not a host')).toThrow(/not a host name, \*\.domain, IP address or network/)
    expect(() => parseTargetRule('db.example/8')).toThrow(/a network is an IP address and a prefix length/)
  })

  it('a module\'s targets in the config file: a list of rules, checked at load', () => {
    const config = parseExporterConfig('modules:\n  m: {targets: [10.0.0.0/8, "*.valkey.internal:6379"]}\n', {source: 'exporter.yml', baseDir: '/'})
    expect(config.modules.get('m')!.targets!.map((t) => t.text)).toEqual(['10.0.0.0/8', '*.valkey.internal:6379'])
    expect(() => parseExporterConfig('modules:\n  m: {targets: []}\n', {source: 'exporter.yml', baseDir: '/'})).toThrow(/^exporter\.yml: modules\.m\.targets: must be a list of HOST\[:PORT\] rules/)
    expect(() => parseExporterConfig('modules:\n  m: {targets: [10.0.0.0/40]}\n', {source: 'exporter.yml', baseDir: '/'})).toThrow(/^exporter\.yml: modules\.m\.targets: target rule "10\.0\.0\.0\/40"/)
  })
})

describe('outsideRules', () => {
  const hint = '; a rule naming a host never allows an address (names are not resolved)'
  const filter = (...rules: string[]) => filterOf(rules.map(parseTargetRule))!

  it('hints that names are not resolved only where a rule names hosts and the node is an address', () => {
    expect(outsideRules({host: '10.0.0.5', port: 6379}, filter('db1.valkey.internal'), '--allow-target')).toBe(`not within the servers this run may connect to (--allow-target): not connected${hint}`)
    expect(outsideRules({host: '::1', port: 6379}, filter('*.valkey.internal', '10.0.0.0/8'), 'x')).toContain(hint)
    expect(outsideRules({host: 'db2.valkey.internal', port: 6379}, filter('db1.valkey.internal'), 'x')).not.toContain(hint)
    expect(outsideRules({host: '10.0.0.5', port: 6380}, filter('10.0.0.5:6379'), 'x')).not.toContain(hint)
  })

  it('no rules: no filter', () => {
    expect(filterOf(undefined)).toBeUndefined()
    expect(filter('10.0.0.0/8')({host: '10.1.2.3', port: 1})).toBe(true)
  })
})
