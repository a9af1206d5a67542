/**
 * Certificates for the reload unit tests: the openssl-based test PKI (test/helpers/openssl-pki.ts) plus
 * what it lacks here: intermediate CAs (issueCert always writes CA:FALSE), CAs and intermediates dated in
 * the past or the future, encrypted keys, DER copies, Node X509Certificate views of PEM files (one per
 * certificate, in file order), and identities (certificate and key contents) for the handshake rehearsals.
 */
import {execFile} from 'node:child_process'
import {randomBytes, X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {promisify} from 'node:util'

import type {TlsIdentity} from '../../../src/pki/rehearse.js'
import type {ServedCertificate} from '../../../src/probe/handshake.js'
import type {Ca, KeyPair} from '../../helpers/openssl-pki.js'

export {issueCert, makeCa, makeExpiredCert, makeNotYetValidCert, type Ca, type KeyPair} from '../../helpers/openssl-pki.js'

const execFileP = promisify(execFile)

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args)
  } catch (error) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(error as {stderr?: string}).stderr ?? (error as Error).message}`)
  }
}

const CA_EXTENSIONS = 'basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign, digitalSignature\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n'

/** A validity window: in the past for an expired certificate, in the future for one not valid yet. */
export interface Window {
  notBefore: Date
  notAfter: Date
}

/** Days from now as a Date (negative: in the past). */
export const daysFromNow = (days: number): Date => new Date(Date.now() + days * 86_400_000)

/**
 * A CA (CA:TRUE, keyCertSign) signed by `parent`, usable as the `ca` of issueCert or of another
 * intermediate; valid 365 days from now, or within `window`.
 */
export async function makeIntermediate(parent: Ca, dir: string, name: string, cn = `reload test intermediate ${name}`, window?: Window): Promise<Ca> {
  const key = join(dir, `${name}.key`)
  const csr = join(dir, `${name}.csr`)
  const cert = join(dir, `${name}.crt`)
  const ext = join(dir, `${name}.ext.cnf`)
  await writeFile(ext, `[v3_int]\n${CA_EXTENSIONS}`)
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key])
  await openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr])
  if (window) {
    await signWindowed(dir, name, csr, cert, ['-cert', parent.cert, '-keyfile', parent.key], window)
    return {dir, cert, key, cn}
  }
  await openssl([
    'x509', '-req', '-in', csr, '-CA', parent.cert, '-CAkey', parent.key, '-set_serial', `0x${randomBytes(8).toString('hex').replace(/^./, '1')}`,
    '-sha256', '-days', '365', '-extfile', ext, '-extensions', 'v3_int', '-out', cert,
  ])
  return {dir, cert, key, cn}
}

/** A self-signed CA valid only within `window` (makeCa cannot date a CA in the past or the future). */
export async function makeWindowedCa(dir: string, name: string, window: Window, cn = `reload test CA ${name} ${randomBytes(3).toString('hex')}`): Promise<Ca> {
  const key = join(dir, `${name}.key`)
  const csr = join(dir, `${name}.csr`)
  const cert = join(dir, `${name}.crt`)
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key])
  await openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr])
  await signWindowed(dir, name, csr, cert, ['-selfsign', '-keyfile', key], window)
  return {dir, cert, key, cn}
}

/** `openssl ca` with explicit dates (x509 -not_before needs OpenSSL 3.4), a private database per certificate. */
async function signWindowed(dir: string, name: string, csr: string, cert: string, signer: string[], window: Window): Promise<void> {
  const state = join(dir, `.${name}.ca-state`)
  await mkdir(join(state, 'new'), {recursive: true})
  await writeFile(join(state, 'index.txt'), '')
  const cnf = join(state, 'ca.cnf')
  await writeFile(cnf, `[ca]\ndefault_ca = c\n[c]\ndir = ${state}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/new\nrand_serial = yes\n`
    + `default_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\nemail_in_dn = no\n[any]\ncommonName = supplied\n[v3_int]\n${CA_EXTENSIONS}`)
  const gtime = (d: Date) => d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z')
  await openssl(['ca', '-batch', '-notext', '-config', cnf, ...signer, '-startdate', gtime(window.notBefore), '-enddate', gtime(window.notAfter), '-extensions', 'v3_int', '-in', csr, '-out', cert])
}

/** A certificate file and its key as a server or client loads them (what the rehearsals take). */
export function tlsIdentity(kp: KeyPair, passphrase?: string): TlsIdentity {
  return {cert: readFileSync(kp.cert), key: readFileSync(kp.key), passphrase}
}

/**
 * A self-signed CA with the very subject and subject key identifier of `of`, but its own key: name and
 * key-identifier checks (X509Certificate.checkIssued) take it for `of`; only signatures tell them apart.
 */
export async function makeLookalikeCa(of: Ca, dir: string, name: string): Promise<Ca> {
  const {stdout} = await execFileP('openssl', ['x509', '-in', of.cert, '-noout', '-ext', 'subjectKeyIdentifier'])
  const skid = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/i.exec(stdout)?.[1]
  if (!skid) throw new Error(`no subject key identifier in ${of.cert}: ${stdout}`)
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  const cnf = join(dir, `${name}.req.cnf`)
  await writeFile(cnf, `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = placeholder\n[v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = ${skid}\n`)
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key])
  await openssl(['req', '-x509', '-new', '-config', cnf, '-extensions', 'v3_ca', '-key', key, '-sha256', '-days', '365', '-subj', `/CN=${of.cn}`, '-out', cert])
  return {dir, cert, key, cn: of.cn}
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

/** Every certificate of a PEM file, in order. */
export function certsOf(path: string): X509Certificate[] {
  const blocks = readFileSync(path, 'latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((b) => new X509Certificate(b))
}

/** The first certificate of a PEM file. */
export function certOf(path: string): X509Certificate {
  const [first] = certsOf(path)
  if (!first) throw new Error(`${path}: no certificate`)
  return first
}

/** What a handshake would report for a server sending `cert`. */
export function servedOf(cert: X509Certificate): ServedCertificate {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprint256: cert.fingerprint256,
    caName: cert.issuer.replace(/\n/g, ', '),
    caFingerprint256: null,
  }
}

/** Concatenates PEM files (a leaf and its intermediates, or a CA bundle) into `out`. */
export async function bundle(out: string, ...files: string[]): Promise<string> {
  await writeFile(out, files.map((f) => readFileSync(f, 'utf8').trimEnd() + '\n').join(''))
  return out
}
