import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {cacheDirectory, commandKey} from '../../../src/startup/load.js'

describe('cacheDirectory: where oclif keeps its cache', () => {
  const home = '/home/u'
  it('follows oclif: <BIN>_CACHE_DIR, macOS Caches, XDG_CACHE_HOME, LOCALAPPDATA, ~/.cache', () => {
    expect(cacheDirectory('valkey-tls', {env: {VALKEY_TLS_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x'}, home, platform: 'linux'})).toBe('/c')
    expect(cacheDirectory('valkey-tls', {env: {XDG_CACHE_HOME: '/x'}, home, platform: 'darwin'})).toBe(join(home, 'Library', 'Caches', 'valkey-tls'))
    expect(cacheDirectory('valkey-tls', {env: {XDG_CACHE_HOME: '/x'}, home, platform: 'linux'})).toBe(join('/x', 'valkey-tls'))
    expect(cacheDirectory('valkey-tls', {env: {LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local'}, home, platform: 'win32'})).toBe(join('C:\\Users\\u\\AppData\\Local', 'valkey-tls'))
    expect(cacheDirectory('valkey-tls', {env: {LOCALAPPDATA: '/l'}, home, platform: 'linux'})).toBe(join(home, '.cache', 'valkey-tls'))
    expect(cacheDirectory('valkey-tls', {env: {}, home, platform: 'linux'})).toBe(join(home, '.cache', 'valkey-tls'))
    expect(cacheDirectory('valkey-tls', {env: {XDG_CACHE_HOME: '/x'}, home: '', platform: 'linux'})).toBe(join('/x', 'valkey-tls'))
    expect(cacheDirectory('valkey-tls', {env: {}, home: '', platform: 'linux'})).toBeUndefined() // no home: no cache
  })
})

describe('commandKey: one cache file per command', () => {
  const ids = new Set(['whoami', 'certs/gen', 'certs/verify', 'ca/rotate', 'help'])
  const key = (line: string) => commandKey(line.split(' ').filter(Boolean), (id) => ids.has(id))
  it('is the command that oclif will run, from the words before the first flag', () => {
    expect(key('whoami alice.crt --json')).toBe('whoami')
    expect(key('certs gen --out x')).toBe('certs-gen')
    expect(key('certs verify server.crt')).toBe('certs-verify')
    expect(key('ca rotate --help')).toBe('ca-rotate')
    expect(key('help certs gen')).toBe('help')
  })
  it('is "cli" for anything that is not a command, so that typos make no new files', () => {
    for (const line of ['', '--help', 'certs', 'certs --help', 'whoamii', 'WHOAMI', '../../etc/passwd', 'certs/gen', '-v whoami']) expect(key(line)).toBe('cli')
  })
})
