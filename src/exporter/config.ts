import {isIP} from 'node:net'
import {dirname, isAbsolute, resolve} from 'node:path'

import {LineCounter, parseDocument} from 'yaml'

import {inputError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import {parseTargetRule, type TargetRule} from '../cluster/allow.js'

/**
 * The exporter's config file (`--config`): named modules, each a way of connecting that
 * `/probe?target=...&module=NAME` uses. YAML, like the configs of Prometheus and its blackbox exporter:
 *
 *     modules:
 *       cluster-mtls:
 *         cacert: /etc/valkey-tls/ca.crt
 *         cert: /etc/valkey-tls/monitor.crt
 *         key: /etc/valkey-tls/monitor.key
 *         user: monitor
 *         password_file: /run/credentials/valkey-tls-exporter.service/valkey-password
 *         timeout: 5
 *         targets: [10.0.0.0/8, "*.valkey.internal:6379"]
 *
 * A key a module leaves out takes the command line's value (its connection flags are the defaults);
 * `null` says "none", even where the command line has one (`cert: null` probes without a certificate).
 * Passwords are never in the file: a module names an environment variable or a file that holds one.
 */

/** Where a module's password comes from. */
export type PasswordSource = {kind: 'none'} | {kind: 'env'; name: string} | {kind: 'file'; path: string}

/** One module as written: undefined takes the command line's value, null means none. */
export interface ModuleConfig {
  cacert?: string | null
  cert?: string | null
  key?: string | null
  sni?: string | null
  insecure?: boolean
  /** The module's own credentials (user and password source), or undefined: the command line's. */
  auth?: {user?: string; password: PasswordSource}
  /** Seconds for the TLS handshake and each reply (as --timeout). */
  timeout?: number
  /** Seconds a probe may take at most (the scrape timeout may make it shorter). */
  deadline?: number
  warnDays?: number
  concurrency?: number
  /** The target is a Sentinel: check its primaries, their replicas and the other sentinels. */
  sentinel?: boolean
  /** With a client certificate: also try every node without one (check --anonymous-probe). */
  anonymousProbe?: boolean
  /** The only servers it may probe and connect to (cluster/allow.ts); undefined takes the command line's --allow-target. */
  targets?: TargetRule[]
}

export interface ExporterConfig {
  modules: Map<string, ModuleConfig>
}

/** The module that stands for the command line's connection flags (`/probe` without `module`). */
export const COMMAND_LINE_MODULE = 'default'
/** Module names appear in URLs and label values: keep them plain. */
const MODULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** An environment variable's name, as POSIX shells accept it. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

const MODULE_KEYS = ['cacert', 'cert', 'key', 'sni', 'insecure', 'user', 'password_env', 'password_file', 'timeout', 'deadline', 'warn_days', 'concurrency', 'sentinel', 'anonymous_probe', 'targets'] as const

export async function loadExporterConfig(path: string): Promise<ExporterConfig> {
  const text = (await readInputFile(path, '--config')).toString('utf8')
  return parseExporterConfig(text, {source: path, baseDir: dirname(resolve(path))})
}

/**
 * Parses and checks the config text. Every problem throws one input error naming the file and the
 * key (`exporter.yml: modules.mtls.timeout: ...`); relative file paths are taken from `baseDir`
 * (the config file's folder), as Prometheus does.
 */
export function parseExporterConfig(text: string, {source, baseDir}: {source: string; baseDir: string}): ExporterConfig {
  const fail = (where: string, why: string) => inputError(`${source}: ${where}${where ? ': ' : ''}${why}`)
  const lines = new LineCounter()
  const doc = parseDocument(text, {uniqueKeys: true, prettyErrors: false, lineCounter: lines})
  const problem = doc.errors[0]
  if (problem) {
    const at = lines.linePos(problem.pos[0])
    throw fail('', `not valid YAML${at ? ` (line ${at.line}, column ${at.col})` : ''}: ${problem.message.split('\n')[0]}`)
  }
  const root: unknown = doc.toJS() ?? {}
  if (!isRecord(root)) throw fail('', 'must be a mapping with a "modules" key')
  for (const key of Object.keys(root)) if (key !== 'modules') throw fail(key, 'unknown key (only "modules" is allowed at the top)')
  const raw = root.modules ?? {}
  if (!isRecord(raw)) throw fail('modules', 'must be a mapping of module names to their settings')
  const modules = new Map<string, ModuleConfig>()
  for (const [name, body] of Object.entries(raw)) {
    const where = `modules.${name}`
    if (!MODULE_NAME.test(name)) throw fail(where, 'a module name is letters, digits, "_", "." and "-" (at most 64), starting with a letter or digit')
    if (name === COMMAND_LINE_MODULE) throw fail(where, `"${COMMAND_LINE_MODULE}" is the name of the command line's connection flags; choose another name`)
    modules.set(name, parseModule(body ?? {}, where, baseDir, fail))
  }
  return {modules}
}

function parseModule(body: unknown, where: string, baseDir: string, fail: (where: string, why: string) => Error): ModuleConfig {
  if (!isRecord(body)) throw fail(where, 'must be a mapping of settings')
  for (const key of Object.keys(body)) {
    if (key === 'password' || key === 'pass' || key === 'requirepass') throw fail(`${where}.${key}`, 'passwords are never written in the config file: name an environment variable (password_env) or a file holding the password (password_file)')
    if (!(MODULE_KEYS as readonly string[]).includes(key)) throw fail(`${where}.${key}`, `unknown key (known: ${MODULE_KEYS.join(', ')})`)
  }
  const at = (key: string) => `${where}.${key}`
  const path = (key: 'cacert' | 'cert' | 'key'): string | null | undefined => {
    const value = body[key]
    if (value === undefined || value === null) return value
    if (typeof value !== 'string' || value === '') throw fail(at(key), 'must be a file path (or null for none)')
    return isAbsolute(value) ? value : resolve(baseDir, value)
  }
  const seconds = (key: 'timeout' | 'deadline', max: number): number | undefined => {
    const value = body[key]
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) throw fail(at(key), `must be a number of seconds above 0 and at most ${max}`)
    return value
  }
  const integer = (key: 'warn_days' | 'concurrency', min: number, max: number): number | undefined => {
    const value = body[key]
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw fail(at(key), `must be a whole number from ${min} to ${max}`)
    return value
  }
  const module: ModuleConfig = {
    cacert: path('cacert'),
    cert: path('cert'),
    key: path('key'),
    timeout: seconds('timeout', 3600),
    deadline: seconds('deadline', 3600),
    warnDays: integer('warn_days', 0, 36_500),
    concurrency: integer('concurrency', 1, 4096),
  }
  // A certificate and its key come together: half of each from two places would never match.
  if ((module.cert === undefined) !== (module.key === undefined) || (module.cert === null) !== (module.key === null)) {
    throw fail(where, 'cert and key go together: give both (or both null), or neither to take the command line\'s')
  }
  if (body.sni !== undefined) {
    if (body.sni !== null && (typeof body.sni !== 'string' || body.sni === '')) throw fail(at('sni'), 'must be a host name (or null for none)')
    if (typeof body.sni === 'string' && isIP(body.sni)) throw fail(at('sni'), 'must be a host name, not an IP address: IP addresses are matched without SNI')
    module.sni = body.sni
  }
  for (const [key, flag] of [['insecure', 'insecure'], ['sentinel', 'sentinel'], ['anonymous_probe', 'anonymousProbe']] as const) {
    if (body[key] === undefined) continue
    if (typeof body[key] !== 'boolean') throw fail(at(key), 'must be true or false')
    module[flag] = body[key]
  }
  if (body.targets !== undefined) {
    if (!Array.isArray(body.targets) || body.targets.length === 0 || !body.targets.every((t) => typeof t === 'string')) {
      throw fail(at('targets'), 'must be a list of HOST[:PORT] rules (a name, *.domain, an IP address or a network such as 10.0.0.0/8)')
    }
    try {
      module.targets = (body.targets as string[]).map(parseTargetRule)
    } catch (error) {
      throw fail(at('targets'), (error as Error).message)
    }
  }
  module.auth = parseAuth(body, where, baseDir, fail)
  return module
}

