import {createPrivateKey, type KeyObject, X509Certificate} from 'node:crypto'
import {isIP} from 'node:net'

import {inputError, usageError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import {splitPem, toPem} from '../pki/pem.js'
import {type ConnectOptions, type Endpoint, fixedPassword, formatAddress, type PasswordSupplier} from '../transport/options.js'
import {readCaDir} from './ca-dir.js'
import {cipherString} from './ciphers.js'
import {checkRunnable, commandPassword, splitCommandLine} from './password-command.js'
import type {ValkeyUri} from './uri.js'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 6379
/** Where a password may come from, in order; valkey-cli's and redis-cli's variables are honoured too. */
export const PASSWORD_VARIABLES = ['VALKEY_TLS_PASSWORD', 'VALKEYCLI_AUTH', 'REDISCLI_AUTH'] as const
/** The command that prints the password, when --password-command is not given. */
export const PASSWORD_COMMAND_VARIABLE = 'VALKEY_TLS_PASSWORD_COMMAND'

/** The values of connectionFlags, as oclif parses them. */
export interface ConnectionFlagValues {
  uri?: ValkeyUri
  host?: string
  port?: number
  user?: string
  askpass: boolean
  'password-command'?: string
  cacert?: string
  cacertdir?: string
  cert?: string
  key?: string
  sni?: string
  insecure: boolean
  'tls-ciphers'?: string
  'tls-ciphersuites'?: string
  timeout: number
}

export function passwordFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of PASSWORD_VARIABLES) if (env[name]) return env[name]
  return undefined
}

/**
 * The one place connection flags become ConnectOptions (every command that connects calls it once):
 * where (--uri, else --host/--port), the TLS files read and checked, and where the password comes from.
 * No network yet.
 */
export async function resolveConnection(flags: ConnectionFlagValues, forWhat?: string): Promise<ConnectOptions> {
  const terminal = Boolean(process.stdin.isTTY && process.stderr.isTTY)
  if (flags.askpass && !terminal) throw usageError('--askpass needs a terminal to prompt on')
  const base = await resolveTls(flags)
  const user = flags.uri?.user ?? flags.user
  let password = await resolvePassword(flags, base.timeoutMs, forWhat ?? formatAddress(base))
  if (user !== undefined && password === undefined) {
    // A user with no password would silently connect as someone else (the default user).
    if (!terminal) throw usageError(`--user ${user} needs a password: set VALKEY_TLS_PASSWORD (or VALKEYCLI_AUTH, REDISCLI_AUTH), use --password-command, or --askpass on a terminal`)
    password = fixedPassword(await (await import('../ui/prompts.js')).askPassword(forWhat ?? formatAddress(base)))
  }
  return {...base, user, password}
}

/**
 * Where the password comes from, first found wins: --askpass (a prompt, now), a password in --uri,
 * --password-command, $VALKEY_TLS_PASSWORD_COMMAND, then $VALKEY_TLS_PASSWORD, $VALKEYCLI_AUTH,
 * $REDISCLI_AUTH. Two of the first three together are a usage error (oclif refuses --askpass with
 * --password-command). A command is run for every connection, within --timeout.
 */
async function resolvePassword(flags: ConnectionFlagValues, timeoutMs: number, forWhat: string): Promise<PasswordSupplier | undefined> {
  const fromUri = flags.uri?.password
  if (fromUri !== undefined && (flags.askpass || flags['password-command'] !== undefined)) {
    throw usageError(`--uri holds a password: do not give ${flags.askpass ? '--askpass' : '--password-command'} too`)
  }
  if (flags.askpass) return fixedPassword(await (await import('../ui/prompts.js')).askPassword(forWhat))
  if (fromUri !== undefined) return fixedPassword(fromUri)
  const variable = process.env[PASSWORD_COMMAND_VARIABLE]
  const [command, what] = flags['password-command'] === undefined ? [variable || undefined, PASSWORD_COMMAND_VARIABLE] : [flags['password-command'], '--password-command']
  if (command !== undefined) {
    const argv = splitCommandLine(command, what)
    await checkRunnable(argv[0]!, what)
    return commandPassword(argv, `the password command (${what})`, timeoutMs)
  }
  const value = passwordFromEnvironment()
  return value === undefined ? undefined : fixedPassword(value)
}

/** Everything but the credentials: the endpoint, the TLS material read and checked, the bound. */
/** Where the flags point (--uri, else --host/--port, else the defaults), before anything is read or asked. */
export function endpointOf(flags: Pick<ConnectionFlagValues, 'uri' | 'host' | 'port'>): Endpoint {
  const host = stripBrackets(flags.uri?.host ?? flags.host ?? DEFAULT_HOST)
  if (host === '') throw usageError('--host must not be empty')
  return {host, port: flags.uri?.port ?? flags.port ?? DEFAULT_PORT}
}

