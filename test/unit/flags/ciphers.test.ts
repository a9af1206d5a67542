import {DEFAULT_CIPHERS} from 'node:tls'

import {describe, expect, it} from 'vitest'

import {cipherString} from '../../../src/flags/ciphers.js'

const parts = (s: string) => s.split(':')
const suites = parts(DEFAULT_CIPHERS).filter((c) => c.startsWith('TLS_'))
const tls12 = parts(DEFAULT_CIPHERS).filter((c) => !c.startsWith('TLS_'))

describe('cipherString: --tls-ciphers and --tls-ciphersuites as Node\'s one ciphers string', () => {
  it('neither: Node\'s defaults untouched', () => {
    expect(cipherString(undefined, undefined)).toBeUndefined()
  })

  it('the half not given keeps Node\'s default', () => {
    expect(cipherString('ECDHE-ECDSA-AES128-GCM-SHA256', undefined)).toBe(['ECDHE-ECDSA-AES128-GCM-SHA256', ...suites].join(':'))
    expect(cipherString(undefined, 'TLS_AES_128_GCM_SHA256')).toBe([...tls12, 'TLS_AES_128_GCM_SHA256'].join(':'))
    expect(cipherString('ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384', 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384'))
      .toBe('ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384')
  })

  it('commas and spaces separate too, as in OpenSSL\'s cipher lists', () => {
    expect(cipherString('ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256', 'TLS_AES_128_GCM_SHA256')).toBe('ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256')
  })

  it('like OpenSSL, unknown names among known ones are skipped; a list of nothing known is a usage error', () => {
    expect(cipherString('ECDHE-ECDSA-AES128-GCM-SHA256:NOT-A-CIPHER', undefined)).toMatch(/^ECDHE-ECDSA-AES128-GCM-SHA256:NOT-A-CIPHER:TLS_/)
    expect(() => cipherString('NOT-A-CIPHER', undefined)).toThrow(/^--tls-ciphers: no TLS 1.2 cipher OpenSSL knows/)
    expect(() => cipherString(undefined, 'TLS_NOT_A_SUITE')).toThrow(/^--tls-ciphersuites: no TLS 1.3 suite OpenSSL knows/)
    expect(() => cipherString('', undefined)).toThrow(/^--tls-ciphers is empty$/)
  })

  it('each flag takes its own kind, with the flag to use instead', () => {
    expect(() => cipherString('TLS_AES_128_GCM_SHA256', undefined)).toThrow(/TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite: give it with --tls-ciphersuites/)
    expect(() => cipherString(undefined, 'ECDHE-ECDSA-AES128-GCM-SHA256')).toThrow(/ECDHE-ECDSA-AES128-GCM-SHA256 is not one: TLS 1.2 ciphers go in --tls-ciphers/)
  })
})
