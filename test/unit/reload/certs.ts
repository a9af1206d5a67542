/**
 * Certificates for the reload unit tests: the openssl-based test PKI (test/helpers/openssl-pki.ts) plus
 * what it lacks here: intermediate CAs (issueCert always writes CA:FALSE), encrypted keys, DER copies,
 * and Node X509Certificate views of PEM files (one per certificate, in file order).
 */
import {execFile} from 'node:child_process'
import {randomBytes, X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {promisify} from 'node:util'

import type {ServedCertificate} from '../../../src/probe/handshake.js'
import type {Ca} from '../../helpers/openssl-pki.js'

export {issueCert, makeCa, makeExpiredCert, makeNotYetValidCert, type Ca, type KeyPair} from '../../helpers/openssl-pki.js'

const execFileP = promisify(execFile)

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args)
  } catch (error) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(error as {stderr?: string}).stderr ?? (error as Error).message}`)
  }
}

/** A CA (CA:TRUE, keyCertSign) signed by `parent`, usable as the `ca` of issueCert or of another intermediate. */
export async function makeIntermediate(parent: Ca, dir: string, name: string, cn = `reload test intermediate ${name}`): Promise<Ca> {
  const key = join(dir, `${name}.key`)
  const csr = join(dir, `${name}.csr`)
  const cert = join(dir, `${name}.crt`)
  const ext = join(dir, `${name}.ext.cnf`)
  await writeFile(ext, '[v3_int]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign, digitalSignature\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n')
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key])
  await openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr])
  await openssl([
    'x509', '-req', '-in', csr, '-CA', parent.cert, '-CAkey', parent.key, '-set_serial', `0x${randomBytes(8).toString('hex').replace(/^./, '1')}`,
    '-sha256', '-days', '365', '-extfile', ext, '-extensions', 'v3_int', '-out', cert,
  ])
  return {dir, cert, key, cn}
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
