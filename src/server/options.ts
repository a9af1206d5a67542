import {isIP} from 'node:net'

import {usageError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import {type ConnectOptions, formatAddress, ServerConnection} from './connection.js'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 6379
/** Where a password may come from, in order; valkey-cli's and redis-cli's variables are honoured too. */
export const PASSWORD_VARIABLES = ['VALKEY_TLS_PASSWORD', 'VALKEYCLI_AUTH', 'REDISCLI_AUTH'] as const

export interface ConnectionSettings {
  host?: string
  port?: number
  user?: string
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

/** Reads the TLS files named by the flags and turns them into connect options (no network yet). */
export async function resolveConnection(settings: ConnectionSettings, password: string | undefined): Promise<ConnectOptions> {
  const host = stripBrackets(settings.host ?? DEFAULT_HOST)
  if (host === '') throw usageError('--host must not be empty')
  if (settings.sni !== undefined && isIP(settings.sni)) throw usageError(`--sni must be a host name, not an IP address ("${settings.sni}"): IP addresses are matched without SNI`)
  const read = (path: string | undefined, what: string) => (path === undefined ? undefined : readInputFile(path, what))
  const [ca, cert, key] = await Promise.all([read(settings.cacert, '--cacert'), read(settings.cert, '--cert'), read(settings.key, '--key')])
  return {
    host,
    port: settings.port ?? DEFAULT_PORT,
    user: settings.user,
    password,
    timeoutMs: Math.round(settings.timeout * 1000),
    tls: {ca, cert, key, servername: settings.sni, insecure: settings.insecure},
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/**
 * Opens a connection with the password from the environment or `askPassword` (called up front with
 * --askpass, or once when the server answers NOAUTH and a prompt is possible).
 */
export async function openAuthenticated(
  settings: ConnectionSettings,
  options: {askpass: boolean; askPassword?: (address: string) => Promise<string>},
): Promise<ServerConnection> {
  const ask = options.askPassword
  if (options.askpass && !ask) throw usageError('--askpass needs a terminal to prompt on')
  let password = options.askpass ? await ask!(addressOf(settings)) : passwordFromEnvironment()
  const connectOptions = await resolveConnection(settings, password)
  for (;;) {
    const connection = await ServerConnection.open(connectOptions)
    try {
      await connection.call('PING')
      return connection
    } catch (error) {
      connection.close()
      const noauth = (error as {cause?: Error}).cause?.message?.startsWith('NOAUTH')
      if (!noauth || password !== undefined || !ask) throw error
      password = await ask(addressOf(settings))
      connectOptions.password = password
    }
  }
}

const addressOf = (settings: ConnectionSettings) => formatAddress({host: settings.host ?? DEFAULT_HOST, port: settings.port ?? DEFAULT_PORT})
