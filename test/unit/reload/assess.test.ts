import type {X509Certificate} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, copyFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {type AssessInput, assessNode, type Peer} from '../../../src/reload/assess.js'
import {type NodeTlsConfig, normalizeSerial, parseTlsConfig} from '../../../src/reload/config.js'
import {type LocalMaterial, readLocalMaterial} from '../../../src/reload/material.js'
import {
  bundle, type Ca, certOf, encryptKey, issueCert, type KeyPair, makeCa, makeExpiredCert, makeNotYetValidCert, servedOf, toDer,
} from './certs.js'

/**
 * One PKI for the whole file: CA "A" (the node's), CA "B" (someone else's), and certificates of both.
 * Each scenario is real files read by readLocalMaterial, as reload reads them.
 */
let dir: string
let caA: Ca
let caB: Ca
let caLong: Ca // CA file of two CAs: this one expires last...
let caShort: Ca // ...and this one first (INFO tls reports it)
const c = {} as Record<'old' | 'fresh' | 'other' | 'expired' | 'notYet' | 'short' | 'fromB' | 'client' | 'client2' | 'clientB' | 'peer' | 'peerB', KeyPair>
let encryptedKey: string
let derCert: string
let caFileTwo: string
let caDirAB: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vtls-assess-'))
  ;[caA, caB, caLong, caShort] = await Promise.all([
    makeCa(dir, {name: 'caA'}), makeCa(dir, {name: 'caB'}), makeCa(dir, {name: 'caLong', days: 3650}), makeCa(dir, {name: 'caShort', days: 100}),
  ])
  const soon = new Date(Date.now() + 5 * 86_400_000 + 3_600_000) // 5 days and an hour left
  await Promise.all([
    issueCert(caA, dir, 'old', {cn: 'localhost'}).then((k) => { c.old = k }),
    issueCert(caA, dir, 'fresh', {cn: 'localhost'}).then((k) => { c.fresh = k }),
    issueCert(caA, dir, 'other', {cn: 'localhost'}).then((k) => { c.other = k }),
    makeExpiredCert(caA, dir, 'expired', {cn: 'localhost'}).then((k) => { c.expired = k }),
    makeNotYetValidCert(caA, dir, 'notYet', {cn: 'localhost'}).then((k) => { c.notYet = k }),
    issueCert(caA, dir, 'short', {cn: 'localhost', notBefore: new Date(Date.now() - 86_400_000), notAfter: soon}).then((k) => { c.short = k }),
    issueCert(caB, dir, 'fromB', {cn: 'localhost'}).then((k) => { c.fromB = k }),
    issueCert(caA, dir, 'client', {usage: 'client'}).then((k) => { c.client = k }),
    issueCert(caA, dir, 'client2', {usage: 'client'}).then((k) => { c.client2 = k }),
    issueCert(caB, dir, 'clientB', {usage: 'client'}).then((k) => { c.clientB = k }),
    issueCert(caA, dir, 'peer', {cn: 'peer'}).then((k) => { c.peer = k }),
    issueCert(caB, dir, 'peerB', {cn: 'peerB'}).then((k) => { c.peerB = k }),
  ])
  encryptedKey = await encryptKey(c.fresh.key, join(dir, 'fresh.enc.key'), 'secret')
  derCert = await toDer(c.fresh.cert, join(dir, 'fresh.der'))
  caFileTwo = await bundle(join(dir, 'two-cas.pem'), caLong.cert, caShort.cert) // the first to expire is second in the file
  caDirAB = join(dir, 'cas-ab')
  mkdirSync(caDirAB)
  copyFileSync(caA.cert, join(caDirAB, 'a.pem'))
  copyFileSync(caB.cert, join(caDirAB, 'b.pem'))
  return () => rmSync(dir, {recursive: true, force: true})
})

interface Scenario {
  /** What the node serves now (null: nothing). */
  served: KeyPair | null
  cert?: string
  key?: string
  ca?: string
  caDir?: string
  clientCert?: string
  clientKey?: string
  keyPassphrase?: string
  tlsCluster?: boolean
  autoReloadInterval?: number | null
  loaded?: NodeTlsConfig['loaded']
  peers?: Peer[]
  minDays?: number
  force?: boolean
}

