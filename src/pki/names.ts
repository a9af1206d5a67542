import {isIP} from 'node:net'

import {usageError} from '../errors.js'

export type SanEntry = {type: 'dns'; value: string} | {type: 'ip'; value: string}

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/

/** Accepts `name`, `DNS:name`, `IP:addr` or a bare IPv4/IPv6 address (in brackets or not). */
export function parseSan(raw: string): SanEntry {
  const value = raw.trim()
  const prefixed = /^(dns|ip):(.*)$/i.exec(value)
  if (prefixed) {
    const kind = prefixed[1].toLowerCase()
    const rest = prefixed[2]
    if (kind === 'ip') {
      if (isIP(stripBrackets(rest)) === 0) throw usageError(`invalid --san "${raw}": "${rest}" is not an IP address`)
      return ipSan(stripBrackets(rest), raw)
    }
    return dnsSan(rest, raw)
  }
  if (isIP(stripBrackets(value)) !== 0) return ipSan(stripBrackets(value), raw)
  return dnsSan(value, raw)
}

function ipSan(address: string, raw: string): SanEntry {
  // Node's isIP accepts an IPv6 zone (fe80::1%eth0, %25eth0): it names an interface of one machine, and
  // a certificate's iPAddress holds the 16 address bytes only.
  if (address.includes('%')) {
    throw usageError(`invalid --san "${raw}": an IPv6 zone ("%${address.split('%')[1]}") cannot go in a certificate; give the address without it`)
  }
  return {type: 'ip', value: address}
}

function dnsSan(name: string, raw: string): SanEntry {
  const host = name.endsWith('.') ? name.slice(0, -1) : name
  const labels = host.split('.')
  const ok = host.length > 0 && host.length <= 253 &&
    labels.every((label, i) => (i === 0 && label === '*' && labels.length > 2) || DNS_LABEL.test(label))
  if (!ok) throw usageError(`invalid --san "${raw}": not a DNS name or IP address`)
  return {type: 'dns', value: host.toLowerCase()}
}

function stripBrackets(value: string): string {
  return value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value
}

/** Server SANs every generated server certificate carries, so loopback tests and local clients work. */
export const DEFAULT_SERVER_SANS: SanEntry[] = [
  {type: 'dns', value: 'localhost'},
  {type: 'ip', value: '127.0.0.1'},
  {type: 'ip', value: '::1'},
]

export function mergeSans(extra: SanEntry[]): SanEntry[] {
  const seen = new Set<string>()
  const out: SanEntry[] = []
  for (const san of [...DEFAULT_SERVER_SANS, ...extra]) {
    const key = `${san.type}:${san.type === 'ip' ? normalizeIp(san.value) : san.value}`
    if (!seen.has(key)) {
      seen.add(key)
      out.push(san)
    }
  }
  return out
}

function normalizeIp(ip: string): string {
  // ::1 and 0:0:0:0:0:0:0:1 are the same address; canonicalise through URL parsing.
  if (isIP(ip) !== 6) return ip
  try {
    return new URL(`http://[${ip}]/`).hostname
  } catch {
    return ip // not something URL takes (parseSan refuses those); compare as written
  }
}

/** The client certificate `certs gen` always makes (client.crt). Here, not in generate-set.ts, so that the
 * command class can name it in its flags without loading @peculiar/x509. */
export const DEFAULT_CLIENT = 'client'

/**
 * Client names become file names (`<name>.crt`) and the certificate CN, which Valkey maps to an ACL
 * user in `tls-auth-clients-user CN` mode: keep them to characters safe in both places.
 */
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/
const RESERVED_NAMES = new Set(['ca', 'server'])

export function checkClientName(name: string): string {
  if (!CLIENT_NAME.test(name)) {
    throw usageError(`invalid --client "${name}": use 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`)
  }
  if (RESERVED_NAMES.has(name.toLowerCase())) throw usageError(`invalid --client "${name}": "${name}" is reserved for the ${name.toLowerCase()} files`)
  return name
}

