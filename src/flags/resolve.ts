import {isIP} from 'node:net'

import {usageError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import {type ConnectOptions, formatAddress} from '../transport/options.js'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 6379
/** Where a password may come from, in order; valkey-cli's and redis-cli's variables are honoured too. */
export const PASSWORD_VARIABLES = ['VALKEY_TLS_PASSWORD', 'VALKEYCLI_AUTH', 'REDISCLI_AUTH'] as const

/** The values of connectionFlags, as oclif parses them. */
export interface ConnectionFlagValues {
  host?: string
  port?: number
  user?: string
  askpass: boolean
  cacert?: string
  cert?: string
  key?: string
  sni?: string
  insecure: boolean
  timeout: number
}

export function passwordFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of PASSWORD_VARIABLES) if (env[name]) return env[name]
  return undefined
}

/**
 * The one place connection flags become ConnectOptions (every command that connects calls it once):
 * the password from --askpass (a prompt, so a terminal is needed) or the environment, and the TLS
 * files read and checked. No network yet.
 */
export async function resolveConnection(flags: ConnectionFlagValues, forWhat?: string): Promise<ConnectOptions> {
  if (flags.askpass && !(process.stdin.isTTY && process.stderr.isTTY)) throw usageError('--askpass needs a terminal to prompt on')
  const host = stripBrackets(flags.host ?? DEFAULT_HOST)
  if (host === '') throw usageError('--host must not be empty')
  if (flags.sni !== undefined && isIP(flags.sni)) throw usageError(`--sni must be a host name, not an IP address ("${flags.sni}"): IP addresses are matched without SNI`)
  const read = (path: string | undefined, what: string) => (path === undefined ? undefined : readInputFile(path, what))
  const [ca, cert, key] = await Promise.all([read(flags.cacert, '--cacert'), read(flags.cert, '--cert'), read(flags.key, '--key')])
  const terminal = Boolean(process.stdin.isTTY && process.stderr.isTTY)
  const port = flags.port ?? DEFAULT_PORT
  forWhat ??= formatAddress({host, port})
  let password = flags.askpass ? await (await import('../ui/prompts.js')).askPassword(forWhat) : passwordFromEnvironment()
  if (flags.user !== undefined && password === undefined) {
    // A user with no password would silently connect as someone else (the default user).
    if (!terminal) throw usageError(`--user ${flags.user} needs a password: set VALKEY_TLS_PASSWORD (or VALKEYCLI_AUTH, REDISCLI_AUTH), or use --askpass on a terminal`)
    password = await (await import('../ui/prompts.js')).askPassword(forWhat)
  }
  return {
    host,
    port,
    user: flags.user,
    password,
    timeoutMs: Math.round(flags.timeout * 1000),
    tls: {ca, cert, key, servername: flags.sni, insecure: flags.insecure},
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}
