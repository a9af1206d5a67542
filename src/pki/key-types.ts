/** Key types Valkey's OpenSSL loads, as named on the command line. */
export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const
export type KeyType = (typeof KEY_TYPES)[number]
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256'

export interface KeyAlgorithm {
  /** Parameters for SubtleCrypto.generateKey / importKey. */
  generate: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm
  /** Parameters for signing certificates with a key of this type. */
  signing: Algorithm | EcdsaParams
}

const RSA_EXPONENT = new Uint8Array([1, 0, 1])

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value)
}

export function keyAlgorithm(type: KeyType): KeyAlgorithm {
  switch (type) {
    case 'ec-p256':
      return {generate: {name: 'ECDSA', namedCurve: 'P-256'} as EcKeyGenParams, signing: {name: 'ECDSA', hash: 'SHA-256'} as EcdsaParams}
    case 'ec-p384':
      return {generate: {name: 'ECDSA', namedCurve: 'P-384'} as EcKeyGenParams, signing: {name: 'ECDSA', hash: 'SHA-384'} as EcdsaParams}
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096': {
      const modulusLength = Number(type.slice(4))
      const generate: RsaHashedKeyGenParams = {name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: RSA_EXPONENT, hash: 'SHA-256'}
      return {generate, signing: {name: 'RSASSA-PKCS1-v1_5'}}
    }
    case 'ed25519':
      return {generate: {name: 'Ed25519'}, signing: {name: 'Ed25519'}}
  }
}
