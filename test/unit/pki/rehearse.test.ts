/**
 * What OpenSSL itself decides when a certificate file is served to a verifying client or presented
 * to a verifying server, rehearsed in-process (no network). The PKI shapes are the ones a hand-built
 * chain walker used to be tested with (root -> int1 -> int2 -> deep, an impostor with the root's
 * name, a lookalike with the root's name and key identifier, a stranger), now judged by OpenSSL.
 */
import type {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {checkName, outOfDate, rehearseHandshake, rehearsePresenting, rehearseServing, type TlsIdentity} from '../../../src/pki/rehearse.js'
import {
  bundle, type Ca, daysFromNow, encryptKey, issueCert, issueIntermediate, type KeyPair, makeCa, makeExpiredCert, makeLookalikeCa, makeNotYetValidCert,
} from '../../helpers/pki/openssl.js'
import {certOf, tlsIdentity} from '../../helpers/pki/read.js'
import {makeTempDir} from '../../helpers/temp.js'

let dir: string
let root: Ca
let int1: Ca
let int2: Ca
let impostor: Ca
let lookalike: Ca
let stale: Ca // an intermediate under the root that expired yesterday
/** Leaf files: `leaf` under int1, `deep` under int2, `stranger` under the impostor. */
const k = {} as Record<'leaf' | 'deep' | 'stranger' | 'serverOnly' | 'clientOnly' | 'expired' | 'notYet' | 'ofStale' | 'named' | 'wildcard' | 'cnOnly', KeyPair>
/** Certificate files as a server loads them: the leaf, then intermediates. */
const chain = {} as Record<'leafInt1' | 'deepInt2' | 'deepBoth' | 'deepBothReversed' | 'ofStaleChain', string>
let encryptedKey: string

beforeAll(async () => {
  dir = makeTempDir('vtls-rehearse-pki')
  root = await makeCa(dir, {name: 'root', cn: 'rehearse test root'})
  ;[int1, impostor, lookalike, stale] = await Promise.all([
    issueIntermediate(root, dir, 'int1'),
    makeCa(dir, {name: 'impostor', cn: 'rehearse test root'}),
    makeLookalikeCa(root, dir, 'lookalike'),
    issueIntermediate(root, dir, 'stale', {cn: 'rehearse test stale intermediate', notBefore: daysFromNow(-30), notAfter: daysFromNow(-1)}),
  ])
  int2 = await issueIntermediate(int1, dir, 'int2')
  await Promise.all([
    issueCert(int1, dir, 'leaf', {cn: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']}).then((kp) => { k.leaf = kp }),
    issueCert(int2, dir, 'deep', {cn: 'localhost'}).then((kp) => { k.deep = kp }),
    issueCert(impostor, dir, 'stranger', {cn: 'localhost'}).then((kp) => { k.stranger = kp }),
    issueCert(root, dir, 'server-only', {cn: 'localhost', usage: 'server'}).then((kp) => { k.serverOnly = kp }),
    issueCert(root, dir, 'client-only', {cn: 'localhost', usage: 'client'}).then((kp) => { k.clientOnly = kp }),
    makeExpiredCert(root, dir, 'expired', {cn: 'localhost'}).then((kp) => { k.expired = kp }),
    makeNotYetValidCert(root, dir, 'not-yet', {cn: 'localhost'}).then((kp) => { k.notYet = kp }),
    issueCert(stale, dir, 'of-stale', {cn: 'localhost'}).then((kp) => { k.ofStale = kp }),
    issueCert(root, dir, 'named', {cn: 'valkey-1.example.com', sans: ['DNS:valkey-1.example.com', 'IP:10.0.0.5', 'IP:fd00::5']}).then((kp) => { k.named = kp }),
    issueCert(root, dir, 'wildcard', {cn: 'cache', sans: ['DNS:*.cache.example.com']}).then((kp) => { k.wildcard = kp }),
    issueCert(root, dir, 'cn-only', {cn: 'cn-only.example.com'}).then((kp) => { k.cnOnly = kp }),
  ])
  ;[chain.leafInt1, chain.deepInt2, chain.deepBoth, chain.deepBothReversed, chain.ofStaleChain] = await Promise.all([
    bundle(join(dir, 'leaf+int1.crt'), k.leaf.cert, int1.cert),
    bundle(join(dir, 'deep+int2.crt'), k.deep.cert, int2.cert),
    bundle(join(dir, 'deep+int2+int1.crt'), k.deep.cert, int2.cert, int1.cert),
    bundle(join(dir, 'deep+int1+int2.crt'), k.deep.cert, int1.cert, int2.cert),
    bundle(join(dir, 'of-stale+stale.crt'), k.ofStale.cert, stale.cert),
  ])
  encryptedKey = await encryptKey(k.leaf.key, join(dir, 'leaf.enc.key'), 'secret')
})

/** A certificate file (path) with the key of `kp`. */
const served = (certFile: string, kp: KeyPair, passphrase?: string): TlsIdentity => ({...tlsIdentity(kp, passphrase), cert: readFileSync(certFile)})
const trust = (...cas: Ca[]) => Buffer.concat(cas.map((ca) => readFileSync(ca.cert)))

describe('the test PKI', () => {
  it('is what it claims: intermediates are CAs, the impostor and the lookalike pose as the root', () => {
    const [r, i1, i2, leaf, imp, look] = [root, int1, int2, k.leaf, impostor, lookalike].map((x) => certOf(x.cert)) as X509Certificate[]
    expect(i1!.ca).toBe(true)
    expect(i2!.ca).toBe(true)
    expect(leaf!.ca).toBe(false)
    expect(imp!.subject).toBe(r!.subject)
    // The lookalike passes name and key-identifier checks: only the signature tells it from the root.
    expect(i1!.checkIssued(look!)).toBe(true)
    expect(i1!.verify(look!.publicKey)).toBe(false)
  })
})

describe('rehearseServing: clients -> a server certificate', () => {
  it('accepts a leaf whose cert file carries the intermediate up to the trusted root', async () => {
    expect(await rehearseServing(served(chain.leafInt1, k.leaf), trust(root))).toBeNull()
  })

  it('refuses a leaf without the intermediate it needs', async () => {
    // OpenSSL words it by depth: the leaf's own issuer missing, or one further up.
    expect(await rehearseServing(tlsIdentity(k.leaf), trust(root))).toBe('unable to verify the first certificate')
    expect(await rehearseServing(served(chain.deepInt2, k.deep), trust(root))).toBe('unable to get local issuer certificate') // int1 missing
  })

  it('accepts a chain through two intermediates, in either order in the cert file', async () => {
    expect(await rehearseServing(served(chain.deepBoth, k.deep), trust(root))).toBeNull()
    expect(await rehearseServing(served(chain.deepBothReversed, k.deep), trust(root))).toBeNull()
  })

  it('accepts an intermediate among the CAs only together with its root: no partial chains', async () => {
    // A chain walker that stops at the first trusted certificate would accept these; OpenSSL does not.
    expect(await rehearseServing(served(chain.leafInt1, k.leaf), trust(int1))).toBe('unable to get issuer certificate')
    expect(await rehearseServing(served(chain.deepBoth, k.deep), trust(int1))).toBe('unable to get issuer certificate')
    expect(await rehearseServing(served(chain.deepInt2, k.deep), trust(int1, root))).toBeNull() // int1 from the CA file, up to the root
  })

  it('checks signatures, not names: a CA with the root\'s name but another key is no anchor', async () => {
    expect(await rehearseServing(served(chain.leafInt1, k.leaf), trust(impostor))).not.toBeNull()
    expect(await rehearseServing(tlsIdentity(k.stranger), trust(root))).not.toBeNull()
    expect(await rehearseServing(tlsIdentity(k.stranger), trust(root, impostor))).toBeNull()
    expect(await rehearseServing(tlsIdentity(k.stranger), trust(impostor))).toBeNull()
  })

  it('refuses a lookalike CA (same name and key identifier, other key)', async () => {
    expect(await rehearseServing(served(chain.leafInt1, k.leaf), trust(lookalike))).toBe('certificate signature failure')
    expect(await rehearseServing(served(chain.leafInt1, k.leaf), trust(root, lookalike))).toBeNull()
    // OpenSSL takes the first CA of the bundle that matches by name and key identifier, and checks its
    // signature only then: a lookalike before the real root breaks the chain. A walker trying every
    // candidate would call this trusted; the server does not.
    expect(await rehearseServing(served(chain.leafInt1, k.leaf), trust(lookalike, root))).toBe('certificate signature failure')
  })

  it('refuses a client-only certificate (extendedKeyUsage clientAuth)', async () => {
    expect(await rehearseServing(tlsIdentity(k.clientOnly), trust(root))).toBe('unsupported certificate purpose')
    expect(await rehearseServing(tlsIdentity(k.serverOnly), trust(root))).toBeNull()
  })

  it('refuses certificates out of date: the leaf, or an intermediate of the cert file', async () => {
    expect(await rehearseServing(tlsIdentity(k.expired), trust(root))).toBe('certificate has expired')
    expect(await rehearseServing(tlsIdentity(k.notYet), trust(root))).toBe('certificate is not yet valid')
    expect(await rehearseServing(served(chain.ofStaleChain, k.ofStale), trust(root))).toBe('certificate has expired')
  })

  it('says which side cannot load a key that is not the certificate\'s', async () => {
    expect(await rehearseServing({...tlsIdentity(k.leaf), key: readFileSync(k.deep.key)}, trust(root)))
      .toBe('the server side cannot load its files: the private key is not the certificate\'s key')
  })

  it('opens an encrypted key with its passphrase, and says so when the passphrase is wrong', async () => {
    expect(await rehearseServing(served(chain.leafInt1, {cert: chain.leafInt1, key: encryptedKey}, 'secret'), trust(root))).toBeNull()
    const wrong = await rehearseServing(served(chain.leafInt1, {cert: chain.leafInt1, key: encryptedKey}, 'not-the-secret'), trust(root))
    expect(wrong).toBe('the server side cannot load its files: the key cannot be decrypted with its passphrase')
    expect(wrong).not.toContain('not-the-secret')
    expect(await rehearseServing(served(chain.leafInt1, {cert: chain.leafInt1, key: encryptedKey}), trust(root)))
      .toBe('the server side cannot load its files: the key cannot be decrypted with its passphrase')
  })

  it('passes on OpenSSL\'s words for a key file it cannot decode', async () => {
    expect(await rehearseServing({...tlsIdentity(k.leaf), key: Buffer.from('not a key\n')}, trust(root))).toMatch(/^the server side cannot load its files: .*(DECODER|unsupported|no start line)/i)
  })
})

describe('rehearsePresenting: a certificate presented to a server that verifies clients', () => {
  const serving = () => tlsIdentity(k.serverOnly) // what the verifying server presents (not judged here)

  it('accepts a client certificate chaining to the CA, through the intermediates of its file', async () => {
    expect(await rehearsePresenting(served(chain.leafInt1, k.leaf), trust(root), serving())).toBeNull()
    expect(await rehearsePresenting(served(chain.deepBoth, k.deep), trust(root), serving())).toBeNull()
    expect(await rehearsePresenting(tlsIdentity(k.clientOnly), trust(root), serving())).toBeNull()
  })

  it('refuses a server-only certificate (extendedKeyUsage serverAuth) as a client certificate', async () => {
    expect(await rehearsePresenting(tlsIdentity(k.serverOnly), trust(root), serving())).toBe('unsupported certificate purpose')
  })

  it('refuses what the CA does not vouch for, with OpenSSL\'s reason', async () => {
    expect(await rehearsePresenting(tlsIdentity(k.leaf), trust(root), serving())).toBe('unable to verify the first certificate')
    expect(await rehearsePresenting(served(chain.deepInt2, k.deep), trust(root), serving())).toBe('unable to get local issuer certificate')
    expect(await rehearsePresenting(served(chain.leafInt1, k.leaf), trust(int1), serving())).toBe('unable to get issuer certificate')
    expect(await rehearsePresenting(served(chain.leafInt1, k.leaf), trust(lookalike), serving())).toBe('certificate signature failure')
    expect(await rehearsePresenting(tlsIdentity(k.stranger), trust(root), serving())).not.toBeNull()
    expect(await rehearsePresenting(tlsIdentity(k.expired), trust(root), serving())).toBe('certificate has expired')
  })

  it('says the client side cannot load a key that is not its certificate\'s', async () => {
    expect(await rehearsePresenting({...tlsIdentity(k.leaf), key: readFileSync(k.deep.key)}, trust(root), serving()))
      .toBe('the client side cannot load its files: the private key is not the certificate\'s key')
  })

  it('opens an encrypted client key with its passphrase', async () => {
    expect(await rehearsePresenting(served(chain.leafInt1, {cert: chain.leafInt1, key: encryptedKey}, 'secret'), trust(root), serving())).toBeNull()
    expect(await rehearsePresenting(served(chain.leafInt1, {cert: chain.leafInt1, key: encryptedKey}, 'wrong'), trust(root), serving()))
      .toBe('the client side cannot load its files: the key cannot be decrypted with its passphrase')
  })
})

describe('rehearseHandshake', () => {
  it('reports a client that presents no certificate to a server asking for one', async () => {
    const outcome = await rehearseHandshake({server: tlsIdentity(k.serverOnly), serverTrust: trust(root)})
    expect(outcome).toEqual({error: null, serverRejected: null, clientRejected: 'no client certificate presented'})
  })

  it('judges both sides in one handshake', async () => {
    const outcome = await rehearseHandshake({server: tlsIdentity(k.clientOnly), serverTrust: trust(root), client: tlsIdentity(k.serverOnly), clientTrust: trust(root)})
    expect(outcome).toEqual({error: null, serverRejected: 'unsupported certificate purpose', clientRejected: 'unsupported certificate purpose'})
    const fine = await rehearseHandshake({server: served(chain.leafInt1, k.leaf), serverTrust: trust(root), client: served(chain.deepBoth, k.deep), clientTrust: trust(root)})
    expect(fine).toEqual({error: null, serverRejected: null, clientRejected: null})
  })

  it('verifies nothing it is not asked to', async () => {
    expect(await rehearseHandshake({server: tlsIdentity(k.stranger)})).toEqual({error: null, serverRejected: null, clientRejected: null})
  })
})

describe('checkName', () => {
  const named = () => certOf(k.named.cert)

  it('matches a DNS name of the subjectAltName, case-insensitively, and nothing else', () => {
    expect(checkName(named(), 'valkey-1.example.com')).toBeNull()
    expect(checkName(named(), 'VALKEY-1.Example.COM')).toBeNull()
    expect(checkName(named(), 'valkey-2.example.com')).toMatch(/does not name valkey-2\.example\.com \(subjectAltName DNS:valkey-1\.example\.com, IP Address:10\.0\.0\.5, IP Address:FD00:0:0:0:0:0:0:5\)$/)
  })

  it('matches IP addresses as addresses, not as text', () => {
    expect(checkName(named(), '10.0.0.5')).toBeNull()
    expect(checkName(named(), '10.0.0.6')).toMatch(/does not name 10\.0\.0\.6 \(subjectAltName /)
    expect(checkName(named(), 'fd00::5')).toBeNull()
    expect(checkName(named(), 'fd00:0:0:0:0:0:0:5')).toBeNull()
  })

  it('takes an IPv6 address in brackets, as host:port addresses write it', () => {
    expect(checkName(named(), '[fd00::5]')).toBeNull()
    expect(checkName(certOf(k.leaf.cert), '[::1]')).toBeNull()
    expect(checkName(named(), '[::1]')).toMatch(/does not name \[::1\] \(subjectAltName /)
  })

  it('matches a wildcard for one label only', () => {
    const wildcard = certOf(k.wildcard.cert)
    expect(checkName(wildcard, 'node1.cache.example.com')).toBeNull()
    expect(checkName(wildcard, 'a.node1.cache.example.com')).not.toBeNull()
    expect(checkName(wildcard, 'cache.example.com')).not.toBeNull()
  })

  it('falls back to the common name only without a subjectAltName, as OpenSSL does', () => {
    expect(checkName(certOf(k.cnOnly.cert), 'cn-only.example.com')).toBeNull()
    expect(checkName(named(), 'valkey-1.example.com')).toBeNull()
    expect(checkName(certOf(k.wildcard.cert), 'cache')).not.toBeNull() // CN "cache", but there is a subjectAltName
  })

  it('says when the certificate has no subjectAltName at all', () => {
    expect(checkName(certOf(k.cnOnly.cert), 'other.example.com')).toMatch(/does not name other\.example\.com \(no subjectAltName\)$/)
    expect(checkName(certOf(k.cnOnly.cert), '10.0.0.5')).toMatch(/does not name 10\.0\.0\.5 \(no subjectAltName\)$/)
  })
})

describe('outOfDate', () => {
  it('lists the certificates outside their dates at `now`, in order, and why', () => {
    const [valid, expired, notYet] = [k.leaf, k.expired, k.notYet].map((kp) => certOf(kp.cert)) as X509Certificate[]
    const found = outOfDate([valid!, expired!, notYet!, certOf(stale.cert)], new Date())
    expect(found.map(({cert, why}) => [cert.fingerprint256, why])).toEqual([
      [expired!.fingerprint256, 'expired'],
      [notYet!.fingerprint256, 'not-yet-valid'],
      [certOf(stale.cert).fingerprint256, 'expired'],
    ])
  })

  it('judges at the given time, both ends inclusive', () => {
    const cert = certOf(k.leaf.cert)
    const from = new Date(cert.validFrom)
    const to = new Date(cert.validTo)
    expect(outOfDate([cert], from)).toEqual([])
    expect(outOfDate([cert], to)).toEqual([])
    expect(outOfDate([cert], new Date(to.getTime() + 1000)).map((o) => o.why)).toEqual(['expired'])
    expect(outOfDate([cert], new Date(from.getTime() - 1000)).map((o) => o.why)).toEqual(['not-yet-valid'])
    expect(outOfDate([], new Date())).toEqual([])
  })
})
