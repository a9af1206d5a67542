import {describe, expect, it} from 'vitest'

import {commandName, replyFailure, socketFailure, timeoutFailure, TransportError, verifyFailure} from '../../../src/transport/errors.js'

/** The one vocabulary: every failure a short cause, a fix where there is one, and the exit-code kind. */
describe('transport errors', () => {
  it('credentials and permissions are auth (exit 7); other replies are server (exit 6)', () => {
    expect(replyFailure('WRONGPASS invalid username-password pair or user is disabled.', {command: 'AUTH'})).toMatchObject({kind: 'auth', reason: 'wrong-password'})
    expect(replyFailure('NOAUTH Authentication required.', {command: 'PING'})).toMatchObject({kind: 'auth', reason: 'noauth', fix: 'set VALKEY_TLS_PASSWORD or use --askpass'})
    expect(replyFailure('NOPERM User viewer has no permissions to run the \'config|get\' command', {command: 'CONFIG GET', user: 'viewer'}))
      .toMatchObject({kind: 'auth', reason: 'noperm', cause: 'user "viewer" may not run CONFIG GET (NOPERM)'})
    expect(replyFailure('ERR unknown command', {command: 'CLUSTER SHARDS'})).toMatchObject({kind: 'server', reason: 'reply', cause: 'CLUSTER SHARDS: ERR unknown command'})
    expect(new TransportError('127.0.0.1:6379', replyFailure('WRONGPASS x', {command: 'AUTH'})).exitCode).toBe(7)
    expect(new TransportError('127.0.0.1:6379', socketFailure(Object.assign(new Error('x'), {code: 'ECONNREFUSED'}), {tcpConnected: false, withCert: false})).exitCode).toBe(6)
  })

  it('a missing client certificate is auth whichever way the server says it', () => {
    const after = {tcpConnected: true, afterHandshake: true, withCert: false}
    expect(socketFailure(Object.assign(new Error('alert'), {code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'}), after).reason).toBe('cert-required')
    expect(socketFailure(Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'}), after).reason).toBe('cert-required')
    expect(socketFailure(new Error('sslv3 alert handshake failure'), {tcpConnected: true, withCert: false}).reason).toBe('cert-required')
    expect(socketFailure(new Error('sslv3 alert handshake failure'), {tcpConnected: true, withCert: true}).reason).toBe('cert-rejected')
    expect(socketFailure(Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'}), {tcpConnected: true, withCert: false})).toMatchObject({kind: 'server', reason: 'reset'})
  })

  it('socket and TLS errors in words', () => {
    const e = (code: string) => socketFailure(Object.assign(new Error(code), {code}), {tcpConnected: false, withCert: false})
    expect(e('ECONNREFUSED').cause).toBe('connection refused')
    expect(e('EHOSTUNREACH').cause).toBe('host unreachable')
    expect(e('ENOTFOUND').cause).toBe('cannot resolve host')
    expect(e('ERR_SSL_WRONG_VERSION_NUMBER').cause).toBe('not a TLS port')
    expect(socketFailure(new Error('first line\nsecond'), {tcpConnected: false, withCert: false}).cause).toBe('first line')
    expect(timeoutFailure('tcp', 2).cause).toBe('no TCP connection within 2 s')
    expect(timeoutFailure('handshake', 1).cause).toBe('TCP connected, but no TLS handshake within 1 s')
    expect(timeoutFailure('reply', 5, 'CONFIG GET').cause).toBe('no reply to CONFIG GET within 5 s')
  })

  it('verification errors name the certificate\'s dates, issuer, or the name', () => {
    const cert = {notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2020-01-01T00:00:00.000Z', issuer: 'CN=rogue'}
    expect(verifyFailure('CERT_HAS_EXPIRED', cert).cause).toBe('certificate expired on 2020-01-01T00:00:00.000Z')
    expect(verifyFailure('CERT_NOT_YET_VALID', cert).cause).toBe('certificate not valid before 2030-01-01T00:00:00.000Z')
    expect(verifyFailure('UNABLE_TO_VERIFY_LEAF_SIGNATURE', cert)).toMatchObject({reason: 'untrusted', cause: 'certificate not trusted by --cacert (UNABLE_TO_VERIFY_LEAF_SIGNATURE): issued by CN=rogue', fix: 'pass its CA with --cacert'})
    expect(verifyFailure('ERR_TLS_CERT_ALTNAME_INVALID', cert, 'db.example').cause).toMatch(/does not match "db.example"/)
  })

  it('commands as messages name them', () => {
    expect(commandName(['CONFIG', 'GET', 'tls-*'])).toBe('CONFIG GET')
    expect(commandName(['acl', 'whoami'])).toBe('ACL WHOAMI')
    expect(commandName(['INFO', 'server', 'tls'])).toBe('INFO')
    expect(commandName(['PING'])).toBe('PING')
  })
})
