import {createPrivateKey, createPublicKey, type KeyObject} from 'node:crypto'

import {inputError} from '../errors.js'
import {keyAlgorithm, type KeyAlgorithm, type KeyType} from './key-types.js'
import {toPem} from './pem.js'
import {subtle} from './x509.js'

export interface KeyPair {
  privateKey: CryptoKey
  publicKey: CryptoKey
  /** How certificates signed by this key are signed. */
  signing: KeyAlgorithm['signing']
}

export async function generateKeyPair(type: KeyType): Promise<KeyPair> {
  const algorithm = keyAlgorithm(type)
  const pair = (await subtle.generateKey(algorithm.generate, true, ['sign', 'verify'])) as CryptoKeyPair
  return {privateKey: pair.privateKey, publicKey: pair.publicKey, signing: algorithm.signing}
}

/** Unencrypted PKCS#8 PEM: what Valkey's tls-key-file loads for every key type. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', new Uint8Array(await subtle.exportKey('pkcs8', key)))
}

/**
 * Reads a private key in any PEM form OpenSSL writes (PKCS#8, PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY")
 * and makes it usable for signing. `what` names the key in error messages ("CA key").
 */
export async function importSigningKey(pem: string, what: string): Promise<KeyPair & {keyObject: KeyObject}> {
  let keyObject: KeyObject
  try {
    keyObject = createPrivateKey({key: pem, format: 'pem'})
  } catch (error) {
    const message = String((error as Error).message)
    if (/passphrase|decrypt|encrypted/i.test(message) || /ENCRYPTED/.test(pem)) {
      throw inputError(`${what} is encrypted with a passphrase; decrypt it first (openssl pkey -in KEY -out PLAIN)`)
    }
    throw inputError(`${what} is not a valid PEM private key`, error)
  }
  const algorithm = signingAlgorithmFor(keyObject, what)
  const der = keyObject.export({type: 'pkcs8', format: 'der'})
  const privateKey = await subtle.importKey('pkcs8', der, algorithm.generate, false, ['sign'])
  const spki = createPublicKey(keyObject).export({type: 'spki', format: 'der'})
  const publicKey = await subtle.importKey('spki', spki, algorithm.generate, true, ['verify'])
  return {privateKey, publicKey, signing: algorithm.signing, keyObject}
}

function signingAlgorithmFor(key: KeyObject, what: string): KeyAlgorithm {
  const details = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return keyAlgorithm('rsa-2048') // modulus length is irrelevant for import
    case 'ec':
      if (details.namedCurve === 'prime256v1') return keyAlgorithm('ec-p256')
      if (details.namedCurve === 'secp384r1') return keyAlgorithm('ec-p384')
      if (details.namedCurve === 'secp521r1') {
        return {generate: {name: 'ECDSA', namedCurve: 'P-521'} as EcKeyGenParams, signing: {name: 'ECDSA', hash: 'SHA-512'} as EcdsaParams}
      }
      throw inputError(`${what} uses the unsupported elliptic curve ${details.namedCurve}`)
    case 'ed25519':
      return keyAlgorithm('ed25519')
    default:
      throw inputError(`${what} is an unsupported ${key.asymmetricKeyType} key; use RSA, ECDSA or Ed25519`)
  }
}

/** DER SubjectPublicKeyInfo of a private key, for comparing with a certificate's public key. */
export function publicKeyDer(key: KeyObject): Buffer {
  return createPublicKey(key).export({type: 'spki', format: 'der'})
}