export async function resolveTls(flags: Omit<ConnectionFlagValues, 'user' | 'askpass' | 'password-command'>): Promise<Omit<ConnectOptions, 'user' | 'password'>> {
  const {host, port} = endpointOf(flags)
  if (flags.sni !== undefined && isIP(flags.sni)) throw usageError(`--sni must be a host name, not an IP address ("${flags.sni}"): IP addresses are matched without SNI`)
  const ciphers = cipherString(flags['tls-ciphers'], flags['tls-ciphersuites'])
  const read = (path: string | undefined, what: string) => (path === undefined ? undefined : readInputFile(path, what))
  const [caFile, caDir, certFile, keyFile] = await Promise.all([
    read(flags.cacert, '--cacert'),
    flags.cacertdir === undefined ? undefined : readCaDir(flags.cacertdir, certificatesPem),
    read(flags.cert, '--cert'),
    read(flags.key, '--key'),
  ])
  const caBundle = caFile && certificatesPem(caFile, `--cacert ${flags.cacert}`)
  // valkey-cli loads both when both are given (SSL_CTX_load_verify_locations(file, dir)).
  const ca = caBundle && caDir ? Buffer.concat([caBundle, Buffer.from('\n'), caDir]) : caBundle ?? caDir
  const cert = certFile && certificatesPem(certFile, `--cert ${flags.cert}`)
  const key = keyFile && checkedKey(keyFile, flags.key!, cert, flags.cert)
  return {
    host,
    port,
    timeoutMs: Math.round(flags.timeout * 1000),
    tls: {ca, cert, key, servername: flags.sni, insecure: flags.insecure, ciphers},
  }
}

/**
 * A --cacert or --cert file, checked to hold certificates that parse: Node's TLS silently ignores a file
 * holding none (the run then fails later, as "untrusted"), and throws an internal error on a broken one.
 * Other blocks are left alone, as OpenSSL leaves them (a --cert file may hold its key too); DER (one
 * certificate) is handed on as PEM.
 */
function certificatesPem(data: Buffer, what: string): Buffer {
  const text = data.toString('latin1')
  if (!text.includes('-----BEGIN ')) {
    if (data[0] !== 0x30) throw inputError(`${what}: not a PEM or DER certificate`)
    return Buffer.from(toPem('CERTIFICATE', parseCertificate(data, what).raw))
  }
  const blocks = splitPem(text, what)
  const certificates = blocks.filter((b) => b.label === 'CERTIFICATE')
  // TRUSTED CERTIFICATE: OpenSSL's form with trust settings appended, which OpenSSL reads and Node's parser does not.
  if (certificates.length === 0 && !blocks.some((b) => b.label === 'TRUSTED CERTIFICATE')) {
    throw inputError(`${what}: no certificate in it (found ${[...new Set(blocks.map((b) => b.label))].join(', ')})`)
  }
  for (const [i, block] of certificates.entries()) readAsNode(block.source, Buffer.from(block.der), certificates.length > 1 ? `${what} (certificate ${i + 1})` : what)
  return data
}

function parseCertificate(der: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(der)
  } catch (error) {
    throw inputError(`${what}: not a valid X.509 certificate`, error)
  }
}

/**
 * A PEM certificate read as Node's TLS will read the file (OpenSSL's PEM reader), from its text: a block that reader
 * does not take (its BEGIN line not a line of its own, a blank line inside, END on a base64 line) would be left out
 * without a word, and a chain it signed be "untrusted" later.
 */
function readAsNode(source: string, der: Buffer, what: string): void {
  try {
    new X509Certificate(source)
  } catch (error) {
    parseCertificate(der, what)
    throw inputError(`${what}: not written as OpenSSL reads PEM (BEGIN and END lines of their own, no blank line between them), so Node's TLS would leave it out`, error)
  }
}

/** --key, checked to be an unencrypted PEM private key, and --cert's key. */
function checkedKey(data: Buffer, path: string, cert: Buffer | undefined, certPath: string | undefined): Buffer {
  let key: KeyObject
  try {
    key = createPrivateKey({key: data, format: 'pem'})
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(data.toString('latin1')) || (error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE'
    throw inputError(encrypted ? `--key ${path} is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)` : `--key ${path} is not a PEM private key`, error)
  }
  const leaf = cert && leafOf(cert)
  if (leaf && !leaf.checkPrivateKey(key)) throw inputError(`--key ${path} is not the private key of --cert ${certPath}`)
  return data
}

/** The first certificate of a checked --cert file, as Node's TLS takes it (undefined: only TRUSTED CERTIFICATE blocks). */
function leafOf(cert: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(cert)
  } catch {
    return undefined
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}
