import {execFileSync} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import type {NodeTlsConfig} from '../../../src/reload/config.js'
import {identityOf, readLocalMaterial, serverPath} from '../../../src/reload/material.js'
import {type Ca, issueCert, type KeyPair, makeCa} from '../../helpers/pki/openssl.js'
import {certOf} from '../../helpers/pki/read.js'
import {makeTempDir, useTempDirs} from '../../helpers/temp.js'

const tempDir = useTempDirs('vtls-material')
const isRoot = process.getuid?.() === 0

const config = (files: NodeTlsConfig['files'], extra: Partial<NodeTlsConfig> = {}): NodeTlsConfig => ({
  files, tlsCluster: false, tlsReplication: false, authClients: 'yes', autoReloadInterval: null, loaded: {}, ...extra,
})
const fingerprints = (certs: X509Certificate[]) => certs.map((c) => c.fingerprint256)

let pkiDir: string
let caA: Ca
let caB: Ca
let server: KeyPair
let other: KeyPair

beforeAll(async () => {
  pkiDir = makeTempDir('vtls-material-pki')
  ;[caA, caB] = await Promise.all([makeCa(join(pkiDir, 'a')), makeCa(join(pkiDir, 'b'))])
  ;[server, other] = await Promise.all([issueCert(caA, join(pkiDir, 'a'), 'server'), issueCert(caB, join(pkiDir, 'b'), 'other')])
})