/** A SAN URI: needs a scheme (spiffe://..., urn:...); printable ASCII only, as its IA5String holds. */
export function checkUri(raw: string): string {
  if (/[^\x21-\x7E]/.test(raw)) {
    throw usageError(`invalid --client-uri ${JSON.stringify(raw)}: use printable ASCII without spaces (percent-encode anything else)`)
  }
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw usageError(`invalid --client-uri "${raw}": not a URI with a scheme (e.g. spiffe://example.org/alice or urn:valkey:alice)`)
  }
  if (parsed.protocol.length < 2) throw usageError(`invalid --client-uri "${raw}": not a valid URI`)
  return raw
}

/**
 * `--client-uri NAME=URI` gives URI to client NAME; a bare URI goes to the default client certificate.
 * Unambiguous: a URI always has a ":" before any "=", a client name never has ":".
 */
export function parseClientUri(raw: string, defaultClient: string): {client: string; uri: string} {
  const named = /^([A-Za-z0-9][A-Za-z0-9._@-]*)=(.+)$/.exec(raw)
  if (named) return {client: named[1], uri: checkUri(named[2])}
  return {client: defaultClient, uri: checkUri(raw)}
}

/** RFC 5280's upper bound for organizationName. */
const MAX_ORGANIZATION = 64

const isControl = (c: string) => {
  const n = c.codePointAt(0) ?? 0
  return n < 0x20 || (n >= 0x7F && n <= 0x9F)
}

/** `--org`: one line of text a certificate subject can hold, and a terminal can show as is. */
export function checkOrganization(org: string): string {
  return checkSubjectText(org, '--org', MAX_ORGANIZATION)
}

/** RFC 5280's upper bound for commonName. */
const MAX_COMMON_NAME = 64

/** `--ca-name`: the new CA's CN, one line of 1 to 64 characters. */
export function checkCaName(name: string): string {
  if (name.trim() === '') throw usageError('invalid --ca-name: it must not be empty')
  return checkSubjectText(name, '--ca-name', MAX_COMMON_NAME)
}

function checkSubjectText(value: string, flag: string, max: number): string {
  const chars = [...value]
  if (chars.some(isControl)) throw usageError(`invalid ${flag} ${JSON.stringify(value)}: control characters cannot go in a certificate subject`)
  if (chars.length > max) throw usageError(`invalid ${flag}: at most ${max} characters (got ${chars.length})`)
  return value
}

export interface ServerSpec {
  /** File base name (NAME.crt, NAME.key) and CN. */
  name: string
  /** Its own SANs: NAME itself when it is a DNS name, then those after "=". */
  sans: SanEntry[]
}

/**
 * `--server NAME` or `--server NAME=SAN,SAN,...`: one server certificate per node. Unambiguous: a NAME
 * never has "=" or ","; each SAN is what --san takes (DNS name or IP address, DNS:/IP: prefixes).
 */
export function parseServer(raw: string): ServerSpec {
  const at = raw.indexOf('=')
  const name = (at < 0 ? raw : raw.slice(0, at)).trim()
  if (!CLIENT_NAME.test(name)) {
    throw usageError(`invalid --server "${raw}": NAME must be 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit (then optionally =SAN,SAN,...)`)
  }
  if (name.toLowerCase() === 'ca') throw usageError(`invalid --server "${raw}": "ca" is reserved for the CA files`)
  const listed = at < 0 ? [] : raw.slice(at + 1).split(',').map((s) => s.trim())
  if (at >= 0 && listed.every((s) => s === '')) throw usageError(`invalid --server "${raw}": nothing after "="; give SANs (--server ${name}=${name}.internal,10.0.0.1) or no "="`)
  const own = isDnsName(name) ? [{type: 'dns', value: name.toLowerCase()} as SanEntry] : []
  return {name, sans: [...own, ...listed.filter((s) => s !== '').map((s) => parseSan(s))]}
}

function isDnsName(name: string): boolean {
  return name.split('.').every((label) => DNS_LABEL.test(label))
}
