/**
 * Certificate shapes for comparing our verdicts with OpenSSL's: leaves and intermediates with
 * arbitrary extensions, key types and validity windows, made with the `openssl` CLI only (never with
 * our own generator). Builds on test/helpers/openssl-pki.ts: CAs come from `makeCa`, ordinary leaves
 * from `issueCert`; this adds what that helper cannot express (chosen extension lines, RSA keys,
 * self-signed certificates without digitalSignature, intermediate CAs, windowed intermediates).
 *
 * Works with OpenSSL 3.0+: explicit windows go through `openssl ca -startdate/-enddate`
 * (`x509 -not_before` only exists from 3.4 on).
 */
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmod, mkdir, readFile, writeFile} from 'node:fs/promises'
import {isIP} from 'node:net'
import {join} from 'node:path'
import {promisify} from 'node:util'

import type {Ca, KeyPair} from './openssl-pki.js'

const execFileP = promisify(execFile)

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args, {maxBuffer: 16 * 1024 * 1024})
  } catch (error) {
    const e = error as {stderr?: string; message: string}
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`)
  }
}

const DAY_MS = 86_400_000

/** Extension lines shared by every CA made here: what RFC 5280 (and `-x509_strict`) expect of a CA. */
export const CA_EXTENSIONS = [
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
]

/** A leaf's extension lines, with any line replaced or dropped through `override` (value null drops). */
export function leafExtensions(override: Record<string, string | null> = {}, sans: string[] = []): string[] {
  const base: Record<string, string | null> = {
    basicConstraints: 'critical, CA:FALSE',
    keyUsage: 'critical, digitalSignature, keyAgreement',
    extendedKeyUsage: 'serverAuth, clientAuth',
    subjectKeyIdentifier: 'hash',
    authorityKeyIdentifier: 'keyid:always',
    subjectAltName: sans.length > 0 ? sans.map((s) => (/^[A-Za-z]+:/.test(s) ? s : isIP(s) ? `IP:${s}` : `DNS:${s}`)).join(', ') : null,
    ...override,
  }
  return Object.entries(base).flatMap(([name, value]) => (value === null ? [] : [`${name} = ${value}`]))
}

export interface ShapeSpec {
  /** Subject CN. */
  cn: string
  /** The certificate's X.509v3 extensions, one OpenSSL config line each (`keyUsage = critical, ...`). */
  extensions: string[]
  /** Key type; default EC P-256. RSA is 2048 bits. */
  keyType?: 'ec' | 'rsa'
  /** Validity in days from now; default 365. Ignored when notBefore/notAfter are given. */
  days?: number
  /** An explicit window (past or future), issued with `openssl ca`. */
  notBefore?: Date
  notAfter?: Date
}

function subject(cn: string): string {
  return `/CN=${cn.replace(/([\\/,+=])/g, '\\$1')}`
}

function serial(): string {
  const b = randomBytes(16)
  b[0] = (b[0]! & 0x7f) | 0x01
  return `0x${b.toString('hex')}`
}

function gtime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z')
}

async function genKey(path: string, type: 'ec' | 'rsa'): Promise<void> {
  const opts = type === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
  await openssl(['genpkey', ...opts, '-out', path])
  await chmod(path, 0o600)
}

const REQ = '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = placeholder\n'

/**
 * A certificate with exactly `spec.extensions`, written to `<dir>/<name>.crt` / `.key`, signed by
 * `issuer`, or self-signed when issuer is 'self'. Returned as a Ca so that it can sign in turn
 * (whether OpenSSL accepts it as an issuer is the point of some shapes).
 */
export async function issueShape(issuer: Ca | 'self', dir: string, name: string, spec: ShapeSpec): Promise<Ca> {
  await mkdir(dir, {recursive: true})
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  const csr = join(dir, `${name}.csr`)
  const cnf = join(dir, `${name}.cnf`)
  const section = `[ext]\n${spec.extensions.join('\n')}\n`
  await writeFile(cnf, REQ + section)
  await genKey(key, spec.keyType ?? 'ec')
  const windowed = spec.notBefore !== undefined || spec.notAfter !== undefined

  if (issuer === 'self' && !windowed) {
    await openssl(['req', '-x509', '-new', '-config', cnf, '-extensions', 'ext', '-key', key, '-sha256', '-days', String(spec.days ?? 365), '-subj', subject(spec.cn), '-set_serial', serial(), '-out', cert])
    return {dir, cert, key, cn: spec.cn}
  }
  await openssl(['req', '-new', '-config', cnf, '-key', key, '-subj', subject(spec.cn), '-out', csr])
  if (!windowed && issuer !== 'self') {
    await openssl(['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', serial(), '-sha256', '-days', String(spec.days ?? 365), '-extfile', cnf, '-extensions', 'ext', '-out', cert])
    return {dir, cert, key, cn: spec.cn}
  }

  // An explicit window: `openssl ca`, with a private database per issuance (no races between shapes).
  const notBefore = spec.notBefore ?? new Date()
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + (spec.days ?? 365) * DAY_MS)
  const state = join(dir, `.${name}.ca-state`)
  await mkdir(join(state, 'new'), {recursive: true})
  await writeFile(join(state, 'index.txt'), '')
  const caCnf = join(state, 'ca.cnf')
  await writeFile(
    caCnf,
    `[ca]\ndefault_ca = shape_ca\n[shape_ca]\ndir = ${state}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/new\n` +
      'rand_serial = yes\ndefault_md = sha256\npolicy = policy_any\nunique_subject = no\ncopy_extensions = none\nemail_in_dn = no\n' +
      `[policy_any]\ncommonName = supplied\n${section}`,
  )
  const signer = issuer === 'self' ? ['-selfsign', '-keyfile', key] : ['-cert', issuer.cert, '-keyfile', issuer.key]
  await openssl(['ca', '-batch', '-notext', '-config', caCnf, ...signer, '-startdate', gtime(notBefore), '-enddate', gtime(notAfter), '-extensions', 'ext', '-in', csr, '-out', cert])
  return {dir, cert, key, cn: spec.cn}
}

/** An intermediate CA under `root` (CA_EXTENSIONS unless `extensions` says otherwise). */
export function issueIntermediate(root: Ca, dir: string, name: string, opts: Partial<ShapeSpec> = {}): Promise<Ca> {
  return issueShape(root, dir, name, {cn: `${name} ${randomBytes(3).toString('hex')}`, extensions: CA_EXTENSIONS, days: 1825, ...opts})
}

/** Concatenate PEM files (leaf first) into `path`, the way a server's certificate file holds its chain. */
export async function bundle(path: string, ...pems: string[]): Promise<string> {
  const parts = await Promise.all(pems.map((p) => readFile(p, 'utf8')))
  await writeFile(path, parts.map((s) => (s.endsWith('\n') ? s : `${s}\n`)).join(''))
  return path
}

/** Days from now as a Date (negative for the past). */
export const daysFromNow = (days: number): Date => new Date(Date.now() + days * DAY_MS)

export type {Ca, KeyPair}
