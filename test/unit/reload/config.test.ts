import {describe, expect, it} from 'vitest'

import {normalizeSerial, parseTlsConfig, TLS_FILE_SETTINGS} from '../../../src/reload/config.js'

/** A CONFIG GET reply: the flat name/value list the server sends. */
const reply = (values: Record<string, string>) => Object.entries(values).flat()

describe('normalizeSerial', () => {
  it('upper-cases, drops colons and leading zeros, so OpenSSL and Node spellings compare equal', () => {
    expect(normalizeSerial('0a:1b:2c')).toBe('A1B2C')
    expect(normalizeSerial('000A1B2C')).toBe('A1B2C')
    expect(normalizeSerial('a1b2c')).toBe('A1B2C')
    expect(normalizeSerial('0a:1b:2c')).toBe(normalizeSerial('A1B2C'))
  })

  it('keeps a zero serial as one digit, and inner zeros', () => {
    expect(normalizeSerial('00')).toBe('0')
    expect(normalizeSerial('0')).toBe('0')
    expect(normalizeSerial('100A')).toBe('100A')
  })

  it('gives undefined for nothing', () => {
    expect(normalizeSerial(undefined)).toBeUndefined()
    expect(normalizeSerial('')).toBeUndefined()
  })
})

describe('parseTlsConfig', () => {
  it('keeps the TLS file settings that are set, and leaves out empty ones and other settings', () => {
    const config = parseTlsConfig(reply({
      'tls-cert-file': '/etc/valkey/server.crt',
      'tls-key-file': '/etc/valkey/server.key',
      'tls-ca-cert-file': '',
      'tls-ca-cert-dir': '/etc/valkey/cas',
      'tls-client-cert-file': '',
      'tls-port': '6380',
      'tls-protocols': 'TLSv1.3',
    }), '')
    expect(config.files).toEqual({
      'tls-cert-file': '/etc/valkey/server.crt',
      'tls-key-file': '/etc/valkey/server.key',
      'tls-ca-cert-dir': '/etc/valkey/cas',
    })
  })

  it('knows every file setting', () => {
    const values = Object.fromEntries(TLS_FILE_SETTINGS.map((name) => [name, `/f/${name}`]))
    expect(parseTlsConfig(reply(values), '').files).toEqual(values)
  })

  it('reads passphrases (empty = none), tls-cluster and tls-auto-reload-interval', () => {
    const config = parseTlsConfig(reply({
      'tls-key-file-pass': 'secret', 'tls-client-key-file-pass': '', 'tls-cluster': 'yes', 'tls-auto-reload-interval': '30',
    }), '')
    expect(config.keyPassphrase).toBe('secret')
    expect(config.clientKeyPassphrase).toBeUndefined()
    expect(config.tlsCluster).toBe(true)
    expect(config.autoReloadInterval).toBe(30)
    // An empty passphrase is none: the key is then reported as encrypted, not as opened with a wrong one.
    expect(parseTlsConfig(reply({'tls-key-file-pass': ''}), '').keyPassphrase).toBeUndefined()
    expect(parseTlsConfig(reply({'tls-client-key-file-pass': 'pw'}), '').clientKeyPassphrase).toBe('pw')
  })

  it('tells an interval of 0 (off) from a server without the setting (null)', () => {
    expect(parseTlsConfig(reply({'tls-auto-reload-interval': '0'}), '').autoReloadInterval).toBe(0)
    expect(parseTlsConfig(reply({'tls-cluster': 'no'}), '').autoReloadInterval).toBeNull()
    expect(parseTlsConfig(reply({'tls-cluster': 'no'}), '').tlsCluster).toBe(false)
    expect(parseTlsConfig(reply({'tls-auto-reload-interval': 'soon'}), '').autoReloadInterval).toBeNull()
  })

  it('reads the loaded serials of INFO tls, normalized', () => {
    const info = '# TLS\r\ntls_server_cert_serial:0ABC\r\ntls_client_cert_serial:00:1f:2e\r\ntls_client_cert_expires_in_seconds:100\r\ntls_ca_cert_serial:7f01\r\n'
    expect(parseTlsConfig(reply({}), info).loaded).toEqual({clientCertSerial: '1F2E', caCertSerial: '7F01'})
  })

  it('leaves the serials unknown when the server has no INFO tls section', () => {
    expect(parseTlsConfig(reply({'tls-cert-file': '/a'}), '').loaded).toEqual({clientCertSerial: undefined, caCertSerial: undefined})
  })

  it('reads tls-replication, off unless "yes"', () => {
    expect(parseTlsConfig(reply({'tls-replication': 'yes'}), '').tlsReplication).toBe(true)
    expect(parseTlsConfig(reply({'tls-replication': 'no'}), '').tlsReplication).toBe(false)
    expect(parseTlsConfig(reply({}), '').tlsReplication).toBe(false)
    // Apart from tls-cluster.
    expect(parseTlsConfig(reply({'tls-cluster': 'yes'}), '').tlsReplication).toBe(false)
    expect(parseTlsConfig(reply({'tls-replication': 'yes'}), '').tlsCluster).toBe(false)
  })

  it('reads tls-auth-clients: yes, no or optional; the server\'s default (yes) when unset', () => {
    expect(parseTlsConfig(reply({'tls-auth-clients': 'no'}), '').authClients).toBe('no')
    expect(parseTlsConfig(reply({'tls-auth-clients': 'optional'}), '').authClients).toBe('optional')
    expect(parseTlsConfig(reply({'tls-auth-clients': 'yes'}), '').authClients).toBe('yes')
    expect(parseTlsConfig(reply({}), '').authClients).toBe('yes')
  })

  it('reads the server\'s working folder (dir), empty meaning unknown', () => {
    expect(parseTlsConfig(reply({'dir': '/var/lib/valkey', 'tls-cert-file': 'server.crt'}), '').dir).toBe('/var/lib/valkey')
    expect(parseTlsConfig(reply({'dir': ''}), '').dir).toBeUndefined()
    expect(parseTlsConfig(reply({}), '').dir).toBeUndefined()
    // dir is not a file setting.
    expect(parseTlsConfig(reply({'dir': '/data'}), '').files).toEqual({})
  })

  it('reads run_id from INFO server, beside the tls section', () => {
    const info = '# Server\r\nredis_version:7.2.4\r\nrun_id:8d4f0c3b2a19e7f6d5c4b3a2918f7e6d5c4b3a29\r\ntcp_port:6379\r\n\r\n# TLS\r\ntls_ca_cert_serial:7F01\r\n'
    const config = parseTlsConfig(reply({}), info)
    expect(config.runId).toBe('8d4f0c3b2a19e7f6d5c4b3a2918f7e6d5c4b3a29')
    expect(config.loaded.caCertSerial).toBe('7F01')
    expect(parseTlsConfig(reply({}), '# TLS\r\n').runId).toBeUndefined()
    expect(parseTlsConfig(reply({}), 'run_id:\r\n').runId).toBeUndefined()
  })

  it('survives a reply that is not a list, and ignores a trailing name without a value', () => {
    const empty = parseTlsConfig(null, '')
    expect(empty.files).toEqual({})
    expect(empty.tlsCluster).toBe(false)
    expect(empty.autoReloadInterval).toBeNull()
    expect(empty.tlsReplication).toBe(false)
    expect(empty.authClients).toBe('yes')
    expect(empty.dir).toBeUndefined()
    expect(empty.runId).toBeUndefined()
    expect(parseTlsConfig(['tls-cert-file', '/a', 'tls-key-file'], '').files).toEqual({'tls-cert-file': '/a'})
  })
})
