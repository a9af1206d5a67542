/** Key types Valkey's OpenSSL loads, as named on the command line. */
export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const
export type KeyType = (typeof KEY_TYPES)[number]
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256'

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value)
}