describe('readLocalMaterial', () => {
  it('reads the files of every setting, and the CA file as certificates', async () => {
    const m = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-key-file': server.key, 'tls-ca-cert-file': caA.cert}))
    expect(m.problems).toEqual([])
    expect(m.notes).toEqual([])
    const key = m.reads['tls-key-file']
    expect(key && 'data' in key && key.data.equals(readFileSync(server.key))).toBe(true)
    const cert = m.reads['tls-cert-file']
    expect(cert && 'data' in cert && cert.data.equals(readFileSync(server.cert))).toBe(true)
    expect(fingerprints(m.caCerts)).toEqual([certOf(caA.cert).fingerprint256])
    // The bundle is PEM of the same CA.
    expect(new X509Certificate(m.caBundle!).fingerprint256).toBe(certOf(caA.cert).fingerprint256)
  })

  it('reports a missing file as file-unusable, naming it', async () => {
    const missing = join(tempDir(), 'nope.key')
    const m = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-key-file': missing}))
    expect(m.problems).toHaveLength(1)
    expect(m.problems[0]!.code).toBe('file-unusable')
    expect(m.problems[0]!.message).toContain(missing)
    expect(m.problems[0]!.message).toContain('no such file')
    expect(m.reads['tls-key-file']).toEqual({problem: m.problems[0]})
    expect(m.reads['tls-cert-file']).toHaveProperty('data')
  })

  it('reports an empty file as file-unusable', async () => {
    const empty = join(tempDir(), 'empty.crt')
    writeFileSync(empty, '')
    const m = await readLocalMaterial(config({'tls-cert-file': empty}))
    expect(m.problems.map((p) => p.code)).toEqual(['file-unusable'])
    expect(m.problems[0]!.message).toMatch(/empty/)
  })

  it('reads a CA folder as OpenSSL does: the certificates under their hashed names, not subfolders', async () => {
    const dir = join(tempDir(), 'cas')
    mkdirSync(join(dir, 'sub'), {recursive: true})
    copyFileSync(caA.cert, join(dir, 'a.pem'))
    copyFileSync(caB.cert, join(dir, 'sub', 'b.pem')) // not read: OpenSSL does not descend either
    execFileSync('openssl', ['rehash', dir]) // HASH.0 -> a.pem
    const m = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-ca-cert-dir': dir}))
    expect(m.problems).toEqual([])
    expect(m.notes).toEqual([]) // a.pem is what its HASH.0 link leads to
    expect(fingerprints(m.caCerts)).toEqual([certOf(caA.cert).fingerprint256])
    expect(m.caBundle).toBeDefined()
    expect(m.reads).not.toHaveProperty('tls-ca-cert-dir') // a folder is not read as a file
  })

  it('does not count a CA the folder was not rehashed for (the node does not find it either), and says to rehash', async () => {
    const dir = join(tempDir(), 'not-rehashed')
    mkdirSync(dir)
    copyFileSync(caA.cert, join(dir, 'a.pem'))
    execFileSync('openssl', ['rehash', dir])
    copyFileSync(caB.cert, join(dir, 'b-added-later.pem'))
    writeFileSync(join(dir, 'README'), 'not a certificate\n')
    const m = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-ca-cert-dir': dir}))
    expect(fingerprints(m.caCerts)).toEqual([certOf(caA.cert).fingerprint256])
    expect(m.problems).toEqual([])
    expect(m.notes).toEqual([`tls-ca-cert-dir ${dir}: README, b-added-later.pem are not under a name openssl rehash gives (HASH.0): the node's OpenSSL does not look them up, and neither does this check (openssl rehash ${dir})`])
  })

  it('follows a symbolic link in a CA folder (c_rehash makes those)', async () => {
    const dir = join(tempDir(), 'hashed')
    mkdirSync(dir)
    symlinkSync(caB.cert, join(dir, 'abcd1234.0'))
    const m = await readLocalMaterial(config({'tls-ca-cert-dir': dir}))
    expect(fingerprints(m.caCerts)).toEqual([certOf(caB.cert).fingerprint256])
  })

  it('puts the CA file first, then the folder, and keeps the file\'s certificates apart', async () => {
    const root = tempDir()
    const dir = join(root, 'cas')
    mkdirSync(dir)
    copyFileSync(caB.cert, join(dir, 'b.pem'))
    execFileSync('openssl', ['rehash', dir])
    const file = join(root, 'bundle.pem')
    writeFileSync(file, readFileSync(caA.cert, 'utf8') + readFileSync(caB.cert, 'utf8'))
    const m = await readLocalMaterial(config({'tls-ca-cert-file': file, 'tls-ca-cert-dir': dir}))
    const [a, b] = [certOf(caA.cert).fingerprint256, certOf(caB.cert).fingerprint256]
    expect(fingerprints(m.caCerts)).toEqual([a, b, b])
    expect(m.caBundle!.toString().match(/BEGIN CERTIFICATE/g)).toHaveLength(3)
  })

  it('reports a CA file that holds no certificate as ca-unusable, with no CAs', async () => {
    const garbage = join(tempDir(), 'ca.pem')
    writeFileSync(garbage, 'this is not a certificate at all\n')
    const m = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-ca-cert-file': garbage}))
    expect(m.problems.map((p) => p.code)).toEqual(['ca-unusable'])
    expect(m.problems[0]!.message).toContain(garbage)
    expect(m.caCerts).toEqual([])
    expect(m.caBundle).toBeUndefined()
  })

  it('reports a CA file holding a private key as ca-unusable', async () => {
    const m = await readLocalMaterial(config({'tls-ca-cert-file': server.key}))
    expect(m.problems.map((p) => p.code)).toEqual(['ca-unusable'])
    expect(m.problems[0]!.message).toMatch(/private key/)
  })

  it('reports a missing CA folder as file-unusable', async () => {
    const missing = join(tempDir(), 'no-such-dir')
    const m = await readLocalMaterial(config({'tls-ca-cert-dir': missing}))
    expect(m.problems).toEqual([{code: 'file-unusable', message: `cannot read tls-ca-cert-dir ${missing}: no such directory`}])
  })

  describe.skipIf(isRoot)('files this user may not read (not as root: root reads everything)', () => {
    it('notes an unreadable key (the server may still read it) instead of a problem', async () => {
      const dir = tempDir()
      const key = join(dir, 'server.key')
      copyFileSync(server.key, key)
      chmodSync(key, 0o000)
      const m = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-key-file': key}))
      expect(m.problems).toEqual([])
      expect(m.reads['tls-key-file']).toEqual({unreadable: `tls-key-file ${key}: permission denied here`})
      expect(m.notes).toEqual([`tls-key-file ${key}: permission denied here: not checked here (the server checks it when loading)`])
    })

    it('leaves an unreadable tls-cert-file to assessNode (no note), and notes an unreadable CA folder', async () => {
      const dir = tempDir()
      const cert = join(dir, 'server.crt')
      copyFileSync(server.cert, cert)
      chmodSync(cert, 0o000)
      const cas = join(dir, 'cas')
      mkdirSync(cas, {mode: 0o000})
      const m = await readLocalMaterial(config({'tls-cert-file': cert, 'tls-ca-cert-dir': cas}))
      expect(m.problems).toEqual([])
      expect(m.reads['tls-cert-file']).toHaveProperty('unreadable')
      expect(m.notes).toEqual([`tls-ca-cert-dir ${cas}: permission denied here: not checked`])
    })
  })
})

