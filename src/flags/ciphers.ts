import {createSecureContext, DEFAULT_CIPHERS} from 'node:tls'

import {usageError} from '../errors.js'

const isSuite = (name: string) => name.startsWith('TLS_')
const split = (list: string) => list.split(/[:, ]+/).filter((c) => c !== '')
const defaults = split(DEFAULT_CIPHERS)

/**
 * --tls-ciphers (TLS 1.2 and below, OpenSSL's cipher-list syntax) and --tls-ciphersuites (TLS 1.3), as
 * the one `ciphers` string Node takes: Node sends the `TLS_*` entries of that string to
 * SSL_CTX_set_ciphersuites and the rest to SSL_CTX_set_cipher_list. A string holding only one kind
 * would empty the other (TLS 1.3 suites alone leave TLS 1.2 with no cipher at all), so the half not
 * given keeps Node's default, as valkey-cli keeps OpenSSL's. Each half is tried by building a TLS
 * context: like OpenSSL (and so valkey-cli), unknown names in a list are skipped, and a list naming
 * nothing known is a usage error. Undefined when neither flag is given.
 */
export function cipherString(ciphers: string | undefined, suites: string | undefined): string | undefined {
  if (ciphers === undefined && suites === undefined) return undefined
  const tls12 = ciphers === undefined ? defaults.filter((c) => !isSuite(c)) : split(ciphers)
  const tls13 = suites === undefined ? defaults.filter((c) => isSuite(c)) : split(suites)
  if (ciphers !== undefined) {
    const misplaced = tls12.find((c) => isSuite(c))
    if (misplaced) throw usageError(`--tls-ciphers is for TLS 1.2 and below; ${misplaced} is a TLS 1.3 suite: give it with --tls-ciphersuites`)
    tryList(tls12, '--tls-ciphers', 'no TLS 1.2 cipher OpenSSL knows (see `openssl ciphers -v`)')
  }
  if (suites !== undefined) {
    const misplaced = tls13.find((c) => !isSuite(c))
    if (misplaced) throw usageError(`--tls-ciphersuites is for TLS 1.3 suites (TLS_AES_128_GCM_SHA256, ...); ${misplaced} is not one: TLS 1.2 ciphers go in --tls-ciphers`)
    tryList(tls13, '--tls-ciphersuites', 'no TLS 1.3 suite OpenSSL knows (see `openssl ciphers -v -tls1_3`)')
  }
  return [...tls12, ...tls13].join(':')
}

function tryList(list: string[], flag: string, none: string): void {
  if (list.length === 0) throw usageError(`${flag} is empty`)
  try {
    createSecureContext({ciphers: list.join(':')})
  } catch {
    throw usageError(`${flag}: ${none}`)
  }
}
