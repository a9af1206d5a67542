import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {cacheDirectory, codeCacheFolder, commandKey} from '../../../src/startup/load.js'

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

describe('codeCacheFolder: where the code cache may live', () => {
  it('is code-cache/ in the cache folder, when that is an absolute path', () => {
    expect(codeCacheFolder('valkey-tls', {env: {}, home: '/home/u', platform: 'linux'})).toBe(join('/home/u', '.cache', 'valkey-tls', 'code-cache'))
    expect(codeCacheFolder('valkey-tls', {env: {VALKEY_TLS_CACHE_DIR: '/c'}, home: '/home/u', platform: 'linux'})).toBe(join('/c', 'code-cache'))
    // A relative XDG_CACHE_HOME or VALKEY_TLS_CACHE_DIR would follow the current folder (an unpacked archive's, say).
    expect(codeCacheFolder('valkey-tls', {env: {XDG_CACHE_HOME: '.cache'}, home: '/home/u', platform: 'linux'})).toBeUndefined()
    expect(codeCacheFolder('valkey-tls', {env: {VALKEY_TLS_CACHE_DIR: 'cache'}, home: '/home/u', platform: 'linux'})).toBeUndefined()
    expect(codeCacheFolder('valkey-tls', {env: {}, home: '', platform: 'linux'})).toBeUndefined()
  })
  it('on Windows, only under %LOCALAPPDATA% (the user\'s profile): a folder named by a variable may be shared', () => {
    const local = join('/', 'Users', 'u', 'AppData', 'Local') // (the test runs on POSIX: join's separators)
    expect(codeCacheFolder('valkey-tls', {env: {LOCALAPPDATA: local}, home: '/home/u', platform: 'win32'})).toBe(join(local, 'valkey-tls', 'code-cache'))
    expect(codeCacheFolder('valkey-tls', {env: {LOCALAPPDATA: local, VALKEY_TLS_CACHE_DIR: '/shared'}, home: '/home/u', platform: 'win32'})).toBeUndefined()
    expect(codeCacheFolder('valkey-tls', {env: {LOCALAPPDATA: local, XDG_CACHE_HOME: '/shared'}, home: '/home/u', platform: 'win32'})).toBeUndefined()
    expect(codeCacheFolder('valkey-tls', {env: {}, home: '/home/u', platform: 'win32'})).toBeUndefined()
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