describe('serverPath', () => {
  it('keeps an absolute path, whatever the node\'s dir', () => {
    expect(serverPath(config({}, {dir: '/var/lib/valkey'}), '/etc/valkey/server.crt')).toBe('/etc/valkey/server.crt')
    expect(serverPath(config({}), '/etc/valkey/server.crt')).toBe('/etc/valkey/server.crt')
  })

  it('resolves a relative path against the node\'s dir, as the server does', () => {
    expect(serverPath(config({}, {dir: '/var/lib/valkey'}), 'tls/server.crt')).toBe('/var/lib/valkey/tls/server.crt')
    expect(serverPath(config({}, {dir: '/var/lib/valkey'}), './server.crt')).toBe('/var/lib/valkey/server.crt')
    expect(serverPath(config({}, {dir: '/var/lib/valkey/'}), '../certs/server.crt')).toBe('/var/lib/certs/server.crt')
  })

  it('cannot place a relative path without the node\'s dir (never against this tool\'s folder)', () => {
    expect(serverPath(config({}), 'server.crt')).toBeUndefined()
    expect(serverPath(config({}, {dir: undefined}), './tls/server.crt')).toBeUndefined()
  })
})

describe('readLocalMaterial: relative paths', () => {
  /** The node's dir holding its files, and a working folder holding other files under the same names. */
  function twoFolders() {
    const serverDir = tempDir()
    const cwd = tempDir()
    mkdirSync(join(serverDir, 'tls'))
    copyFileSync(server.cert, join(serverDir, 'tls', 'server.crt'))
    copyFileSync(server.key, join(serverDir, 'tls', 'server.key'))
    copyFileSync(caA.cert, join(serverDir, 'tls', 'ca.crt'))
    mkdirSync(join(serverDir, 'cas'))
    copyFileSync(caB.cert, join(serverDir, 'cas', 'b.pem'))
    execFileSync('openssl', ['rehash', join(serverDir, 'cas')])
    mkdirSync(join(cwd, 'tls'))
    copyFileSync(other.cert, join(cwd, 'tls', 'server.crt'))
    copyFileSync(other.key, join(cwd, 'tls', 'server.key'))
    copyFileSync(caB.cert, join(cwd, 'tls', 'ca.crt'))
    return {serverDir, cwd}
  }
  const files: NodeTlsConfig['files'] = {'tls-cert-file': 'tls/server.crt', 'tls-key-file': 'tls/server.key', 'tls-ca-cert-file': 'tls/ca.crt', 'tls-ca-cert-dir': 'cas'}

  it('reads them from the node\'s dir, wherever this tool runs', async () => {
    const {serverDir, cwd} = twoFolders()
    const before = process.cwd()
    process.chdir(cwd)
    try {
      const m = await readLocalMaterial(config(files, {dir: serverDir}))
      expect(m.problems).toEqual([])
      expect(m.notes).toEqual([])
      const cert = m.reads['tls-cert-file']
      expect(cert && 'data' in cert && cert.data.equals(readFileSync(server.cert))).toBe(true)
      const key = m.reads['tls-key-file']
      expect(key && 'data' in key && key.data.equals(readFileSync(server.key))).toBe(true)
      expect(fingerprints(m.caCerts)).toEqual([certOf(caA.cert).fingerprint256, certOf(caB.cert).fingerprint256])
      // Here, the same names are other files: they were not the ones read.
      expect(resolve('tls/server.crt')).toBe(join(cwd, 'tls', 'server.crt'))
    } finally {
      process.chdir(before)
    }
  })

  it('says a relative file cannot be found without the node\'s dir, instead of reading this tool\'s folder', async () => {
    const {cwd} = twoFolders()
    const before = process.cwd()
    process.chdir(cwd)
    try {
      const m = await readLocalMaterial(config({'tls-cert-file': 'tls/server.crt', 'tls-key-file': 'tls/server.key', 'tls-ca-cert-file': 'tls/ca.crt'}))
      expect(m.problems).toEqual([])
      expect(m.reads['tls-cert-file']).toEqual({unreadable: 'tls-cert-file tls/server.crt is relative to the node\'s dir, which it did not report'})
      expect(m.caCerts).toEqual([])
      expect(m.caBundle).toBeUndefined()
      // tls-cert-file is left to assessNode; the others are noted.
      expect(m.notes).toEqual([
        'tls-key-file tls/server.key is relative to the node\'s dir, which it did not report: not checked here (the server checks it when loading)',
        'tls-ca-cert-file tls/ca.crt is relative to the node\'s dir, which it did not report: not checked here (the server checks it when loading)',
      ])
    } finally {
      process.chdir(before)
    }
  })

  it('reports a relative file missing from the node\'s dir under the path the server would use', async () => {
    const serverDir = tempDir()
    const m = await readLocalMaterial(config({'tls-cert-file': 'server.crt'}, {dir: serverDir}))
    expect(m.problems.map((p) => p.code)).toEqual(['file-unusable'])
    expect(m.problems[0]!.message).toContain(join(serverDir, 'server.crt'))
  })
})