/** A module's credentials: none of user / password_env / password_file given takes the command line's. */
function parseAuth(body: Record<string, unknown>, where: string, baseDir: string, fail: (where: string, why: string) => Error): ModuleConfig['auth'] {
  const {user, password_env: env, password_file: file} = body
  if (user === undefined && env === undefined && file === undefined) return undefined
  if (user !== undefined && user !== null && (typeof user !== 'string' || user === '')) throw fail(`${where}.user`, 'must be an ACL user name (or null for none)')
  if (env !== undefined && file !== undefined) throw fail(where, 'give password_env or password_file, not both')
  let password: PasswordSource = {kind: 'none'}
  if (env !== undefined) {
    if (typeof env !== 'string' || !VARIABLE_NAME.test(env)) throw fail(`${where}.password_env`, 'must be the name of an environment variable')
    password = {kind: 'env', name: env}
  } else if (file !== undefined) {
    if (typeof file !== 'string' || file === '') throw fail(`${where}.password_file`, 'must be a file path')
    password = {kind: 'file', path: isAbsolute(file) ? file : resolve(baseDir, file)}
  }
  // A user without a password would silently connect as someone else (the default user).
  if (typeof user === 'string' && password.kind === 'none') throw fail(where, `user ${user} needs password_env or password_file`)
  return {user: typeof user === 'string' ? user : undefined, password}
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
