import type {X509Certificate} from 'node:crypto'
import type {Dirent} from 'node:fs'
import {readdir, stat} from 'node:fs/promises'
import {isAbsolute, join, resolve} from 'node:path'

import {describeSystemError, ValkeyTlsError} from '../errors.js'
import {displayText} from '../x509/text.js'
import {HASHED_CERTIFICATE} from '../flags/ca-dir.js'
import {readInputFile} from '../fsutil/read.js'
import {parseNodeCertificates} from '../pki/read-certificates.js'
import {toPem} from '../pki/pem.js'
import type {Problem} from '../pki/verify.js'
import type {NodeTlsConfig, TlsFileSetting} from './config.js'

/** A file setting's contents as read here, or why not. */
export type FileRead = {data: Buffer} | {problem: Problem} | {unreadable: string}

/** The node's TLS files, read where the tool runs (the paths are the node's own, from CONFIG GET). */
export interface LocalMaterial {
  reads: Partial<Record<TlsFileSetting, FileRead>>
  /** Every CA the node trusts: tls-ca-cert-file then tls-ca-cert-dir, as one PEM bundle. */
  caBundle?: Buffer
  /** tls-ca-cert-file's certificates, then tls-ca-cert-dir's. */
  caCerts: X509Certificate[]
  /** Problems the server would also hit: missing files, unusable CA files. */
  problems: Problem[]
  notes: string[]
}

const MAX_DIR_FILES = 1000
/** The names OpenSSL's hashed-folder lookup opens: <subject hash>.<n> (and .r<n> for CRLs). */
const HASH_NAME = /^[0-9a-f]{8}\.r?\d+$/

export async function readLocalMaterial(config: NodeTlsConfig): Promise<LocalMaterial> {
  const material: LocalMaterial = {reads: {}, caCerts: [], problems: [], notes: []}
  const names = Object.keys(config.files).filter((n) => n !== 'tls-ca-cert-dir') as TlsFileSetting[]
  await Promise.all(names.map(async (name) => {
    const path = serverPath(config, config.files[name]!)
    material.reads[name] = path === undefined ? {unreadable: `${name} ${config.files[name]} is relative to the node's dir, which it did not report`} : await readSetting(name, path)
  }))
  for (const read of Object.values(material.reads)) if ('problem' in read) material.problems.push(read.problem)
  for (const [name, read] of Object.entries(material.reads)) {
    if ('unreadable' in read && name !== 'tls-cert-file') material.notes.push(`${read.unreadable}: not checked here (the server checks it when loading)`)
  }
  const caFile = material.reads['tls-ca-cert-file']
  let fileCerts: X509Certificate[] = []
  if (caFile && 'data' in caFile) {
    try {
      fileCerts = parseNodeCertificates(caFile.data, `tls-ca-cert-file ${config.files['tls-ca-cert-file']}`)
    } catch (error) {
      material.problems.push({code: 'ca-unusable', message: (error as Error).message})
    }
  }
  const caDir = config.files['tls-ca-cert-dir']
  const caDirPath = caDir === undefined ? undefined : serverPath(config, caDir)
  if (caDir !== undefined && caDirPath === undefined) material.notes.push(`tls-ca-cert-dir ${caDir} is relative to the node's dir, which it did not report: its CAs are not checked here`)
  material.caCerts = [...fileCerts, ...await readCaDir(caDirPath, material)]
  if (material.caCerts.length > 0) material.caBundle = Buffer.from(material.caCerts.map((c) => toPem('CERTIFICATE', c.raw)).join(''))
  return material
}

/**
 * Where the server finds a file: a relative path is resolved by the server against its own `dir`
 * (CONFIG GET dir), never against where this tool runs. Without a known dir it cannot be found here.
 */
export function serverPath(config: NodeTlsConfig, path: string): string | undefined {
  if (isAbsolute(path)) return path
  return config.dir ? resolve(config.dir, path) : undefined
}

