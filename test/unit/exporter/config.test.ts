import {describe, expect, it} from 'vitest'

import {parseExporterConfig} from '../../../src/exporter/config.js'

const parse = (text: string) => parseExporterConfig(text, {source: 'exporter.yml', baseDir: '/etc/valkey-tls'})
const fails = (text: string, message: RegExp) => expect(() => parse(text)).toThrow(message)

describe('exporter config file', () => {
  it('reads modules, resolving relative paths against the config file\'s folder', () => {
    const {modules} = parse(`
modules:
  cluster-mtls:
    cacert: ca.crt
    cert: /srv/monitor.crt
    key: /srv/monitor.key
    user: monitor
    password_file: secrets/monitor.password
    timeout: 2.5
    deadline: 20
    warn_days: 14
    concurrency: 16
  anonymous:
    cert: null
    key: null
  by-env:
    password_env: VALKEY_MONITOR_PASSWORD
  sentinels:
    sentinel: true
    anonymous_probe: true
`)
    expect([...modules.keys()]).toEqual(['cluster-mtls', 'anonymous', 'by-env', 'sentinels'])
    expect(modules.get('sentinels')!.sentinel).toBe(true)
    expect(modules.get('sentinels')!.anonymousProbe).toBe(true)
    expect(modules.get('anonymous')!.anonymousProbe).toBeUndefined()
    expect(modules.get('cluster-mtls')).toEqual({
      cacert: '/etc/valkey-tls/ca.crt', cert: '/srv/monitor.crt', key: '/srv/monitor.key',
      auth: {user: 'monitor', password: {kind: 'file', path: '/etc/valkey-tls/secrets/monitor.password'}},
      timeout: 2.5, deadline: 20, warnDays: 14, concurrency: 16,
    })
    // null: none, even where the command line has one; absent (undefined): the command line's.
    expect(modules.get('anonymous')).toMatchObject({cert: null, key: null, cacert: undefined, auth: undefined})
    expect(modules.get('by-env')!.auth).toEqual({user: undefined, password: {kind: 'env', name: 'VALKEY_MONITOR_PASSWORD'}})
  })

  it('an empty file, or no modules, is no modules', () => {
    expect(parse('').modules.size).toBe(0)
    expect(parse('modules: {}\n').modules.size).toBe(0)
  })

  it('never takes a password from the file', () => {
    fails('modules:\n  m:\n    user: monitor\n    password: hunter2\n', /exporter\.yml: modules\.m\.password: passwords are never written in the config file: name an environment variable \(password_env\) or a file/)
  })

  it('a user needs a password source; one source at most', () => {
    fails('modules:\n  m:\n    user: monitor\n', /modules\.m: user monitor needs password_env or password_file/)
    fails('modules:\n  m:\n    password_env: A\n    password_file: /x\n', /give password_env or password_file, not both/)
    fails('modules:\n  m:\n    password_env: "not a name"\n', /password_env: must be the name of an environment variable/)
  })

  it('cert and key come together', () => {
    fails('modules:\n  m:\n    cert: a.crt\n', /cert and key go together/)
    fails('modules:\n  m:\n    cert: null\n    key: b.key\n', /cert and key go together/)
  })

  it('refuses unknown keys, bad values, bad names and the reserved name', () => {
    fails('modules:\n  m:\n    cacrt: ca.crt\n', /modules\.m\.cacrt: unknown key \(known: cacert, cert, key/)
    fails('module:\n  m: {}\n', /exporter\.yml: module: unknown key/)
    fails('modules:\n  m:\n    timeout: 0\n', /modules\.m\.timeout: must be a number of seconds above 0/)
    fails('modules:\n  m:\n    deadline: "10"\n', /modules\.m\.deadline: must be a number of seconds/)
    fails('modules:\n  m:\n    concurrency: 1.5\n', /modules\.m\.concurrency: must be a whole number from 1 to 4096/)
    fails('modules:\n  m:\n    insecure: yes please\n', /modules\.m\.insecure: must be true or false/)
    fails('modules:\n  m:\n    sentinel: 1\n', /modules\.m\.sentinel: must be true or false/)
    fails('modules:\n  m:\n    anonymous_probe: yes\n', /modules\.m\.anonymous_probe: must be true or false/)
    fails('modules:\n  "a b":\n    insecure: true\n', /modules\.a b: a module name is letters/)
    fails('modules:\n  default:\n    insecure: true\n', /"default" is the name of the command line's connection flags/)
    fails('modules: [a, b]\n', /modules: must be a mapping/)
  })

  it('YAML errors name the line; duplicate keys are errors', () => {
    fails('modules:\n  m:\n    cacert: [unclosed\n', /exporter\.yml: not valid YAML \(line \d+, column \d+\)/)
    fails('modules:\n  m:\n    cacert: a\n    cacert: b\n', /not valid YAML .*unique/i)
  })
})

describe('exporter config: sni', () => {
  it('is a host name, never an IP address', () => {
    expect(parse('modules:\n  m:\n    sni: valkey.internal\n').modules.get('m')!.sni).toBe('valkey.internal')
    fails('modules:\n  m:\n    sni: 10.0.0.5\n', /modules\.m\.sni: must be a host name, not an IP address/)
  })
})
