import {serverError} from '../errors.js'
import {type AclUserState, type MappingMode, nameKey, type ServerFacts} from '../identity/predict.js'
import type {Session} from '../transport/session.js'
import {displayText} from '../x509/text.js'

export interface ServerVersion {
  product: 'Valkey' | 'Redis'
  version: string
}

/** `INFO server`: which product and version answers. */
export async function readServerVersion(connection: Session): Promise<ServerVersion> {
  const info = parseInfo(String(await connection.call('INFO', 'server')))
  if (info.valkey_version) return {product: 'Valkey', version: displayText(info.valkey_version)}
  if (info.redis_version) return {product: info.server_name === 'valkey' ? 'Valkey' : 'Redis', version: displayText(info.redis_version)}
  throw serverError(`${connection.address}: INFO server has no version: is this a Valkey or Redis server?`)
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) { // (a string separator splits faster than /\r?\n/; the \r goes with trim)
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1).trim()
  }
  return out
}

/** One `CONFIG GET` parameter; undefined when the server does not know it (older versions). */
export async function readConfig(connection: Session, name: string): Promise<string | undefined> {
  const reply = await connection.call('CONFIG', 'GET', name)
  if (!Array.isArray(reply) || reply.length < 2) return undefined
  return String(reply[1])
}

/** `ACL GETUSER`: undefined when the user does not exist. Names are bytes, compared exactly. */
export async function readAclUser(connection: Session, name: Uint8Array): Promise<AclUserState | undefined> {
  const reply = await connection.callBuffer('ACL', 'GETUSER', Buffer.from(name))
  if (reply === null || !Array.isArray(reply)) return undefined
  const index = reply.findIndex((item) => Buffer.isBuffer(item) && item.toString() === 'flags')
  const value = reply[index + 1]
  const flags = (Array.isArray(value) ? value : []).map(String)
  return {enabled: flags.includes('on'), nopass: flags.includes('nopass')}
}

/**
 * A setting's value, one of `values` (compared without case, as the server does): a prediction made from a
 * value this tool does not know (a newer server's mode, or a broken or hostile server's text) would be a guess.
 */
function known<T extends string>(connection: Session, name: string, value: string, values: readonly T[]): T {
  const match = values.find((v) => v.toLowerCase() === value.toLowerCase())
  if (match === undefined) throw serverError(`${connection.address}: ${name} is "${displayText(value)}", which this version does not know (expected ${values.join(', ')})`)
  return match
}

/**
 * What decides a certificate's user on this server: the mapping mode, tls-auth-clients, and the
 * state of every user the certificate could name (plus `default`).
 */
export async function readServerFacts(connection: Session, names: (mode: MappingMode) => Uint8Array[]): Promise<ServerFacts & {version: ServerVersion}> {
  const version = await readServerVersion(connection)
  const authClients = known(connection, 'tls-auth-clients', (await readConfig(connection, 'tls-auth-clients')) ?? 'yes', ['yes', 'no', 'optional'] as const)
  const rawMapping = await readConfig(connection, 'tls-auth-clients-user')
  const mapping = rawMapping === undefined ? undefined : known(connection, 'tls-auth-clients-user', rawMapping, ['CN', 'URI', 'off'] as const)
  const users = new Map<string, AclUserState>()
  const wanted = [new TextEncoder().encode('default'), ...(mapping === 'CN' || mapping === 'URI' ? names(mapping) : [])]
  for (const name of wanted) {
    const key = nameKey(name)
    if (users.has(key)) continue
    const state = await readAclUser(connection, name)
    if (state) users.set(key, state)
  }
  return {
    version,
    server: `${version.product} ${version.version}`,
    mapping,
    authClients,
    users,
  }
}