const ADDRESS = '10.0.0.1:6379'

async function input(s: Scenario): Promise<AssessInput> {
  const files: NodeTlsConfig['files'] = {}
  if (s.cert) files['tls-cert-file'] = s.cert
  if (s.key) files['tls-key-file'] = s.key
  if (s.ca) files['tls-ca-cert-file'] = s.ca
  if (s.caDir) files['tls-ca-cert-dir'] = s.caDir
  if (s.clientCert) files['tls-client-cert-file'] = s.clientCert
  if (s.clientKey) files['tls-client-key-file'] = s.clientKey
  const config: NodeTlsConfig = {
    files, keyPassphrase: s.keyPassphrase, tlsCluster: s.tlsCluster ?? false, autoReloadInterval: s.autoReloadInterval ?? null, loaded: s.loaded ?? {},
  }
  const servedChain = s.served ? [certOf(s.served.cert)] : []
  return {
    node: {address: ADDRESS, config, served: s.served ? servedOf(servedChain[0]!) : null, servedChain},
    material: await readLocalMaterial(config),
    peers: s.peers ?? [],
    minDays: s.minDays ?? 0,
    force: s.force ?? false,
  }
}

const assess = async (s: Scenario) => assessNode(await input(s))
const codes = (a: {problems: Array<{code: string}>}) => a.problems.map((p) => p.code)
/** The node serves `old`; its files now hold `kp` (with kp's key unless given), CA A trusted. */
const renewedTo = (kp: KeyPair, extra: Partial<Scenario> = {}): Scenario => ({served: c.old, cert: kp.cert, key: kp.key, ca: caA.cert, ...extra})

describe('assessNode: served versus disk', () => {
  it('leaves a node alone that already serves the certificate on disk', async () => {
    const a = await assess({served: c.fresh, cert: c.fresh.cert, key: c.fresh.key, ca: caA.cert})
    expect(a.decision).toBe('unchanged')
    expect(a.problems).toEqual([])
    expect(a.onDisk?.fingerprint256).toBe(certOf(c.fresh.cert).fingerprint256)
  })

  it('reloads a node whose tls-cert-file holds a new, valid certificate', async () => {
    const a = await assess(renewedTo(c.fresh))
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
    expect(a.reason).toBe('tls-cert-file holds a different certificate than the one served')
    expect(a.onDisk?.fingerprint256).toBe(certOf(c.fresh.cert).fingerprint256)
    expect(a.onDisk?.fingerprint256).not.toBe(certOf(c.old.cert).fingerprint256)
  })

  it('reloads a node that served no certificate', async () => {
    const a = await assess({...renewedTo(c.fresh), served: null})
    expect(a.decision).toBe('reload')
    expect(a.reason).toBe('the node served no certificate')
  })

  it('reloads an unchanged node with --force, still validating it', async () => {
    const forced = await assess({served: c.fresh, cert: c.fresh.cert, key: c.fresh.key, ca: caA.cert, force: true})
    expect(forced.decision).toBe('reload')
    expect(forced.reason).toBe('--force')
    // --force skips the comparison, not the checks: a served certificate that is too short-lived is refused.
    const refused = await assess({served: c.short, cert: c.short.cert, key: c.short.key, ca: caA.cert, minDays: 30, force: true})
    expect(refused.decision).toBe('refused')
    expect(codes(refused)).toEqual(['expires-soon'])
  })
})

