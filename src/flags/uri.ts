import {usageError} from '../errors.js'

/** What a `--uri` names; undefined parts are left to the defaults (127.0.0.1, 6379, no user, no password). */
export interface ValkeyUri {
  host?: string
  port?: number
  user?: string
  password?: string
  /** The database number: accepted as valkey-cli accepts it, and unused (nothing valkey-tls does reads keys). */
  db?: number
}

const TLS_SCHEMES = ['valkeys://', 'rediss://']
const PLAIN_SCHEMES = ['valkey://', 'redis://']

/**
 * valkey-cli's `-u` URI, read as valkey-cli reads it (parseRedisUri in valkey's src/cli_common.c):
 * `valkeys://[[USER:]PASSWORD@][HOST[:PORT]][/DB]`, scheme case-insensitive, `rediss://` too.
 * - The user info ends at the first `@` of the whole URI and is split at its first `:`. A lone value
 *   before the `@` is the PASSWORD (of the default user), not a user name: `valkeys://alice@host` sends
 *   `AUTH alice`, as valkey-cli does. A user without a password in the URI is written `USER:@`.
 * - User and password are percent-decoded (`%40` for `@`, `%3A` for `:`); the host is not.
 * - An IPv6 address goes in brackets: `valkeys://[::1]:6380`.
 * Where valkey-cli is lax this is strict, since a typo would otherwise connect somewhere else: the port
 * and DB must be numbers (valkey-cli's atoi reads `x` as 0), a plaintext scheme is refused (TLS is
 * always on here), and so are query parameters (valkey-cli does not support them either; it would take
 * them as part of the host). An empty user or password counts as none given (`:secret@` is the default
 * user's password, `alice:@` leaves the password to the environment or --password-command), where
 * valkey-cli would send an empty one. Messages never repeat the user info.
 */
export function parseValkeyUri(uri: string): ValkeyUri {
  const lower = uri.toLowerCase()
  const scheme = TLS_SCHEMES.find((s) => lower.startsWith(s))
  if (!scheme) {
    const plain = PLAIN_SCHEMES.find((s) => lower.startsWith(s))
    if (plain) throw usageError(`--uri ${plain} is a plaintext connection and valkey-tls always uses TLS: write ${plain.replace('://', 's://')}`)
    throw usageError('--uri must start with valkeys:// (or rediss://)')
  }
  let rest = uri.slice(scheme.length)
  const result: ValkeyUri = {}
  const at = rest.indexOf('@')
  if (at >= 0) {
    const colon = rest.indexOf(':')
    if (colon >= 0 && colon < at) {
      result.user = percentDecode(rest.slice(0, colon), 'user name')
      result.password = percentDecode(rest.slice(colon + 1, at), 'password')
    } else {
      result.password = percentDecode(rest.slice(0, at), 'password')
    }
    if (result.user === '') delete result.user
    if (result.password === '') delete result.password
    rest = rest.slice(at + 1)
  }
  if (/[?#]/.test(rest)) throw usageError('--uri: query parameters and fragments are not supported (nor by valkey-cli)')
  const slash = rest.indexOf('/')
  const authority = slash < 0 ? rest : rest.slice(0, slash)
  const {host, port} = splitHostPort(authority)
  if (host !== '') result.host = host
  if (port !== undefined) result.port = port
  if (slash >= 0) {
    const db = rest.slice(slash + 1)
    if (db !== '' && !/^\d{1,9}$/.test(db)) throw usageError(`--uri: the database after the host must be a number, not "${db}"`)
    if (db !== '') result.db = Number(db)
  }
  return result
}

function splitHostPort(authority: string): {host: string; port?: number} {
  let host: string
  let port: string | undefined
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']')
    if (close < 0) throw usageError('--uri: "[" opens an IPv6 address that no "]" closes')
    host = authority.slice(1, close)
    const after = authority.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) throw usageError(`--uri: expected ":PORT" after "]", not "${after}"`)
    if (after !== '') port = after.slice(1)
  } else {
    const colon = authority.indexOf(':')
    host = colon < 0 ? authority : authority.slice(0, colon)
    if (colon >= 0) port = authority.slice(colon + 1)
    if (port?.includes(':')) throw usageError(`--uri: an IPv6 address goes in brackets: valkeys://[${authority}]:6379`)
  }
  if (port === undefined) return {host}
  const number = /^\d{1,5}$/.test(port) ? Number(port) : 0
  if (number < 1 || number > 65_535) throw usageError(`--uri: the port must be a number from 1 to 65535, not "${port}"`)
  return {host, port: number}
}

/** valkey-cli's percentDecode: `%` and two hex digits is a byte; anything else is itself. The bytes must be UTF-8. */
function percentDecode(text: string, what: string): string {
  const parts: Buffer[] = []
  let i = 0
  while (i < text.length) {
    const next = text.indexOf('%', i)
    if (next < 0) {
      parts.push(Buffer.from(text.slice(i), 'utf8'))
      break
    }
    parts.push(Buffer.from(text.slice(i, next), 'utf8'))
    if (text.length - next < 3) throw usageError(`--uri: incomplete percent-encoding in the ${what}`)
    const hex = text.slice(next + 1, next + 3)
    if (!/^[0-9a-f]{2}$/i.test(hex)) throw usageError(`--uri: invalid percent-encoding in the ${what} (% must be followed by two hex digits)`)
    parts.push(Buffer.from([Number.parseInt(hex, 16)]))
    i = next + 3
  }
  try {
    return new TextDecoder('utf-8', {fatal: true}).decode(Buffer.concat(parts))
  } catch {
    throw usageError(`--uri: the ${what} is not UTF-8 once percent-decoded`)
  }
}
