import {BlockList, isIP} from 'node:net'

import type {Endpoint} from '../transport/options.js'

/**
 * Which servers a run may connect to (check and reload `--allow-target`; the exporter's `--allow-target` and a module's `targets:`). Whoever can reach
 * `/probe` names the target, and a probe presents the module's client certificate and sends its password to
 * every node it finds: without a list, that is any host. A rule is HOST[:PORT]:
 * - HOST: `*` (any), a name (`db1.valkey.internal`), `*.valkey.internal` (any name below it), an IP address, or
 *   a network (`10.0.0.0/8`, `[fd00::]/8`); IPv6 in brackets when a port follows (unbracketed, `::1:6379` is
 *   refused as ambiguous: an address ending in a group of 4-5 digits, or `::1` port 6379?);
 * - PORT: a number, or `*` / nothing for any port.
 * Names are compared as written (case aside), never resolved: a name rule does not allow the node's IP
 * address, nor a network rule its name. Discovered nodes are checked too (as CLUSTER SHARDS or INFO name them).
 * An IPv4-mapped IPv6 address (::ffff:10.0.0.5) is the IPv4 host it reaches: IPv4 rules hold for it (BlockList).
 */
export interface TargetRule {
  text: string
  port: number | undefined
  host: {kind: 'any'} | {kind: 'name'; name: string} | {kind: 'below'; suffix: string} | {kind: 'net'; list: BlockList}
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/

/** One rule, or an Error saying why it is not one. */
export function parseTargetRule(raw: string): TargetRule {
  const text = raw.trim()
  const bad = (why: string) => new Error(`target rule "${text}": ${why}`)
  let host = text
  let port: number | undefined
  const bracketed = /^\[([^\]]+)\](\/\d+)?(?::(\d+|\*))?$/.exec(text)
  if (bracketed) {
    host = bracketed[1]! + (bracketed[2] ?? '')
    port = portOf(bracketed[3], bad)
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const at = text.lastIndexOf(':')
    host = text.slice(0, at)
    port = portOf(text.slice(at + 1), bad)
  } else if (text.includes(':') && (!isIP(text.split('/')[0]!) || (text.split('/')[1] ?? '').includes(':'))) {
    throw bad('an IPv6 address or network with a port goes in brackets ([::1]:6379, [fd00::]/8:6379)')
  } else {
    // Two colons or more, an IPv6 address: ::1:6379 is one (::0.1.99.121), and would silently not be port 6379 of ::1.
    const [, head, last] = /^(.*:.*):(\d{4,5})$/.exec(text) ?? []
    if (head && isIP(head)) throw bad(`ambiguous: write [${head}]:${last} for port ${last} of ${head}, or [${text}] for that address`)
  }
  if (host === '*') return {text, port, host: {kind: 'any'}}
  const [address, bits, ...rest] = host.split('/')
  const family = isIP(address!)
  if (family) {
    if (rest.length > 0) throw bad('not a network')
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits)
    if (!/^\d+$/.test(bits ?? '0') || prefix > (family === 4 ? 32 : 128)) throw bad(`/${bits} is not a prefix length for IPv${family}`)
    const list = new BlockList()
    list.addSubnet(address!, prefix, family === 4 ? 'ipv4' : 'ipv6')
    return {text, port, host: {kind: 'net', list}}
  }
  if (bits !== undefined) throw bad('a network is an IP address and a prefix length (10.0.0.0/8)')
  const name = host.toLowerCase().replace(/\.$/, '')
  const below = name.startsWith('*.')
  const labels = (below ? name.slice(2) : name).split('.')
  if (!labels.every((l) => DNS_LABEL.test(l))) throw bad('not a host name, *.domain, IP address or network')
  return below ? {text, port, host: {kind: 'below', suffix: name.slice(1)}} : {text, port, host: {kind: 'name', name}}
}

function portOf(raw: string | undefined, bad: (why: string) => Error): number | undefined {
  if (raw === undefined || raw === '*') return undefined
  const port = Number(raw)
  if (!/^\d+$/.test(raw) || port < 1 || port > 65_535) throw bad(`port ${raw} is not 1-65535 or *`)
  return port
}

/** Whether `rules` allow a connection to `at`; no rules (undefined) allow any. */
export function allowedBy(rules: readonly TargetRule[] | undefined, at: Endpoint): boolean {
  if (rules === undefined) return true
  const host = at.host.replace(/^\[|\]$/g, '')
  const family = isIP(host)
  const name = host.toLowerCase().replace(/\.$/, '')
  return rules.some((rule) => {
    if (rule.port !== undefined && rule.port !== at.port) return false
    switch (rule.host.kind) {
      case 'any': return true
      case 'net': return family !== 0 && rule.host.list.check(host, family === 4 ? 'ipv4' : 'ipv6')
      case 'name': return family === 0 && name === rule.host.name
      case 'below': return family === 0 && name.endsWith(rule.host.suffix)
    }
  })
}

/** Whether a run may connect to a server; `byName`: some rule names hosts (see outsideRules). */
export interface AllowFilter {
  (at: Endpoint): boolean
  byName?: boolean
}

/** The filter of `rules`; undefined (no rules) allows any. */
export function filterOf(rules: readonly TargetRule[] | undefined): AllowFilter | undefined {
  if (rules === undefined) return undefined
  return Object.assign((at: Endpoint) => allowedBy(rules, at), {byName: rules.some((r) => r.host.kind === 'name' || r.host.kind === 'below')})
}

/**
 * The failure of a node that `allow` leaves out (`source`: where its rules come from). Where rules name hosts and
 * the node is named by its address, as clusters name their nodes, a hint: names are not resolved.
 */
export function outsideRules(at: Endpoint, allow: AllowFilter, source: string): string {
  const hint = allow.byName && isIP(at.host.replace(/^\[|\]$/g, '')) !== 0 ? '; a rule naming a host never allows an address (names are not resolved)' : ''
  return `not within the servers this run may connect to (${source}): not connected${hint}`
}
