/**
 * trustedRoot: which CA of the bundle a verified leaf's chain ends in, from names and key identifiers only; and
 * "not certain" (undefined, so the caller reads Node's chain) wherever names and key identifiers cannot tell.
 * The certificates are openssl's; the expected CA is named by openssl's own fingerprint of its file.
 */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {readNames, trustedRoot} from '../../../src/transport/trusted.js'
import {type Ca, issueCert, issueIntermediate, issueShape, type KeyPair, leafExtensions, makeCa, makeLookalikeCa} from '../../helpers/pki/openssl.js'
import {certOf} from '../../helpers/pki/read.js'
import {makeTempDir} from '../../helpers/temp.js'

let dir: string
let root: Ca
let twin: Ca
let int: Ca
let lookalike: Ca
const leaves: Record<string, KeyPair> = {}
const noKeyIds: Record<string, Ca | KeyPair> = {}

/** openssl's SHA-256 fingerprint of a certificate file, as Node prints it. */
const fingerprint = (file: string) => execFileSync('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256'], {encoding: 'utf8'}).trim().split('=')[1]
const names = (kp: KeyPair) => readNames(certOf(kp.cert).raw)!
const bundleOf = (...cas: Array<Ca | KeyPair>) => Buffer.concat(cas.map((c) => readFileSync(c.cert)))

beforeAll(async () => {
  dir = makeTempDir('vtls-trusted')
  ;[root, twin] = await Promise.all([makeCa(dir, {name: 'root', cn: 'Same Name CA'}), makeCa(dir, {name: 'twin', cn: 'Same Name CA'})])
  ;[int, lookalike] = await Promise.all([issueIntermediate(root, dir, 'int'), makeLookalikeCa(root, dir, 'lookalike')])
  ;[leaves.leaf, leaves.twinLeaf, leaves.viaInt] = await Promise.all([issueCert(root, dir, 'leaf'), issueCert(twin, dir, 'twin-leaf'), issueCert(int, dir, 'via-int')])
  // Two CAs of one name without key identifiers, and a leaf without an authorityKeyIdentifier.
  const bare = ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = none', 'authorityKeyIdentifier = none']
  ;[noKeyIds.a, noKeyIds.b] = await Promise.all([
    issueShape('self', dir, 'bare-a', {cn: 'Bare CA', extensions: bare}), issueShape('self', dir, 'bare-b', {cn: 'Bare CA', extensions: bare}),
  ])
  noKeyIds.leaf = await issueShape(noKeyIds.a as Ca, dir, 'bare-leaf', {cn: 'bare leaf', extensions: leafExtensions({subjectKeyIdentifier: 'none', authorityKeyIdentifier: 'none'})})
}, 60_000)

describe('trustedRoot', () => {
  it('a leaf issued by a CA of the bundle: that CA', () => {
    expect(trustedRoot(names(leaves.leaf!), bundleOf(root))?.fingerprint256).toBe(fingerprint(root.cert))
  })

  it('two CAs of one name: the one whose key identifier the leaf names, in either order', () => {
    for (const bundle of [bundleOf(root, twin), bundleOf(twin, root)]) {
      expect(trustedRoot(names(leaves.leaf!), bundle)?.fingerprint256).toBe(fingerprint(root.cert))
      expect(trustedRoot(names(leaves.twinLeaf!), bundle)?.fingerprint256).toBe(fingerprint(twin.cert))
    }
  })

  it('through an intermediate of the bundle, to its root', () => {
    expect(trustedRoot(names(leaves.viaInt!), bundleOf(int, root))?.fingerprint256).toBe(fingerprint(root.cert))
  })

  it('not certain: an intermediate the bundle lacks (the server sends it), a look-alike CA (same name and key identifier), no key identifiers', () => {
    expect(trustedRoot(names(leaves.viaInt!), bundleOf(root))).toBeUndefined()
    expect(trustedRoot(names(leaves.leaf!), bundleOf(lookalike, root))).toBeUndefined()
    expect(trustedRoot(names(noKeyIds.leaf!), bundleOf(noKeyIds.b!, noKeyIds.a!))).toBeUndefined()
    // Told apart only by the signature: with one of them, names say nothing wrong.
    expect(trustedRoot(names(noKeyIds.leaf!), bundleOf(noKeyIds.a!))?.fingerprint256).toBe(fingerprint(noKeyIds.a!.cert))
  })

  it('a self-signed leaf is its own CA (null); no bundle, or one that cannot be read, is not certain', () => {
    expect(trustedRoot(names(root), bundleOf(root))).toBeNull()
    expect(trustedRoot(names(leaves.leaf!), undefined)).toBeUndefined()
    const junk = Buffer.concat([readFileSync(root.cert), Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n')]) // truncated
    expect(trustedRoot(names(leaves.leaf!), junk)).toBeUndefined()
    expect(trustedRoot(names(leaves.leaf!), Buffer.from(join(dir, 'nothing')))).toBeUndefined()
  })

  it('reads each bundle once: the same CA object for every leaf of a run', () => {
    const bundle = bundleOf(root, twin)
    expect(trustedRoot(names(leaves.leaf!), bundle)).toBe(trustedRoot(names(leaves.leaf!), bundle))
  })
})
