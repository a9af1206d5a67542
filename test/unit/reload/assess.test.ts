import {execFileSync} from 'node:child_process'
import {mkdirSync, copyFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {type AssessInput, assessNode, dueForRenewal} from '../../../src/reload/assess.js'
import {type NodeTlsConfig, normalizeSerial, parseTlsConfig} from '../../../src/reload/config.js'
import {type LocalMaterial, readLocalMaterial} from '../../../src/reload/material.js'
import {
  bundle, type Ca, daysFromNow, encryptKey, issueCert, issueIntermediate, type KeyPair, makeCa, makeExpiredCert, makeNotYetValidCert, toDer,
} from '../../helpers/pki/openssl.js'
import {certOf, servedOf} from '../../helpers/pki/read.js'
import {makeTempDir} from '../../helpers/temp.js'

/**
 * One PKI for the whole file: CA "A" (the node's), CA "B" (someone else's), and certificates of both.
 * Each scenario is real files read by readLocalMaterial, as reload reads them. Trust (chains, purposes,
 * names, peers) is not assessNode's: it is rehearsed afterwards (test/unit/reload/rehearse.test.ts).
 */
let dir: string
let caA: Ca
let caB: Ca
let caLong: Ca // CA file of two CAs: this one expires last...
let caShort: Ca // ...and this one first (INFO tls reports it)
const c = {} as Record<'old' | 'fresh' | 'other' | 'expired' | 'notYet' | 'short' | 'fromB' | 'client' | 'client2' | 'ofInt' | 'ofStale' | 'ofLate', KeyPair>
let encryptedKey: string
let derCert: string
let caFileTwo: string
let caDirAB: string
/** CA A beside a CA that expired yesterday / that is valid from tomorrow on; a folder holding A and the expired one. */
let caWithExpired: string
let caWithNotYet: string
let caDirWithExpired: string
/** Cert files of leaves under intermediates of A: a current one, one expired yesterday, one valid from tomorrow. */
let chainOfInt: string
let chainOfStale: string
let chainOfLate: string

beforeAll(async () => {
  dir = makeTempDir('vtls-assess')
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
  ])
  const [int, stale, late, caExpired, caNotYet] = await Promise.all([
    issueIntermediate(caA, dir, 'int'),
    issueIntermediate(caA, dir, 'stale', {cn: 'assess test stale intermediate', notBefore: daysFromNow(-30), notAfter: daysFromNow(-1)}),
    issueIntermediate(caA, dir, 'late', {cn: 'assess test late intermediate', notBefore: daysFromNow(1), notAfter: daysFromNow(366)}),
    makeCa(dir, {name: 'caExpired', cn: 'reload test CA caExpired (expired)', notBefore: daysFromNow(-30), notAfter: daysFromNow(-1)}),
    makeCa(dir, {name: 'caNotYet', cn: 'reload test CA caNotYet (not yet valid)', notBefore: daysFromNow(1), notAfter: daysFromNow(366)}),
  ])
  await Promise.all([
    issueCert(int, dir, 'ofInt', {cn: 'localhost'}).then((k) => { c.ofInt = k }),
    issueCert(stale, dir, 'ofStale', {cn: 'localhost'}).then((k) => { c.ofStale = k }),
    issueCert(late, dir, 'ofLate', {cn: 'localhost'}).then((k) => { c.ofLate = k }),
  ])
  ;[chainOfInt, chainOfStale, chainOfLate, caWithExpired, caWithNotYet] = await Promise.all([
    bundle(join(dir, 'ofInt.chain.crt'), c.ofInt.cert, int.cert),
    bundle(join(dir, 'ofStale.chain.crt'), c.ofStale.cert, stale.cert),
    bundle(join(dir, 'ofLate.chain.crt'), c.ofLate.cert, late.cert),
    bundle(join(dir, 'a+expired.pem'), caA.cert, caExpired.cert),
    bundle(join(dir, 'a+not-yet.pem'), caA.cert, caNotYet.cert),
  ])
  caDirWithExpired = join(dir, 'cas-a-expired')
  mkdirSync(caDirWithExpired)
  copyFileSync(caA.cert, join(caDirWithExpired, 'a.pem'))
  copyFileSync(caExpired.cert, join(caDirWithExpired, 'expired.pem'))
  execFileSync('openssl', ['rehash', caDirWithExpired]) // the names the node's OpenSSL looks up
  encryptedKey = await encryptKey(c.fresh.key, join(dir, 'fresh.enc.key'), 'secret')
  derCert = await toDer(c.fresh.cert, join(dir, 'fresh.der'))
  caFileTwo = await bundle(join(dir, 'two-cas.pem'), caLong.cert, caShort.cert) // the first to expire is second in the file
  caDirAB = join(dir, 'cas-ab')
  mkdirSync(caDirAB)
  copyFileSync(caA.cert, join(caDirAB, 'a.pem'))
  copyFileSync(caB.cert, join(caDirAB, 'b.pem'))
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
  autoReloadInterval?: number | null
  loaded?: NodeTlsConfig['loaded']
  minDays?: number
  force?: boolean
  now?: Date
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
    files, keyPassphrase: s.keyPassphrase, tlsCluster: false, tlsReplication: false, authClients: 'yes', autoReloadInterval: s.autoReloadInterval ?? null, loaded: s.loaded ?? {},
  }
  const servedLeaf = s.served ? certOf(s.served.cert) : undefined
  return {
    node: {address: ADDRESS, config, served: servedLeaf ? servedOf(servedLeaf) : null, servedLeafDer: servedLeaf?.raw},
    material: await readLocalMaterial(config),
    minDays: s.minDays ?? 0,
    force: s.force ?? false,
    now: s.now,
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

  it('leaves trust to the rehearsals: another CA\'s certificate passes here, and what was validated is handed on', async () => {
    const a = await assess(renewedTo(c.fromB))
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
    expect(a.validated?.server?.chain.map((x) => x.fingerprint256)).toEqual([certOf(c.fromB.cert).fingerprint256])
    expect(a.validated?.client).toBeUndefined()
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
  const unreadable = (s: Scenario, why = '10.0.0.1 is not this machine') => input(s).then((base) => assessNode({...base, material: {unreadable: why}}))
  const DAY = 86_400_000

  it('leaves a node alone whose served certificate is not due for renewal, saying why', async () => {
    const a = await unreadable(renewedTo(c.fresh))
    expect(a.decision).toBe('unchanged')
    expect(a.reason).toBe('the files cannot be read here, and the certificate served is not due for renewal')
    expect(a.onDisk).toBeNull()
    expect(a.problems).toEqual([])
    expect(a.notes).toEqual(['10.0.0.1 is not this machine: the files could not be compared with what the node serves; not reloaded, since that certificate is not due for renewal (--force to reload anyway)'])
  })

  it('reloads when the served certificate expires within --min-days', async () => {
    const a = await unreadable({...renewedTo(c.fresh), served: c.short, minDays: 10})
    expect(a.decision).toBe('reload')
    expect(a.reason).toMatch(/^the files cannot be read here, and the certificate it serves expires on .*, within --min-days 10: reloading picks up renewed files$/)
    expect(a.onDisk).toBeNull()
    expect(a.notes).toEqual(['10.0.0.1 is not this machine: nothing validated here; relying on the server\'s own checks and the handshake after reloading'])
    // Five days left are not within --min-days 5... nor in the last third of its six days.
    expect((await unreadable({...renewedTo(c.fresh), served: c.short, minDays: 5})).decision).toBe('unchanged')
  })

  it('reloads when the served certificate is in the last third of its lifetime', async () => {
    const served = certOf(c.old.cert)
    const from = Date.parse(served.validFrom)
    const lifetime = Date.parse(served.validTo) - from
    const late = await unreadable({...renewedTo(c.fresh), now: new Date(from + lifetime * 0.7)})
    expect(late.decision).toBe('reload')
    expect(late.reason).toContain('is in the last third of its lifetime')
    const earlier = await unreadable({...renewedTo(c.fresh), now: new Date(from + lifetime * 0.6)})
    expect(earlier.decision).toBe('unchanged')
  })

  it('reloads a node that serves no certificate', async () => {
    const a = await unreadable({...renewedTo(c.fresh), served: null})
    expect(a.decision).toBe('reload')
    expect(a.reason).toBe('the files cannot be read here, and it serves no certificate: reloading picks up renewed files')
  })

  it('reloads with --force, due or not, noting that nothing was validated', async () => {
    const a = await unreadable({...renewedTo(c.fresh), force: true})
    expect(a.decision).toBe('reload')
    expect(a.reason).toBe('--force')
    expect(a.notes).toEqual(['10.0.0.1 is not this machine: nothing validated here; relying on the server\'s own checks and the handshake after reloading'])
  })

  it('applies the same rule when tls-cert-file alone cannot be read', async () => {
    const base = await input(renewedTo(c.fresh))
    const material: LocalMaterial = {reads: {'tls-cert-file': {unreadable: 'tls-cert-file /x: permission denied here'}}, caCerts: [], problems: [], notes: []}
    const notDue = assessNode({...base, material})
    expect(notDue.decision).toBe('unchanged')
    expect(notDue.notes[0]).toMatch(/^tls-cert-file \/x: permission denied here: the files could not be compared/)
    const due = assessNode({...base, material, now: new Date(Date.now() + 364 * DAY)})
    expect(due.decision).toBe('reload')
    expect(due.notes[0]).toMatch(/^tls-cert-file \/x: permission denied here: nothing validated here/)
  })

  it('applies the same rule when the node has no tls-cert-file', async () => {
    const notDue = await assess({served: c.old})
    expect(notDue.decision).toBe('unchanged')
    expect(notDue.notes[0]).toMatch(/^the node has no tls-cert-file: the files could not be compared/)
    const due = await assess({served: c.short, minDays: 30})
    expect(due.decision).toBe('reload')
    expect(due.notes[0]).toMatch(/^the node has no tls-cert-file: nothing validated here/)
  })

  it('notes that the chain is not checked when the node has no CA here', async () => {
    const a = await assess(renewedTo(c.fromB, {ca: undefined}))
    expect(a.decision).toBe('reload')
    expect(a.notes.some((n) => n.includes('chain not checked'))).toBe(true)
  })
})

describe('dueForRenewal', () => {
  // 90 days of life: the last third starts on day 60.
  const served = {notBefore: '2025-01-01T00:00:00.000Z', notAfter: '2025-04-01T00:00:00.000Z'}
  const day = (n: number) => new Date(Date.parse(served.notBefore) + n * 86_400_000)

  it('is not due in the first two thirds of the lifetime, outside --min-days', () => {
    expect(dueForRenewal(served, 0, day(0))).toBeNull()
    expect(dueForRenewal(served, 0, day(59.9))).toBeNull()
    expect(dueForRenewal(served, 30, day(59.9))).toBeNull()
  })

  it('is due from the start of the last third', () => {
    expect(dueForRenewal(served, 0, day(60))).toBe('the certificate it serves (valid 2025-01-01T00:00:00.000Z to 2025-04-01T00:00:00.000Z) is in the last third of its lifetime')
    expect(dueForRenewal(served, 0, day(89))).not.toBeNull()
  })

  it('is due when fewer than --min-days are left, which is said first', () => {
    expect(dueForRenewal(served, 31, day(59.5))).toBe('the certificate it serves expires on 2025-04-01T00:00:00.000Z, within --min-days 31')
    expect(dueForRenewal(served, 31, day(59))).toBeNull() // exactly 31 days left
    expect(dueForRenewal(served, 10, day(85))).toMatch(/within --min-days 10$/)
  })

  it('is due for an expired certificate, and when nothing is served', () => {
    expect(dueForRenewal(served, 0, day(100))).not.toBeNull()
    expect(dueForRenewal(null, 0, day(0))).toBe('it serves no certificate')
  })
})

describe('assessNode: dates of the CAs and intermediates', () => {
  it('refuses a changed node whose CA file holds an expired CA (Valkey 9.1 refuses the bundle)', async () => {
    const a = await assess(renewedTo(c.fresh, {ca: caWithExpired}))
    expect(a.decision).toBe('refused')
    expect(codes(a)).toEqual(['ca-expired'])
    expect(a.reason).toMatch(/^the node's CAs \(tls-ca-cert-file .*a\+expired\.pem\) holds a CA that expired on .* \(CN=reload test CA caExpired .*\): it verifies nothing, and Valkey with valkey#2999 refuses to load such a bundle$/)
  })

  it('refuses a CA not valid yet, and an expired CA in tls-ca-cert-dir', async () => {
    const notYet = await assess(renewedTo(c.fresh, {ca: caWithNotYet}))
    expect(notYet.decision).toBe('refused')
    expect(codes(notYet)).toEqual(['ca-not-yet-valid'])
    expect(notYet.reason).toMatch(/holds a CA not valid before .*: it verifies nothing, and Valkey with valkey#2999 refuses to load such a bundle$/)
    const inDir = await assess(renewedTo(c.fresh, {ca: undefined, caDir: caDirWithExpired}))
    expect(inDir.decision).toBe('refused')
    expect(codes(inDir)).toEqual(['ca-expired'])
    expect(inDir.reason).toContain(`tls-ca-cert-dir ${caDirWithExpired}`)
  })

  it('refuses an unchanged node whose CA files went out of date: the next reload or restart would fail', async () => {
    for (const ca of [caWithExpired, caWithNotYet]) {
      const a = await assess({served: c.fresh, cert: c.fresh.cert, key: c.fresh.key, ca})
      expect(a.decision).toBe('refused')
      expect(a.problems).toHaveLength(1)
      expect(a.reason).toMatch(/^the certificate is unchanged, but the node's CAs .* it verifies nothing, and Valkey with valkey#2999 refuses to load such a bundle: the next reload or restart would fail$/)
    }
  })

  it('accepts intermediates within their dates in the cert file', async () => {
    const a = await assess({served: c.old, cert: chainOfInt, key: c.ofInt.key, ca: caA.cert})
    expect(a.decision).toBe('reload')
    expect(a.problems).toEqual([])
    expect(a.validated?.server?.chain).toHaveLength(2)
  })

  it('refuses a cert file holding an expired intermediate, or one not valid yet', async () => {
    const stale = await assess({served: c.old, cert: chainOfStale, key: c.ofStale.key, ca: caA.cert})
    expect(stale.decision).toBe('refused')
    expect(codes(stale)).toEqual(['chain-expired'])
    expect(stale.reason).toMatch(new RegExp(`^${chainOfStale.replace(/[.+]/g, '\\$&')} holds an intermediate that expired on .* \\(CN=assess test stale intermediate\\)$`))
    const late = await assess({served: c.old, cert: chainOfLate, key: c.ofLate.key, ca: caA.cert})
    expect(late.decision).toBe('refused')
    expect(codes(late)).toEqual(['chain-not-yet-valid'])
    expect(late.reason).toContain('holds an intermediate not valid before')
  })

  it('an unchanged node serving a chain whose intermediate expired: a warning (renew it), as for an expired leaf', async () => {
    const a = await assess({served: c.ofStale, cert: chainOfStale, key: c.ofStale.key, ca: caA.cert})
    expect(a.decision).toBe('unchanged')
    expect(a.warnings?.join('\n')).toMatch(/holds an intermediate that expired on .*renew it/)
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
