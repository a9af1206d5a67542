/**
 * Throwaway test PKI made with the `openssl` CLI, on purpose independent of our own certificate generator
 * so the two can cross-check each other: CAs, leaves, intermediates and certificates of any shape
 * (extension lines chosen one by one, RSA keys, self-signed, validity windows in the past or the future),
 * and the file tools around them (chain bundles, encrypted keys, DER copies).
 *
 * Keys are EC P-256 unless a shape asks for RSA (PKCS#8 PEM, mode 0600). Works with OpenSSL 3.0+:
 * certificates with an explicit validity window are issued with `openssl ca -startdate/-enddate`, because
 * `x509 -not_before` only exists from OpenSSL 3.4 on and `-days` cannot be negative.
 */
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmod, mkdir, readFile, writeFile} from 'node:fs/promises'
import {isIP} from 'node:net'
import {join} from 'node:path'
import {promisify} from 'node:util'

const execFileP = promisify(execFile)
const DAY_MS = 86_400_000

export interface KeyPair {
  /** PEM certificate path. */
  cert: string
  /** PEM private key path (PKCS#8). */
  key: string
}

export interface Ca extends KeyPair {
  /** Folder holding the CA's files. */
  dir: string
  /** Subject common name. */
  cn: string
}

export const DEFAULT_SERVER_SANS = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']

/** Days from now as a Date (negative for the past). */
export const daysFromNow = (days: number): Date => new Date(Date.now() + days * DAY_MS)

// --- openssl --------------------------------------------------------------------------------------

