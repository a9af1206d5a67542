/**
 * Throwaway test PKI built with the `openssl` CLI, on purpose independent of
 * our own certificate generator so the two can cross-check each other.
 *
 * All keys are EC P-256 (PKCS#8 PEM, mode 0600). Works with OpenSSL 3.0+:
 * certificates with explicit validity windows (expired / not yet valid) are
 * issued with `openssl ca -startdate/-enddate`, because `x509 -not_before`
 * only exists from OpenSSL 3.4 on and `-days` cannot be negative.
 */
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmod, mkdir, writeFile} from 'node:fs/promises'
import {isIP} from 'node:net'
import {join} from 'node:path'
import {promisify} from 'node:util'

const execFileP = promisify(execFile)

export interface KeyPair {
  /** PEM certificate path. */
  cert: string
  /** PEM private key path (PKCS#8, EC P-256). */
  key: string
}

export interface Ca extends KeyPair {
  /** Folder holding the CA's files (and `openssl ca` state when used). */
  dir: string
  /** Subject common name. */
  cn: string
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

export type CertUsage = 'server' | 'client' | 'both'

export interface IssueOptions {
  /** Subject CN; defaults to the file base name. */
  cn?: string
  /** Subject alternative names: "DNS:x", "IP:y", "URI:z", "email:w", or bare names/IPs. */
  sans?: string[]
  /** Extended key usage. Default 'both'. */
  usage?: CertUsage
  /** Validity in days from now (ignored when notBefore/notAfter are given). Default 365. */
  days?: number
  /** Explicit validity window, e.g. in the past for an expired certificate. */
  notBefore?: Date
  notAfter?: Date
}

export const DEFAULT_SERVER_SANS = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']

async function openssl(args: string[], cwd?: string): Promise<string> {
  try {
    const {stdout} = await execFileP('openssl', args, {cwd, maxBuffer: 16 * 1024 * 1024})
    return stdout
  } catch (error) {
    const e = error as {stderr?: string; message: string}
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`)
  }
}

/** Normalise a SAN entry to OpenSSL syntax. */
export function sanEntry(s: string): string {
  if (/^(DNS|IP|URI|email|RID|dirName|otherName):/i.test(s)) return s
  return isIP(s) ? `IP:${s}` : `DNS:${s}`
}

function subjectCn(cn: string): string {
  // -subj syntax: escape "/" and "," and "+" and "=" in the value.
  return `/CN=${cn.replace(/([\\/,+=])/g, '\\$1')}`
}

const REQ_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
`

async function genKey(path: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path])
  await chmod(path, 0o600)
}

function randomSerial(): string {
  // Positive 128-bit serial (top bit cleared).
  const b = randomBytes(16)
  b[0] = b[0]! & 0x7f | 0x01
  return `0x${b.toString('hex')}`
}

function leafExtensions(usage: CertUsage, sans: string[]): string {
  const eku = usage === 'server' ? 'serverAuth' : usage === 'client' ? 'clientAuth' : 'serverAuth, clientAuth'
  const lines = [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyAgreement',
    `extendedKeyUsage = ${eku}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
  ]
  if (sans.length > 0) lines.push(`subjectAltName = ${sans.map(sanEntry).join(', ')}`)
  return lines.join('\n') + '\n'
}

/** Create a self-signed EC P-256 CA in `dir` (files `<name>.crt` / `<name>.key`). */
export async function makeCa(dir: string, opts: {name?: string; cn?: string; days?: number} = {}): Promise<Ca> {
  await mkdir(dir, {recursive: true})
  const name = opts.name ?? 'ca'
  const cn = opts.cn ?? `valkey-tls test CA ${randomBytes(4).toString('hex')}`
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  const cnf = join(dir, `${name}.req.cnf`)
  await writeFile(
    cnf,
    REQ_CONFIG +
      `[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`,
  )
  await genKey(key)
  await openssl([
    'req', '-x509', '-new', '-config', cnf, '-extensions', 'v3_ca', '-key', key, '-sha256',
    '-days', String(opts.days ?? 3650), '-subj', subjectCn(cn), '-set_serial', randomSerial(), '-out', cert,
  ])
  return {dir, cert, key, cn}
}

function opensslDate(d: Date): string {
  // YYYYMMDDHHMMSSZ (GeneralizedTime form accepted by `openssl ca`)
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z')
}

/**
 * Issue a leaf certificate signed by `ca`, written to `<dir>/<name>.crt` and
 * `<dir>/<name>.key`.
 */
export async function issueCert(ca: Ca, dir: string, name: string, opts: IssueOptions = {}): Promise<KeyPair> {
  await mkdir(dir, {recursive: true})
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  const csr = join(dir, `${name}.csr`)
  const ext = join(dir, `${name}.ext.cnf`)
  const reqCnf = join(dir, `${name}.req.cnf`)
  await writeFile(reqCnf, REQ_CONFIG)
  await writeFile(ext, `[v3_leaf]\n${leafExtensions(opts.usage ?? 'both', opts.sans ?? [])}`)
  await genKey(key)
  await openssl(['req', '-new', '-config', reqCnf, '-key', key, '-subj', subjectCn(opts.cn ?? name), '-out', csr])

  if (opts.notBefore || opts.notAfter) {
    const notBefore = opts.notBefore ?? new Date()
    const notAfter = opts.notAfter ?? new Date(Date.now() + (opts.days ?? 365) * 86_400_000)
    // `openssl ca` needs a (private) database. One per issuance avoids races.
    const state = join(dir, `.${name}.ca-state`)
    await mkdir(join(state, 'new'), {recursive: true})
    await writeFile(join(state, 'index.txt'), '')
    const caCnf = join(state, 'ca.cnf')
    await writeFile(
      caCnf,
      `[ca]
default_ca = test_ca
[test_ca]
dir = ${state}
database = $dir/index.txt
new_certs_dir = $dir/new
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = supplied
` + `[v3_leaf]\n${leafExtensions(opts.usage ?? 'both', opts.sans ?? [])}`,
    )
    await openssl([
      'ca', '-batch', '-notext', '-config', caCnf, '-cert', ca.cert, '-keyfile', ca.key,
      '-startdate', opensslDate(notBefore), '-enddate', opensslDate(notAfter),
      '-extensions', 'v3_leaf', '-in', csr, '-out', cert,
    ])
  } else {
    await openssl([
      'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', randomSerial(),
      '-sha256', '-days', String(opts.days ?? 365), '-extfile', ext, '-extensions', 'v3_leaf', '-out', cert,
    ])
  }
  return {cert, key}
}

/** A certificate whose validity ended `agoDays` ago (default: valid 30..1 days ago). */
export async function makeExpiredCert(
  ca: Ca,
  dir: string,
  name: string,
  opts: Omit<IssueOptions, 'notBefore' | 'notAfter' | 'days'> & {agoDays?: number} = {},
): Promise<KeyPair> {
  const ago = opts.agoDays ?? 1
  const notAfter = new Date(Date.now() - ago * 86_400_000)
  const notBefore = new Date(notAfter.getTime() - 30 * 86_400_000)
  return issueCert(ca, dir, name, {...opts, notBefore, notAfter})
}

/** A certificate that only becomes valid `inDays` from now (default 1). */
export async function makeNotYetValidCert(
  ca: Ca,
  dir: string,
  name: string,
  opts: Omit<IssueOptions, 'notBefore' | 'notAfter' | 'days'> & {inDays?: number} = {},
): Promise<KeyPair> {
  const notBefore = new Date(Date.now() + (opts.inDays ?? 1) * 86_400_000)
  const notAfter = new Date(notBefore.getTime() + 30 * 86_400_000)
  return issueCert(ca, dir, name, {...opts, notBefore, notAfter})
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
 * Create a fresh CA, a server certificate (serverAuth + clientAuth, so Valkey
 * can also use it for replication / cluster bus as a client) and client
 * certificates in `dir`.
 */
export async function makePki(dir: string, opts: MakePkiOptions = {}): Promise<Pki> {
  await mkdir(dir, {recursive: true})
  const ca = await makeCa(dir, {cn: opts.caCn})
  const server = await issueCert(ca, dir, 'server', {
    cn: opts.serverCn ?? 'localhost',
    sans: opts.serverSans ?? DEFAULT_SERVER_SANS,
    usage: 'both',
  })
  const clients: Record<string, KeyPair> = {}
  await Promise.all(
    (opts.clients ?? []).map(async (name) => {
      clients[name] = await issueCert(ca, dir, `client-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`, {
        cn: name,
        usage: 'client',
      })
    }),
  )
  return {
    dir,
    ca,
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    clients,
  }
}

/** Print a certificate's text form (handy in assertions / debugging). */
export async function describeCert(cert: string): Promise<string> {
  return openssl(['x509', '-in', cert, '-noout', '-subject', '-issuer', '-dates', '-ext', 'subjectAltName,extendedKeyUsage'])
}
