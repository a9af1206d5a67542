import {inputError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import type {Certificate} from './certificate.js'
import {KEY_USAGE} from './encode.js'
import type {Issuer} from './issue.js'
import {importSigningKey, spkiDer} from './keys.js'
import {parseCertificates} from './parse.js'

export interface LoadedCa extends Issuer {
  certPem: string
}

/**
 * Loads an existing CA to sign with, refusing anything that would produce certificates no server
 * accepts: a certificate that is not a CA, an expired CA, a key that does not belong to it.
 */
export async function loadCa(certPath: string, keyPath: string, now = new Date()): Promise<LoadedCa> {
  const certData = await readInputFile(certPath, 'CA certificate')
  const keyData = await readInputFile(keyPath, 'CA key')
  const [cert] = parseCertificates(certData, `CA certificate ${certPath}`) as [Certificate]

  if (!cert.fields.basicConstraints?.ca) throw inputError(`${certPath} is not a CA certificate (basicConstraints CA:TRUE is missing)`)
  const usage = cert.fields.keyUsage
  if (usage !== undefined && (usage & (1 << KEY_USAGE.keyCertSign)) === 0) {
    throw inputError(`${certPath} is a CA certificate that may not sign certificates (keyUsage lacks keyCertSign)`)
  }
  if (cert.notAfter.getTime() <= now.getTime()) throw inputError(`CA certificate ${certPath} expired on ${cert.notAfter.toISOString()}`)
  if (cert.notBefore.getTime() > now.getTime()) throw inputError(`CA certificate ${certPath} is not valid before ${cert.notBefore.toISOString()}`)

  const keys = importSigningKey(keyData.toString('utf8'), `CA key ${keyPath}`)
  if (!spkiDer(keys.privateKey).equals(cert.spki)) throw inputError(`CA key ${keyPath} does not match CA certificate ${certPath}`)
  return {cert, keys, certPem: cert.pem}
}