/** A TLS identity (certificate file and key) from what was read: the server's own, or its client certificate. */
export function identityOf(config: NodeTlsConfig, material: LocalMaterial, which: 'server' | 'client'): {cert: Buffer; key: Buffer; passphrase?: string} | undefined {
  const [certName, keyName] = which === 'server' ? ['tls-cert-file', 'tls-key-file'] as const : ['tls-client-cert-file', 'tls-client-key-file'] as const
  const cert = material.reads[certName]
  const key = material.reads[keyName]
  if (!cert || !key || !('data' in cert) || !('data' in key)) return undefined
  return {cert: cert.data, key: key.data, passphrase: which === 'server' ? config.keyPassphrase : config.clientKeyPassphrase}
}

async function readSetting(name: TlsFileSetting, path: string): Promise<FileRead> {
  try {
    return {data: await readInputFile(path, name)}
  } catch (error) {
    const code = ((error as ValkeyTlsError).cause as NodeJS.ErrnoException | undefined)?.code
    if (code === 'EACCES' || code === 'EPERM') return {unreadable: `${name} ${path}: permission denied here`}
    return {problem: {code: 'file-unusable', message: (error as Error).message}}
  }
}

/**
 * The certificates of a hashed CA folder, as the server's OpenSSL finds them: only files named as `openssl
 * rehash` names them (HASH.N; seen on Valkey 9.1: a CA under any other name is "unknown ca" to the node until
 * the folder is rehashed), each that parses (others are skipped, as OpenSSL does). Files under other names are
 * not read, and a note says to rehash.
 */
async function readCaDir(dir: string | undefined, material: LocalMaterial): Promise<X509Certificate[]> {
  if (!dir) return []
  let entries
  try {
    entries = await readdir(dir, {withFileTypes: true})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM') material.notes.push(`tls-ca-cert-dir ${displayText(dir)}: permission denied here: not checked`)
    else material.problems.push({code: 'file-unusable', message: `cannot read tls-ca-cert-dir ${displayText(dir)}: ${code === 'ENOENT' ? 'no such directory' : describeSystemError(error)}`})
    return []
  }
  const certs: X509Certificate[] = []
  const hashed = entries.filter((e) => HASHED_CERTIFICATE.test(e.name)).slice(0, MAX_DIR_FILES)
  await noteUnhashed(dir, entries, hashed, material)
  for (const entry of hashed) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue
    try {
      certs.push(...parseNodeCertificates(await readInputFile(join(dir, entry.name), 'CA'), entry.name))
    } catch (error) {
      // Not a certificate (or unreadable): OpenSSL skips it too. But a FIFO or a device under a hash name
      // (what OpenSSL's folder lookup opens) would block the server itself: the next reload must not meet it.
      if (HASH_NAME.test(entry.name) && /not a regular file/.test((error as Error).message)) material.problems.push({code: 'file-unusable', message: (error as Error).message})
    }
  }
  return certs
}

/**
 * A regular file of the folder that no HASH.N name leads to (none is it, or a link to it): a certificate the
 * operator put there and did not rehash. Only stat'ed (a FIFO is never opened); copies made where links are
 * not possible would be named too.
 */
async function noteUnhashed(dir: string, entries: Dirent[], hashed: Dirent[], material: LocalMaterial): Promise<void> {
  const idOf = async (name: string) => stat(join(dir, name)).then((s) => (s.isFile() ? `${s.dev}:${s.ino}` : undefined), () => undefined)
  const reached = new Set(await Promise.all(hashed.map((e) => idOf(e.name))))
  const others = entries.filter((e) => !HASH_NAME.test(e.name) && !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink())).slice(0, MAX_DIR_FILES)
  const unreached: string[] = []
  for (const entry of others) {
    const id = await idOf(entry.name)
    if (id !== undefined && !reached.has(id)) unreached.push(entry.name)
  }
  if (unreached.length === 0) return
  const shown = unreached.slice(0, 3).map(displayText).join(', ') + (unreached.length > 3 ? ', ...' : '')
  material.notes.push(`tls-ca-cert-dir ${displayText(dir)}: ${shown} ${unreached.length === 1 ? 'is' : 'are'} not under a name openssl rehash gives (HASH.0): the node's OpenSSL does not look ${unreached.length === 1 ? 'it' : 'them'} up, and neither does this check (openssl rehash ${displayText(dir)})`)
}