describe('identityOf', () => {
  it('gives the server or the client certificate file with its key and passphrase', async () => {
    const m = await readLocalMaterial(config({
      'tls-cert-file': server.cert, 'tls-key-file': server.key, 'tls-client-cert-file': other.cert, 'tls-client-key-file': other.key,
    }))
    const cfg = config({}, {keyPassphrase: 'server-pass', clientKeyPassphrase: 'client-pass'})
    const s = identityOf(cfg, m, 'server')
    expect(s?.cert.equals(readFileSync(server.cert))).toBe(true)
    expect(s?.key.equals(readFileSync(server.key))).toBe(true)
    expect(s?.passphrase).toBe('server-pass')
    const c = identityOf(cfg, m, 'client')
    expect(c?.cert.equals(readFileSync(other.cert))).toBe(true)
    expect(c?.key.equals(readFileSync(other.key))).toBe(true)
    expect(c?.passphrase).toBe('client-pass')
  })

  it('gives nothing when the certificate or the key was not read', async () => {
    const noKey = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-key-file': join(tempDir(), 'missing.key')}))
    expect(identityOf(config({}), noKey, 'server')).toBeUndefined()
    const noCert = await readLocalMaterial(config({'tls-key-file': server.key}))
    expect(identityOf(config({}), noCert, 'server')).toBeUndefined()
    // No client certificate configured.
    const serverOnly = await readLocalMaterial(config({'tls-cert-file': server.cert, 'tls-key-file': server.key}))
    expect(identityOf(config({}), serverOnly, 'client')).toBeUndefined()
  })
})
