import {createPrivateKey, createPublicKey, generateKeyPair as generate, type KeyObject} from 'node:crypto'
import {promisify} from 'node:util'

import {inputError} from '../errors.js'
import type {KeyType} from './key-types.js'

export interface KeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
}

const generateAsync = promisify(generate)

export async function generateKeyPair(type: KeyType): Promise<KeyPair> {
  switch (type) {
    case 'ec-p256':
    case 'ec-p384':
      return generateAsync('ec', {namedCurve: type === 'ec-p256' ? 'P-256' : 'P-384'})
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateAsync('rsa', {modulusLength: Number(type.slice(4)), publicExponent: 0x10001})
    case 'ed25519':
      return generateAsync('ed25519', undefined)
  }
}

/** Unencrypted PKCS#8 PEM: what Valkey's tls-key-file loads for every key type. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({type: 'pkcs8', format: 'pem'}) as string
}

/** Unencrypted PKCS#8 DER (for PKCS#12). */
export function privateKeyDer(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({type: 'pkcs8', format: 'der'}))
}

/** SubjectPublicKeyInfo DER of a public key, or of a private key's public half. */
export function spkiDer(key: KeyObject): Buffer {
  return (key.type === 'public' ? key : createPublicKey(key)).export({type: 'spki', format: 'der'})
}

/**
 * Reads a private key in any PEM form OpenSSL writes (PKCS#8, PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY")
 * that can sign certificates (RSA, ECDSA on P-256, P-384 or P-521, Ed25519). `what` names the key in error
 * messages ("CA key").
 */
export function importSigningKey(pem: string, what: string): KeyPair {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({key: pem, format: 'pem'})
  } catch (error) {
    const message = String((error as Error).message)
    if (/passphrase|decrypt|encrypted/i.test(message) || /ENCRYPTED/.test(pem)) {
      throw inputError(`${what} is encrypted with a passphrase; decrypt it first (openssl pkey -in KEY -out PLAIN)`)
    }
    throw inputError(`${what} is not a valid PEM private key`, error)
  }
  const type = privateKey.asymmetricKeyType
  const curve = privateKey.asymmetricKeyDetails?.namedCurve
  if (type === 'ec' && !['prime256v1', 'secp384r1', 'secp521r1'].includes(curve ?? '')) throw inputError(`${what} uses the unsupported elliptic curve ${curve}`)
  if (type !== 'rsa' && type !== 'ec' && type !== 'ed25519') throw inputError(`${what} is an unsupported ${type} key; use RSA, ECDSA or Ed25519`)
  return {privateKey, publicKey: createPublicKey(privateKey)}
}
