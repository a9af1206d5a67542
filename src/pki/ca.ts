import {createPublicKey} from 'node:crypto'

import {inputError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import type {Issuer} from './issue.js'
import {importSigningKey, publicKeyDer} from './keys.js'
import {parseCertificates} from './parse.js'
import {x509} from './x509.js'

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
  const [cert] = parseCertificates(certData, `CA certificate ${certPath}`)

  const constraints = cert.getExtension(x509.BasicConstraintsExtension)
  if (!constraints?.ca) throw inputError(`${certPath} is not a CA certificate (basicConstraints CA:TRUE is missing)`)
  const usage = cert.getExtension(x509.KeyUsagesExtension)
  if (usage && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw inputError(`${certPath} is a CA certificate that may not sign certificates (keyUsage lacks keyCertSign)`)
  }
  if (cert.notAfter.getTime() <= now.getTime()) throw inputError(`CA certificate ${certPath} expired on ${cert.notAfter.toISOString()}`)
  if (cert.notBefore.getTime() > now.getTime()) throw inputError(`CA certificate ${certPath} is not valid before ${cert.notBefore.toISOString()}`)

  const key = await importSigningKey(keyData.toString('utf8'), `CA key ${keyPath}`)
  const certKey = createPublicKey({key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki'})
  if (!publicKeyDer(key.keyObject).equals(certKey.export({type: 'spki', format: 'der'}))) {
    throw inputError(`CA key ${keyPath} does not match CA certificate ${certPath}`)
  }
  return {cert, keys: key, certPem: cert.toString('pem') + '\n'}
}
