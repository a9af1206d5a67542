import {inputError} from '../errors.js'
import {type ConnectionFlagValues, resolveTls} from '../flags/resolve.js'
import {readInputFile} from '../fsutil/read.js'
import {type ConnectOptions, type Endpoint, fixedPassword, type PasswordSupplier} from '../transport/options.js'
import type {TargetRule} from '../cluster/allow.js'
import {COMMAND_LINE_MODULE, type ExporterConfig, type ModuleConfig, type PasswordSource} from './config.js'

/**
 * A module ready to probe with: file paths (read again at every probe, so renewed client certificates
 * and rotated passwords are picked up without a restart), where the password comes from, and the
 * probe's bounds. The command line's module holds its password supplier (a password it already has,
 * from the environment or --askpass, or --password-command, run for every connection); config modules
 * name a variable or a file. --cacertdir and the cipher lists come from the command line for every module.
 */
export interface ProbeModule {
  name: string
  cacert?: string
  cacertdir?: string
  cert?: string
  key?: string
  sni?: string
  insecure: boolean
  tlsCiphers?: string
  tlsCiphersuites?: string
  user?: string
  password: PasswordSource | {kind: 'given'; get: PasswordSupplier}
  /** Seconds for the TLS handshake and each reply. */
  timeout: number
  /** Most a probe may take; the scrape timeout may make it shorter. */
  deadlineMs: number
  warnDays: number
  concurrency: number
  /** Targets are Sentinels (discovery from SENTINEL MASTERS). */
  sentinel: boolean
  anonymousProbe: boolean
  /** The only servers it may probe (cluster/allow.ts); undefined: any. */
  targets?: TargetRule[]
}

/** The command line's settings: connection flags (resolved once, at start) and the probe flags. */
export interface CommandLineDefaults {
  flags: Omit<ConnectionFlagValues, 'uri' | 'host' | 'port' | 'askpass' | 'password-command'>
  /** The password resolveConnection found for the flags (environment, --askpass, --password-command), if any. */
  password?: PasswordSupplier
  deadlineMs: number
  warnDays: number
  concurrency: number
  /** --allow-target. */
  targets?: TargetRule[]
}

/** Every module by name: the command line's as `default`, then the config file's, each over the defaults. */
export function buildModules(defaults: CommandLineDefaults, config: ExporterConfig | undefined): Map<string, ProbeModule> {
  const {flags} = defaults
  const base: ProbeModule = {
    name: COMMAND_LINE_MODULE,
    cacert: flags.cacert,
    cacertdir: flags.cacertdir,
    cert: flags.cert,
    key: flags.key,
    sni: flags.sni,
    insecure: flags.insecure,
    tlsCiphers: flags['tls-ciphers'],
    tlsCiphersuites: flags['tls-ciphersuites'],
    user: flags.user,
    password: defaults.password === undefined ? {kind: 'none'} : {kind: 'given', get: defaults.password},
    timeout: flags.timeout,
    deadlineMs: defaults.deadlineMs,
    warnDays: defaults.warnDays,
    concurrency: defaults.concurrency,
    sentinel: false,
    anonymousProbe: false,
    targets: defaults.targets,
  }
  const modules = new Map<string, ProbeModule>([[base.name, base]])
  for (const [name, module] of config?.modules ?? []) modules.set(name, overlay(base, name, module))
  return modules
}

function overlay(base: ProbeModule, name: string, module: ModuleConfig): ProbeModule {
  const pick = <T>(own: T | null | undefined, inherited: T | undefined): T | undefined => (own === undefined ? inherited : own ?? undefined)
  return {
    name,
    cacert: pick(module.cacert, base.cacert),
    cacertdir: base.cacertdir,
    cert: pick(module.cert, base.cert),
    key: pick(module.key, base.key),
    sni: pick(module.sni, base.sni),
    insecure: module.insecure ?? base.insecure,
    tlsCiphers: base.tlsCiphers,
    tlsCiphersuites: base.tlsCiphersuites,
    user: module.auth ? module.auth.user : base.user,
    password: module.auth ? module.auth.password : base.password,
    timeout: module.timeout ?? base.timeout,
    deadlineMs: module.deadline === undefined ? base.deadlineMs : Math.round(module.deadline * 1000),
    warnDays: module.warnDays ?? base.warnDays,
    concurrency: module.concurrency ?? base.concurrency,
    sentinel: module.sentinel ?? base.sentinel,
    anonymousProbe: module.anonymousProbe ?? base.anonymousProbe,
    targets: module.targets ?? base.targets,
  }
}

/**
 * The connection options of one probe: the module's files read now (through resolveConnection, as every
 * command does), its own credentials, the target as the seed. Throws an input error naming the module
 * when a file or the password cannot be had; never includes the password in a message.
 */
export async function connectionFor(module: ProbeModule, target: Endpoint): Promise<ConnectOptions> {
  try {
    const resolved = await resolveTls({
      host: target.host, port: target.port, cacert: module.cacert, cacertdir: module.cacertdir, cert: module.cert, key: module.key, sni: module.sni,
      insecure: module.insecure, 'tls-ciphers': module.tlsCiphers, 'tls-ciphersuites': module.tlsCiphersuites, timeout: module.timeout,
    })
    return {...resolved, user: module.user, password: await passwordOf(module)}
  } catch (error) {
    throw inputError(`module ${module.name}: ${(error as Error).message}`, error)
  }
}

/** A config module's password, read now (once per probe); the command line's supplier as it is. */
async function passwordOf(module: ProbeModule): Promise<PasswordSupplier | undefined> {
  const source = module.password
  switch (source.kind) {
    case 'none': return undefined
    case 'given': return source.get
    case 'env': {
      const value = process.env[source.name]
      if (!value) throw inputError(`password_env ${source.name} is not set in the exporter's environment`)
      return fixedPassword(value)
    }
    case 'file': {
      // One line, as `echo secret > file` writes it: the final newline is not part of the password.
      const value = (await readInputFile(source.path, 'password_file')).toString('utf8').replace(/\r?\n$/, '')
      if (value === '') throw inputError(`password_file ${source.path} holds an empty password`)
      return fixedPassword(value)
    }
  }
}

/** Warnings about a module worth printing at start (they are not errors). */
export function moduleWarnings(module: ProbeModule): string[] {
  // Targets come from whoever can reach /probe: unverified, a password goes to any server claiming to be one.
  const warnings = module.insecure && module.password.kind !== 'none' ? [`module ${module.name}: insecure with a password sends the password to any server a probe names, unverified`] : []
  const secrets = [...(module.password.kind === 'none' ? [] : ['password']), ...(module.cert ? ['client certificate'] : [])]
  if (module.targets === undefined && secrets.length > 0) warnings.push(`module ${module.name}: no targets list (--allow-target, or targets: in the config): its ${secrets.join(' and ')} ${secrets.length > 1 ? 'go' : 'goes'} to any server a /probe request names`)
  return warnings
}
