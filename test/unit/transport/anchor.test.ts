import {readFileSync} from 'node:fs'

import {beforeAll, describe, expect, it} from 'vitest'

import {anchoredIn} from '../../../src/transport/anchor.js'
import {
  type Ca, issueCert, issueIntermediate, issueShape, type KeyPair, leafExtensions, makeCa, makeExpiredCert, makeLookalikeCa,
} from '../../helpers/pki/openssl.js'
import {certOf} from '../../helpers/pki/read.js'
import {makeTempDir} from '../../helpers/temp.js'

let dir: string
let root: Ca
let other: Ca
let lookalike: Ca
let int: Ca
let leaf: KeyPair
let viaInt: KeyPair
let expired: KeyPair
let fromOther: KeyPair
let fromLeaf: KeyPair
let notCaCert: string

beforeAll(async () => {
  dir = makeTempDir('vtls-anchor')
  ;[root, other] = await Promise.all([makeCa(dir, {name: 'root'}), makeCa(dir, {name: 'other'})])
  ;[lookalike, int] = await Promise.all([makeLookalikeCa(root, dir, 'lookalike'), issueIntermediate(root, dir, 'int')])
  ;[leaf, viaInt, expired, fromOther] = await Promise.all([
    issueCert(root, dir, 'leaf'), issueCert(int, dir, 'via-int'), makeExpiredCert(root, dir, 'expired', {}), issueCert(other, dir, 'from-other'),
  ])
  // A "CA" that is not one (CA:FALSE, though its key usage allows signing certificates) signing a leaf:
  // names and signatures check, only the CA flag does not.
  const notCa = await issueShape(root, dir, 'not-ca', {cn: 'not a CA', extensions: leafExtensions({keyUsage: 'critical, digitalSignature, keyCertSign'})})
  notCaCert = notCa.cert
  fromLeaf = await issueCert(notCa, dir, 'from-leaf')
})

const pem = (ca: Ca) => readFileSync(ca.cert)

describe('anchoredIn (the guard for connecting to a node serving a certificate OpenSSL refused)', () => {
  it('accepts a leaf the CA signed, through an intermediate the server sent, and an expired one', () => {
    expect(anchoredIn([certOf(leaf.cert)], pem(root))).toBe(true)
    expect(anchoredIn([certOf(viaInt.cert), certOf(int.cert)], pem(root))).toBe(true)
    expect(anchoredIn([certOf(expired.cert)], pem(root))).toBe(true)
  })

  it('refuses another CA\'s leaf, a lookalike CA, a missing intermediate, a leaf acting as CA, no CA at all', () => {
    expect(anchoredIn([certOf(fromOther.cert)], pem(root))).toBe(false)
    expect(anchoredIn([certOf(leaf.cert)], pem(lookalike))).toBe(false)
    expect(anchoredIn([certOf(viaInt.cert)], pem(root))).toBe(false)
    expect(anchoredIn([certOf(fromLeaf.cert), certOf(notCaCert)], pem(root))).toBe(false)
    expect(anchoredIn([certOf(leaf.cert)], undefined)).toBe(false)
    expect(anchoredIn([], pem(root))).toBe(false)
  })
})
