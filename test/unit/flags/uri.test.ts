import {describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {parseValkeyUri} from '../../../src/flags/uri.js'

const usage = (uri: string, message: RegExp) => {
  let error: unknown
  try {
    parseValkeyUri(uri)
  } catch (caught) {
    error = caught
  }
  expect(error, uri).toBeInstanceOf(ValkeyTlsError)
  expect((error as ValkeyTlsError).kind).toBe('usage')
  expect((error as Error).message).toMatch(message)
  return (error as Error).message
}

describe('parseValkeyUri: valkey-cli -u, as parseRedisUri reads it', () => {
  it('host, port and database; rediss:// too; the scheme in any case', () => {
    expect(parseValkeyUri('valkeys://10.0.0.5:6380/2')).toEqual({host: '10.0.0.5', port: 6380, db: 2})
    expect(parseValkeyUri('rediss://cache.internal')).toEqual({host: 'cache.internal'})
    expect(parseValkeyUri('VALKEYS://h:1')).toEqual({host: 'h', port: 1})
    expect(parseValkeyUri('valkeys://')).toEqual({})
    expect(parseValkeyUri('valkeys://h/')).toEqual({host: 'h'})
  })

  it('user:password@, and a lone value before @ is the password, as valkey-cli reads it', () => {
    expect(parseValkeyUri('valkeys://alice:s3cret@127.0.0.1:6379')).toEqual({user: 'alice', password: 's3cret', host: '127.0.0.1', port: 6379})
    expect(parseValkeyUri('valkeys://s3cret@127.0.0.1')).toEqual({password: 's3cret', host: '127.0.0.1'})
    expect(parseValkeyUri('valkeys://:s3cret@h')).toEqual({password: 's3cret', host: 'h'})
    expect(parseValkeyUri('valkeys://alice:@h')).toEqual({user: 'alice', host: 'h'})
  })

  it('splits at the first @ and its first colon: a password may hold ":" and "/" raw, "@" encoded', () => {
    expect(parseValkeyUri('valkeys://alice:a:b/c@h:7000')).toEqual({user: 'alice', password: 'a:b/c', host: 'h', port: 7000})
    expect(parseValkeyUri('valkeys://alice:p%40ss%3Aw%2fd@h')).toEqual({user: 'alice', password: 'p@ss:w/d', host: 'h'})
  })

  it('percent-decodes user and password (UTF-8), not the host', () => {
    expect(parseValkeyUri('valkeys://J%C3%BCrgen:%E2%82%AC@h%41')).toEqual({user: 'Jürgen', password: '€', host: 'h%41'})
    usage('valkeys://alice:abc%4@h', /incomplete percent-encoding in the password/)
    usage('valkeys://al%zzice:x@h', /invalid percent-encoding in the user name/)
    usage('valkeys://alice:%ff@h', /password is not UTF-8/)
  })

  it('IPv6 in brackets, with or without a port', () => {
    expect(parseValkeyUri('valkeys://[::1]:6380')).toEqual({host: '::1', port: 6380})
    expect(parseValkeyUri('valkeys://u:p@[fe80::1]/0')).toEqual({user: 'u', password: 'p', host: 'fe80::1', db: 0})
    usage('valkeys://::1', /IPv6 address goes in brackets/)
    usage('valkeys://[::1', /no "\]" closes/)
    usage('valkeys://[::1]6380', /expected ":PORT" after "\]"/)
  })

  it('refuses plaintext schemes with the fix, and other schemes', () => {
    usage('valkey://h:6379', /valkey:\/\/ is a plaintext connection and valkey-tls always uses TLS: write valkeys:\/\//)
    usage('redis://h', /write rediss:\/\//)
    usage('https://h', /must start with valkeys:\/\/ \(or rediss:\/\/\)/)
    usage('h:6379', /must start with valkeys:\/\//)
  })

  it('is strict where valkey-cli\'s atoi is lax: ports, databases, query strings', () => {
    usage('valkeys://h:', /port must be a number from 1 to 65535, not ""/)
    usage('valkeys://h:0', /not "0"/)
    usage('valkeys://h:65536', /not "65536"/)
    usage('valkeys://h:63x', /not "63x"/)
    usage('valkeys://h/db1', /database after the host must be a number, not "db1"/)
    usage('valkeys://h:6379?protocol=3', /query parameters/)
  })

  it('never repeats the user info in a message', () => {
    for (const uri of ['valkeys://alice:hunter2@h:99999', 'valkeys://alice:hunter2@[::1', 'valkeys://hunter2@h/x', 'valkeys://hunter2%@h']) {
      expect(usage(uri, /./)).not.toMatch(/hunter2|alice/)
    }
  })
})
