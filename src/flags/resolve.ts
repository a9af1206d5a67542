import {createPrivateKey, type KeyObject, X509Certificate} from 'node:crypto'
import {isIP} from 'node:net'

import {inputError, usageError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import {splitPem, toPem} from '../pki/pem.js'
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
  const terminal = Boolean(process.stdin.isTTY && process.stderr.isTTY)
  if (flags.askpass && !terminal) throw usageError('--askpass needs a terminal to prompt on')
  const host = stripBrackets(flags.host ?? DEFAULT_HOST)
  if (host === '') throw usageError('--host must not be empty')
  if (flags.sni !== undefined && isIP(flags.sni)) throw usageError(`--sni must be a host name, not an IP address ("${flags.sni}"): IP addresses are matched without SNI`)
  const read = (path: string | undefined, what: string) => (path === undefined ? undefined : readInputFile(path, what))
  const [caFile, certFile, keyFile] = await Promise.all([read(flags.cacert, '--cacert'), read(flags.cert, '--cert'), read(flags.key, '--key')])
  const ca = caFile && certificatesPem(caFile, `--cacert ${flags.cacert}`)
  const cert = certFile && certificatesPem(certFile, `--cert ${flags.cert}`)
  const key = keyFile && checkedKey(keyFile, flags.key!, cert, flags.cert)
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
  for (const [i, block] of certificates.entries()) parseCertificate(Buffer.from(block.der), certificates.length > 1 ? `${what} (certificate ${i + 1})` : what)
  return data
}

function parseCertificate(der: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(der)
  } catch (error) {
    throw inputError(`${what}: not a valid X.509 certificate`, error)
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