describe('assessNode: a changed certificate is refused unless it passes every check', () => {
  it('refuses an expired certificate', async () => {
    const a = await assess(renewedTo(c.expired))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['expired'])
    expect(a.reason).toContain(c.expired.cert)
  })

  it('refuses a certificate not valid yet', async () => {
    const a = await assess(renewedTo(c.notYet))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['not-yet-valid'])
  })

  it('refuses a certificate expiring within --min-days, and accepts it with fewer days', async () => {
    const within = await assess(renewedTo(c.short, {minDays: 10}))
    expect(within.decision).toBe('refused')
    expect(codes(within)).toEqual(['expires-soon'])
    expect(within.reason).toContain('--min-days 10')
    const enough = await assess(renewedTo(c.short, {minDays: 5}))
    expect(enough.decision).toBe('reload')
  })

  it('refuses a certificate whose key file holds another key', async () => {
    const a = await assess(renewedTo(c.fresh, {key: c.other.key}))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['key-mismatch'])
  })

  it('refuses an encrypted key without a passphrase, and with a wrong one', async () => {
    const none = await assess(renewedTo(c.fresh, {key: encryptedKey}))
    expect(none.decision).toBe('refused')
    expect(codes(none)).toEqual(['key-encrypted'])
    const wrong = await assess(renewedTo(c.fresh, {key: encryptedKey, keyPassphrase: 'not-the-secret'}))
    expect(wrong.decision).toBe('refused')
    expect(codes(wrong)).toEqual(['key-unreadable'])
    expect(wrong.reason).not.toContain('not-the-secret') // never shown
  })

  it('reloads an encrypted key opened with tls-key-file-pass', async () => {
    const a = await assess(renewedTo(c.fresh, {key: encryptedKey, keyPassphrase: 'secret'}))
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
  })

  it('refuses a certificate the node\'s own CAs do not trust', async () => {
    const a = await assess(renewedTo(c.fromB))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['untrusted'])
    // Trusted through tls-ca-cert-dir instead: fine.
    expect((await assess(renewedTo(c.fromB, {ca: undefined, caDir: caDirAB}))).decision).toBe('reload')
  })

  it('refuses a tls-cert-file that is not PEM (DER), which the server would not load', async () => {
    const a = await assess(renewedTo(c.fresh, {cert: derCert}))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['cert-unusable'])
    expect(a.reason).toContain('not PEM')
    expect(a.onDisk).toBeNull()
  })

  it('counts further problems in the reason', async () => {
    const a = await assess(renewedTo(c.expired, {key: c.other.key}))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['expired', 'key-mismatch'])
    expect(a.reason).toMatch(/\(and 1 more\)$/)
  })

  it('refuses when a file the server re-reads is missing', async () => {
    const a = await assess(renewedTo(c.fresh, {key: join(dir, 'missing.key')}))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toContain('file-unusable')
  })
})

describe('assessNode: unchanged, but the files on disk are broken', () => {
  it('refuses when the key file no longer matches the served certificate: the next reload or restart would fail', async () => {
    const a = await assess({served: c.fresh, cert: c.fresh.cert, key: c.other.key, ca: caA.cert})
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['key-mismatch'])
    expect(a.reason).toMatch(/^the certificate is unchanged, but .*: the next reload or restart would fail$/)
  })

  it('refuses when the CA file became garbage', async () => {
    const a = await assess({served: c.fresh, cert: c.fresh.cert, key: c.fresh.key, ca: c.fresh.key})
    expect(a.decision).toBe('refused')
    expect(codes(a)).toContain('ca-unusable')
    expect(a.reason).toMatch(/the next reload or restart would fail$/)
  })

  it('warns about a served certificate that expires soon (renewing it is the fix, not refusing)', async () => {
    const a = await assess({served: c.short, cert: c.short.cert, key: c.short.key, ca: caA.cert, minDays: 30})
    expect(a.decision).toBe('unchanged')
    expect(a.problems).toEqual([])
    expect(a.warnings).toHaveLength(1)
    expect(a.warnings![0]).toMatch(/within --min-days 30, and it is the certificate being served: renew it$/)
  })
})

