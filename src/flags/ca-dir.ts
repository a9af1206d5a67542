import {readdir} from 'node:fs/promises'
import {join} from 'node:path'

import {describeSystemError, inputError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import {displayText} from '../x509/text.js'

/** The names `openssl rehash` (c_rehash) gives certificates: the subject-name hash and a number (CRLs are HASH.rN). */
export const HASHED_CERTIFICATE = /^[0-9a-f]{8}\.\d+$/
/** Most files and bytes read from one folder: a CA folder holds a few certificates, a system one a few hundred. */
export const MAX_CA_DIR_FILES = 2000
export const MAX_CA_DIR_BYTES = 16 * 1024 * 1024

/**
 * --cacertdir, as valkey-cli's (OpenSSL's CApath): the certificates of a folder laid out by `openssl
 * rehash`, read now into one CA list, since Node's TLS has no CApath. What differs from OpenSSL's
 * hashed lookup, which opens HASH.0, HASH.1, ... only when a verification needs an issuer of that
 * subject-name hash:
 * - every HASH.N file is read at start, whatever certificate it holds (OpenSSL would not find one whose
 *   name is not its own subject's hash, e.g. a link left over after the file changed), and a file added
 *   later is not seen;
 * - files not named HASH.N are ignored, as OpenSSL ignores them (run `openssl rehash DIR` after adding
 *   one), and so are CRLs (HASH.rN): Valkey's clients do no CRL checks either;
 * - a HASH.N that cannot be read or holds no certificate (a dangling link, a folder) is an error naming
 *   it, where OpenSSL would skip it;
 * - a folder with no HASH.N at all is an error (OpenSSL would accept it and then trust nothing).
 * Links are followed (rehash makes symbolic links); each file is read bounded, regular files only.
 * Returns the PEM of every file, each checked by `checkPem`.
 */
export async function readCaDir(dir: string, checkPem: (data: Buffer, what: string) => Buffer): Promise<Buffer> {
  const shown = displayText(dir)
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => HASHED_CERTIFICATE.test(n)).sort()
  } catch (error) {
    throw inputError(`cannot read --cacertdir ${shown}: ${describeSystemError(error)}`, error)
  }
  if (names.length === 0) throw inputError(`--cacertdir ${shown} has no certificate named as openssl rehash names them (HASH.0): run openssl rehash ${shown}`)
  if (names.length > MAX_CA_DIR_FILES) throw inputError(`--cacertdir ${shown} has ${names.length} certificates, more than the ${MAX_CA_DIR_FILES} read at most`)
  const parts: Buffer[] = []
  let total = 0
  for (const name of names) {
    const path = join(dir, name)
    const pem = checkPem(await readInputFile(path, '--cacertdir file'), `--cacertdir ${displayText(path)}`)
    total += pem.length
    if (total > MAX_CA_DIR_BYTES) throw inputError(`--cacertdir ${shown} holds more than ${MAX_CA_DIR_BYTES / 1024 / 1024} MiB of certificates`)
    parts.push(pem, Buffer.from('\n'))
  }
  return Buffer.concat(parts)
}