async function openssl(args: string[]): Promise<string> {
  try {
    const {stdout} = await execFileP('openssl', args, {maxBuffer: 16 * 1024 * 1024})
    return stdout
  } catch (error) {
    const e = error as {stderr?: string; message: string}
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`)
  }
}

/** A SAN entry in OpenSSL syntax: "DNS:x", "IP:y", ... kept; bare names and IPs get their prefix. */
function sanEntry(s: string): string {
  if (/^(DNS|IP|URI|email|RID|dirName|otherName):/i.test(s)) return s
  return isIP(s) ? `IP:${s}` : `DNS:${s}`
}

/** `-subj` syntax: "/" "," "+" "=" escaped in the value. */
function subject(cn: string): string {
  return `/CN=${cn.replace(/([\\/,+=])/g, '\\$1')}`
}

/** A positive 128-bit serial (top bit cleared, first byte never zero). */
function randomSerial(): string {
  const b = randomBytes(16)
  b[0] = (b[0]! & 0x7f) | 0x01
  return `0x${b.toString('hex')}`
}

/** YYYYMMDDHHMMSSZ, the GeneralizedTime form `openssl ca` accepts. */
function gtime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z')
}

async function genKey(path: string, type: 'ec' | 'rsa'): Promise<void> {
  const opts = type === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
  await openssl(['genpkey', ...opts, '-out', path])
  await chmod(path, 0o600)
}

// --- extensions -----------------------------------------------------------------------------------

/** A CA's extension lines as RFC 5280 (and `-x509_strict`) expect them. */
export const CA_EXTENSIONS = [
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
]

/** makeCa's: a key usage that also allows digitalSignature. */
const ROOT_CA_EXTENSIONS = CA_EXTENSIONS.map((l) => (l.startsWith('keyUsage') ? `${l}, digitalSignature` : l))

const EKU = {server: 'serverAuth', client: 'clientAuth', both: 'serverAuth, clientAuth'} as const
export type CertUsage = keyof typeof EKU

/** A leaf's extension lines, with any line replaced or dropped through `override` (value null drops). */
export function leafExtensions(override: Record<string, string | null> = {}, sans: string[] = []): string[] {
  const base: Record<string, string | null> = {
    basicConstraints: 'critical, CA:FALSE',
    keyUsage: 'critical, digitalSignature, keyAgreement',
    extendedKeyUsage: EKU.both,
    subjectKeyIdentifier: 'hash',
    authorityKeyIdentifier: 'keyid:always',
    subjectAltName: sans.length > 0 ? sans.map(sanEntry).join(', ') : null,
    ...override,
  }
  return Object.entries(base).flatMap(([name, value]) => (value === null ? [] : [`${name} = ${value}`]))
}

// --- issuing --------------------------------------------------------------------------------------

export interface ShapeSpec {
  /** Subject CN. */
  cn: string
  /** The certificate's X.509v3 extensions, one OpenSSL config line each (`keyUsage = critical, ...`). */
  extensions: string[]
  /** Key type of a new key; default EC P-256. RSA is 2048 bits. */
  keyType?: 'ec' | 'rsa'
  /** An existing key file to certify instead of a new key. */
  key?: string
  /** Validity in days from now (from notBefore when given); default 365. */
  days?: number
  /** An explicit window (past or future), issued with `openssl ca`. */
  notBefore?: Date
  notAfter?: Date
}

const REQ = '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = placeholder\n'

/**
 * A certificate with exactly `spec.extensions`, written to `<dir>/<name>.crt` (and `.key` for a new key),
 * signed by `issuer`, or self-signed when issuer is 'self'. Returned as a Ca so that it can sign in turn
 * (whether OpenSSL accepts it as an issuer is the point of some shapes).
 */
export async function issueShape(issuer: Ca | 'self', dir: string, name: string, spec: ShapeSpec): Promise<Ca> {
  await mkdir(dir, {recursive: true})
  const key = spec.key ?? join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  const csr = join(dir, `${name}.csr`)
  const cnf = join(dir, `${name}.cnf`)
  const section = `[ext]\n${spec.extensions.join('\n')}\n`
  await writeFile(cnf, REQ + section)
  if (!spec.key) await genKey(key, spec.keyType ?? 'ec')
  const days = String(spec.days ?? 365)
  const done = {dir, cert, key, cn: spec.cn}

  if (spec.notBefore === undefined && spec.notAfter === undefined) {
    if (issuer === 'self') {
      await openssl(['req', '-x509', '-new', '-config', cnf, '-extensions', 'ext', '-key', key, '-sha256', '-days', days, '-subj', subject(spec.cn), '-set_serial', randomSerial(), '-out', cert])
      return done
    }
    await openssl(['req', '-new', '-config', cnf, '-key', key, '-subj', subject(spec.cn), '-out', csr])
    await openssl(['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', randomSerial(), '-sha256', '-days', days, '-extfile', cnf, '-extensions', 'ext', '-out', cert])
    return done
  }

  // An explicit window: `openssl ca`, with a private database per issuance (no races between certificates).
  await openssl(['req', '-new', '-config', cnf, '-key', key, '-subj', subject(spec.cn), '-out', csr])
  const notBefore = spec.notBefore ?? new Date()
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + (spec.days ?? 365) * DAY_MS)
  const state = join(dir, `.${name}.ca-state`)
  await mkdir(join(state, 'new'), {recursive: true})
  await writeFile(join(state, 'index.txt'), '')
  const caCnf = join(state, 'ca.cnf')
  await writeFile(
    caCnf,
    `[ca]\ndefault_ca = test_ca\n[test_ca]\ndir = ${state}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/new\n` +
      'rand_serial = yes\ndefault_md = sha256\npolicy = policy_any\nunique_subject = no\ncopy_extensions = none\nemail_in_dn = no\n' +
      `[policy_any]\ncommonName = supplied\n${section}`,
  )
  const signer = issuer === 'self' ? ['-selfsign', '-keyfile', key] : ['-cert', issuer.cert, '-keyfile', issuer.key]
  await openssl(['ca', '-batch', '-notext', '-config', caCnf, ...signer, '-startdate', gtime(notBefore), '-enddate', gtime(notAfter), '-extensions', 'ext', '-in', csr, '-out', cert])
  return done
}

/**
 * A self-signed CA in `dir` (files `<name>.crt` / `<name>.key`), valid 10 years, or within an explicit
 * window. Its key usage also allows digitalSignature.
 */
export function makeCa(dir: string, opts: {name?: string; cn?: string; days?: number; notBefore?: Date; notAfter?: Date} = {}): Promise<Ca> {
  const {name = 'ca', cn = `valkey-tls test CA ${randomBytes(4).toString('hex')}`, days = 3650, notBefore, notAfter} = opts
  return issueShape('self', dir, name, {cn, extensions: ROOT_CA_EXTENSIONS, days, notBefore, notAfter})
}

/** An intermediate CA under `parent` (CA_EXTENSIONS and 5 years unless `opts` says otherwise). */
export function issueIntermediate(parent: Ca, dir: string, name: string, opts: Partial<ShapeSpec> = {}): Promise<Ca> {
  return issueShape(parent, dir, name, {cn: `${name} ${randomBytes(3).toString('hex')}`, extensions: CA_EXTENSIONS, days: 1825, ...opts})
}

/**
 * A self-signed CA with the very subject and subject key identifier of `of`, but its own key: name and
 * key-identifier checks (X509Certificate.checkIssued) take it for `of`; only signatures tell them apart.
 */
export async function makeLookalikeCa(of: Ca, dir: string, name: string): Promise<Ca> {
  const text = await openssl(['x509', '-in', of.cert, '-noout', '-ext', 'subjectKeyIdentifier'])
  const skid = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/i.exec(text)?.[1]
  if (!skid) throw new Error(`no subject key identifier in ${of.cert}: ${text}`)
  return issueShape('self', dir, name, {
    cn: of.cn,
    extensions: ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', `subjectKeyIdentifier = ${skid}`],
  })
}

export interface IssueOptions {
  /** Subject CN; defaults to the file base name. */
  cn?: string
  /** Subject alternative names: "DNS:x", "IP:y", "URI:z", "email:w", or bare names/IPs. */
  sans?: string[]
  /** Extended key usage. Default 'both'. */
  usage?: CertUsage
  /** Validity in days from now (from notBefore when given). Default 365. */
  days?: number
  /** Explicit validity window, e.g. in the past for an expired certificate. */
  notBefore?: Date
  notAfter?: Date
}

/** A leaf certificate signed by `ca`, written to `<dir>/<name>.crt` and `<dir>/<name>.key`. */
export async function issueCert(ca: Ca, dir: string, name: string, opts: IssueOptions = {}): Promise<KeyPair> {
  const {cert, key} = await issueShape(ca, dir, name, {
    cn: opts.cn ?? name,
    extensions: leafExtensions({extendedKeyUsage: EKU[opts.usage ?? 'both']}, opts.sans ?? []),
    days: opts.days,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
  })
  return {cert, key}
}

type WindowlessOptions = Omit<IssueOptions, 'notBefore' | 'notAfter' | 'days'>

/** A certificate whose validity ended `agoDays` ago (default: valid 31..1 days ago). */
export function makeExpiredCert(ca: Ca, dir: string, name: string, opts: WindowlessOptions & {agoDays?: number} = {}): Promise<KeyPair> {
  const notAfter = daysFromNow(-(opts.agoDays ?? 1))
  const notBefore = new Date(notAfter.getTime() - 30 * DAY_MS)
  return issueCert(ca, dir, name, {...opts, notBefore, notAfter})
}

/** A certificate that only becomes valid `inDays` from now (default 1), for 30 days. */
export function makeNotYetValidCert(ca: Ca, dir: string, name: string, opts: WindowlessOptions & {inDays?: number} = {}): Promise<KeyPair> {
  const notBefore = daysFromNow(opts.inDays ?? 1)
  const notAfter = new Date(notBefore.getTime() + 30 * DAY_MS)
  return issueCert(ca, dir, name, {...opts, notBefore, notAfter})
}

export interface Pki {
  dir: string
  ca: Ca
  caCert: string
  caKey: string
  serverCert: string
  serverKey: string
  /** Client certificates by name (the name is also the certificate's CN). */
  clients: Record<string, KeyPair>
}

export interface MakePkiOptions {
  /** Names of client certificates to issue (CN = name, EKU clientAuth). */
  clients?: string[]
  /** Server SANs; default DNS:localhost, IP:127.0.0.1, IP:::1. */
  serverSans?: string[]
  /** Server certificate CN; default "localhost". */
  serverCn?: string
  /** Common name of the CA (default: random-suffixed, so two PKIs never share a subject). */
  caCn?: string
}

/**
 * A fresh CA, a server certificate (serverAuth + clientAuth, so Valkey can also use it for replication /
 * cluster bus as a client) and client certificates in `dir`.
 */
export async function makePki(dir: string, opts: MakePkiOptions = {}): Promise<Pki> {
  await mkdir(dir, {recursive: true})
  const ca = await makeCa(dir, {cn: opts.caCn})
  const server = await issueCert(ca, dir, 'server', {cn: opts.serverCn ?? 'localhost', sans: opts.serverSans ?? DEFAULT_SERVER_SANS, usage: 'both'})
  const clients: Record<string, KeyPair> = {}
  await Promise.all(
    (opts.clients ?? []).map(async (name) => {
      clients[name] = await issueCert(ca, dir, `client-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`, {cn: name, usage: 'client'})
    }),
  )
  return {dir, ca, caCert: ca.cert, caKey: ca.key, serverCert: server.cert, serverKey: server.key, clients}
}

// --- files ----------------------------------------------------------------------------------------

/** Concatenates PEM files (a leaf and its intermediates, or a CA bundle) into `path`. */
export async function bundle(path: string, ...pems: string[]): Promise<string> {
  const parts = await Promise.all(pems.map((p) => readFile(p, 'utf8')))
  await writeFile(path, parts.map((s) => (s.endsWith('\n') ? s : `${s}\n`)).join(''))
  return path
}

/** `key` encrypted with AES-256 under `passphrase`, written to `out`. */
export async function encryptKey(key: string, out: string, passphrase: string): Promise<string> {
  await openssl(['pkey', '-in', key, '-aes256', '-passout', `pass:${passphrase}`, '-out', out])
  return out
}

/** The first certificate of a PEM file, as DER, written to `out`. */
export async function toDer(cert: string, out: string): Promise<string> {
  await openssl(['x509', '-in', cert, '-outform', 'DER', '-out', out])
  return out
}