describe('assessNode: files that cannot be read here', () => {
  it('reloads with a note when the material is unreadable as a whole, without an onDisk certificate', async () => {
    const base = await input(renewedTo(c.fresh))
    const a = assessNode({...base, material: {unreadable: '10.0.0.1 is not this machine'}})
    expect(a.decision).toBe('reload')
    expect(a.onDisk).toBeNull()
    expect(a.problems).toEqual([])
    expect(a.notes).toEqual(['10.0.0.1 is not this machine: nothing validated here; relying on the server\'s own checks and the handshake after reloading'])
  })

  it('reloads with a note when tls-cert-file alone cannot be read', async () => {
    const base = await input(renewedTo(c.fresh))
    const material: LocalMaterial = {reads: {'tls-cert-file': {unreadable: 'tls-cert-file /x: permission denied here'}}, caCerts: [], problems: [], notes: []}
    const a = assessNode({...base, material})
    expect(a.decision).toBe('reload')
    expect(a.notes[0]).toMatch(/^tls-cert-file \/x: permission denied here: nothing validated here/)
  })

  it('reloads with a note when the node has no tls-cert-file', async () => {
    const a = await assess({served: c.old})
    expect(a.decision).toBe('reload')
    expect(a.notes[0]).toMatch(/^the node has no tls-cert-file: nothing validated here/)
  })

  it('notes that the chain is not checked when the node has no CA here', async () => {
    const a = await assess(renewedTo(c.fromB, {ca: undefined}))
    expect(a.decision).toBe('reload')
    expect(a.notes.some((n) => n.includes('chain not checked'))).toBe(true)
  })
})

describe('assessNode: tls-auto-reload-interval', () => {
  it('notes a node that also reloads by itself', async () => {
    const a = await assess({served: c.fresh, cert: c.fresh.cert, key: c.fresh.key, ca: caA.cert, autoReloadInterval: 3600})
    expect(a.decision).toBe('unchanged')
    expect(a.notes).toContain('the node also re-reads its TLS files by itself every 3600 s (tls-auto-reload-interval)')
    // Also when the files cannot be read here.
    const base = await input(renewedTo(c.fresh, {autoReloadInterval: 60}))
    expect(assessNode({...base, material: {unreadable: 'not here'}}).notes.some((n) => n.includes('every 60 s'))).toBe(true)
  })

  it('says nothing when it is off (0) or unknown (null)', async () => {
    for (const interval of [0, null]) {
      const a = await assess({served: c.fresh, cert: c.fresh.cert, key: c.fresh.key, ca: caA.cert, autoReloadInterval: interval})
      expect(a.notes.filter((n) => n.includes('tls-auto-reload-interval'))).toEqual([])
    }
  })
})

describe('assessNode: what INFO tls says is loaded (client certificate, CA file)', () => {
  const serial = (path: string) => certOf(path).serialNumber
  /** INFO tls as the server prints it (BN_bn2hex: upper case), here lower-cased with a leading zero to check normalization. */
  const loadedFromInfo = (client?: string, ca?: string) =>
    parseTlsConfig([], `# TLS\r\n${client ? `tls_client_cert_serial:0${client.toLowerCase()}\r\n` : ''}${ca ? `tls_ca_cert_serial:${ca}\r\n` : ''}`).loaded
  const sameServer = (extra: Partial<Scenario>): Scenario => ({served: c.fresh, cert: c.fresh.cert, key: c.fresh.key, ca: caA.cert, ...extra})

  it('leaves the node alone when the loaded client certificate is the one on disk', async () => {
    const a = await assess(sameServer({clientCert: c.client.cert, clientKey: c.client.key, loaded: loadedFromInfo(serial(c.client.cert))}))
    expect(a.decision).toBe('unchanged')
  })

  it('reloads when the loaded client certificate differs from tls-client-cert-file', async () => {
    const a = await assess(sameServer({clientCert: c.client.cert, clientKey: c.client.key, loaded: loadedFromInfo(serial(c.client2.cert))}))
    expect(a.decision).toBe('reload')
    expect(a.reason).toBe('tls-client-cert-file holds a different certificate than the one loaded')
  })

  it('validates a changed client certificate like the server one', async () => {
    const a = await assess(sameServer({clientCert: c.client.cert, clientKey: c.client2.key, loaded: loadedFromInfo(serial(c.client2.cert))}))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['key-mismatch'])
  })

  it('compares the loaded CA serial with the CA that expires first', async () => {
    expect(Date.parse(certOf(caShort.cert).validTo)).toBeLessThan(Date.parse(certOf(caLong.cert).validTo))
    const trustingBoth = (ca: string) => sameServer({ca: caFileTwo, caDir: caDirAB, loaded: loadedFromInfo(undefined, ca)})
    // caShort is second in the file but expires first: that is what the server reports.
    expect((await assess(trustingBoth(serial(caShort.cert)))).decision).toBe('unchanged')
    const changed = await assess(trustingBoth(serial(caLong.cert)))
    expect(changed.decision).toBe('reload')
    expect(changed.reason).toBe('the CA files hold different CAs than the ones loaded')
  })

  it('compares nothing when INFO tls has no serials (older servers)', async () => {
    const a = await assess(sameServer({clientCert: c.client.cert, clientKey: c.client.key, ca: caFileTwo, caDir: caDirAB, loaded: {}}))
    expect(a.decision).toBe('unchanged')
  })

  it('normalizes the certificate side too (serial spelled differently by Node and by the server)', () => {
    const s = serial(c.client.cert)
    expect(normalizeSerial(s)).toBe(loadedFromInfo(s).clientCertSerial)
  })
})

describe('assessNode: tls-cluster peers', () => {
  const peer = (address: string, caCerts: X509Certificate[] | null, served: KeyPair): Peer => ({address, caCerts, servedChain: [certOf(served.cert)]})
  const trustsA = () => [certOf(caA.cert)]
  const trustsB = () => [certOf(caB.cert)]
  const clustered = (peers: Peer[], extra: Partial<Scenario> = {}) => renewedTo(c.fresh, {tlsCluster: true, peers, ...extra})

  it('reloads when every peer trusts the new certificate and the node trusts theirs', async () => {
    const a = await assess(clustered([peer('10.0.0.2:6379', trustsA(), c.peer), peer('10.0.0.3:6379', trustsA(), c.peer)]))
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
  })

  it('refuses a certificate a peer does not trust (peer-untrusted)', async () => {
    const a = await assess(clustered([peer('10.0.0.2:6379', trustsA(), c.peer), peer('10.0.0.3:6379', trustsB(), c.peer)]))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['peer-untrusted'])
    expect(a.problems[0]!.message).toContain('10.0.0.3:6379')
    expect(a.problems[0]!.message).not.toContain('10.0.0.2:6379')
  })

  it('refuses a client certificate a peer does not trust', async () => {
    // The node trusts A and B; the peer only A; the server certificate is A's, the client certificate B's.
    const a = await assess(clustered([peer('10.0.0.2:6379', trustsA(), c.peer)], {ca: undefined, caDir: caDirAB, clientCert: c.clientB.cert, clientKey: c.clientB.key}))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['peer-untrusted'])
    expect(a.problems[0]!.message).toMatch(/does not trust the new client certificate/)
  })

  it('refuses when the node\'s CAs would not trust what a peer serves (peer-rejected)', async () => {
    const a = await assess(clustered([peer('10.0.0.2:6379', trustsA(), c.peerB)]))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['peer-rejected'])
    expect(a.problems[0]!.message).toContain('10.0.0.2:6379')
  })

  it('only notes a peer whose CAs cannot be read here', async () => {
    const a = await assess(clustered([peer('10.0.0.2:6379', null, c.peer)]))
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
    expect(a.notes.some((n) => n.includes('10.0.0.2:6379') && n.includes('cannot check'))).toBe(true)
  })

  it('ignores the node itself among the peers', async () => {
    const a = await assess(clustered([peer(ADDRESS, trustsB(), c.peerB), peer('10.0.0.2:6379', trustsA(), c.peer)]))
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
  })

  it('checks no peers without tls-cluster', async () => {
    const a = await assess(clustered([peer('10.0.0.2:6379', trustsB(), c.peerB), peer('10.0.0.3:6379', null, c.peer)], {tlsCluster: false}))
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
    expect(a.notes.filter((n) => n.includes('10.0.0.'))).toEqual([])
  })
})
