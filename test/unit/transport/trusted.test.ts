/**
 * trustedRoot: which CA of the bundle a verified leaf's chain ends in, where names, key identifiers and signatures
 * leave OpenSSL one choice; and "not certain" (undefined: the caller reads Node's chain) wherever they do not,
 * including the shapes a review found the names-only version got wrong. The certificates are openssl's; the
 * expected CA is named by openssl's own fingerprint of its file.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {sign} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {canonicalName, readNames, trustedRoot} from '../../../src/transport/trusted.js'
import {readRawNames} from '../../../src/x509/raw-names.js'
import {type Ca, CA_EXTENSIONS, issueCert, issueIntermediate, issueShape, type KeyPair, leafExtensions, makeCa, makeLookalikeCa} from '../../helpers/pki/openssl.js'
import {certOf} from '../../helpers/pki/read.js'
import {makeTempDir} from '../../helpers/temp.js'

let dir: string
const ca: Record<string, Ca> = {}
const leaf: Record<string, KeyPair> = {}

/** openssl's SHA-256 fingerprint of a certificate file, as Node prints it. */
const fingerprint = (file: string) => execFileSync('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256'], {encoding: 'utf8'}).trim().split('=')[1]
const bundleOf = (...cas: Array<Ca | KeyPair | Buffer>) => Buffer.concat(cas.map((c) => (Buffer.isBuffer(c) ? c : readFileSync(c.cert))))
const rootOf = (kp: KeyPair, bundle: Buffer) => {
  const der = certOf(kp.cert).raw
  return trustedRoot(der, readNames(der)!, bundle)?.fingerprint256
}

beforeAll(async () => {
  dir = makeTempDir('vtls-trusted')
  const caLines = (...lines: string[]) => ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', ...lines]
  ;[ca.root, ca.twin, ca.roll, ca.rsa] = await Promise.all([
    makeCa(dir, {name: 'root', cn: 'Same Name CA'}), makeCa(dir, {name: 'twin', cn: 'Same Name CA'}), makeCa(dir, {name: 'roll', cn: 'Roll Root'}),
    issueShape('self', dir, 'rsa', {cn: 'RSA Root', extensions: CA_EXTENSIONS, keyType: 'rsa'}),
  ])
  ;[ca.int, ca.lookalike, ca.bareA, ca.bareB, ca.noSign] = await Promise.all([
    issueIntermediate(ca.root, dir, 'int'), makeLookalikeCa(ca.root, dir, 'lookalike'),
    // Two CAs of one name with no key identifiers at all.
    issueShape('self', dir, 'bare-a', {cn: 'Bare CA', extensions: caLines('subjectKeyIdentifier = none', 'authorityKeyIdentifier = none')}),
    issueShape('self', dir, 'bare-b', {cn: 'Bare CA', extensions: caLines('subjectKeyIdentifier = none', 'authorityKeyIdentifier = none')}),
    issueShape('self', dir, 'no-sign', {cn: 'No Sign CA', extensions: ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, digitalSignature', 'subjectKeyIdentifier = hash']}),
  ])
  ;[ca.intRsa, ca.rootUpper, ca.rootExpired, ca.rootReissued, ca.rollLink] = await Promise.all([
    // The intermediate's name and a key of another type, self-signed: OpenSSL skips it (it cannot have signed).
    issueShape('self', dir, 'int-rsa', {cn: ca.int.cn, extensions: CA_EXTENSIONS, keyType: 'rsa'}),
    // The root's key under its name in capitals and with two spaces: OpenSSL's name comparison takes both for one.
    issueShape('self', dir, 'root-upper', {cn: 'SAME NAME  CA', extensions: CA_EXTENSIONS, key: ca.root.key}),
    // The root's name and key, expired in 2021.
    issueShape('self', dir, 'root-expired', {cn: ca.root.cn, extensions: CA_EXTENSIONS, key: ca.root.key, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z')}),
    // The root issued again: its name and key, valid, another certificate.
    issueShape('self', dir, 'root-reissued', {cn: ca.root.cn, extensions: CA_EXTENSIONS, key: ca.root.key}),
    // A key roll-over link: Roll Root's name, a new key, signed by the old one, naming it by issuer and serial only.
    issueShape(ca.roll, dir, 'roll-link', {cn: 'Roll Root', extensions: caLines('subjectKeyIdentifier = hash', 'authorityKeyIdentifier = issuer:always')}),
  ])
  const leafOf = (issuer: Ca, name: string, override: Record<string, string | null> = {}) => issueShape(issuer, dir, name, {cn: name, extensions: leafExtensions(override)})
  ;[leaf.root, leaf.twin, leaf.viaInt, leaf.bare, leaf.noSign, leaf.upper, leaf.roll, leaf.rsa, leaf.akiIssuer] = await Promise.all([
    issueCert(ca.root, dir, 'leaf'), issueCert(ca.twin, dir, 'twin-leaf'), issueCert(ca.int, dir, 'via-int'),
    leafOf(ca.bareA, 'bare-leaf', {subjectKeyIdentifier: 'none', authorityKeyIdentifier: 'none'}), leafOf(ca.noSign, 'no-sign-leaf'),
    leafOf(ca.rootUpper, 'upper-leaf'), leafOf(ca.rollLink, 'roll-leaf'), leafOf(ca.rsa, 'rsa-leaf'),
    leafOf(ca.int, 'aki-issuer-leaf', {authorityKeyIdentifier: 'keyid:always, issuer:always'}),
  ])
}, 60_000)

describe('trustedRoot', () => {
  it('a leaf issued by a CA of the bundle: that CA, ECDSA and RSA', () => {
    expect(rootOf(leaf.root!, bundleOf(ca.root!))).toBe(fingerprint(ca.root!.cert))
    expect(rootOf(leaf.rsa!, bundleOf(ca.root!, ca.rsa!))).toBe(fingerprint(ca.rsa!.cert))
  })

  it('two CAs of one name: the one whose key identifier the leaf names, in either order', () => {
    for (const bundle of [bundleOf(ca.root!, ca.twin!), bundleOf(ca.twin!, ca.root!)]) {
      expect(rootOf(leaf.root!, bundle)).toBe(fingerprint(ca.root!.cert))
      expect(rootOf(leaf.twin!, bundle)).toBe(fingerprint(ca.twin!.cert))
    }
  })

  it('through an intermediate of the bundle, to its root', () => {
    expect(rootOf(leaf.viaInt!, bundleOf(ca.int!, ca.root!))).toBe(fingerprint(ca.root!.cert))
  })

  it('not certain: an intermediate the bundle lacks, CAs names and key identifiers do not tell apart', () => {
    expect(rootOf(leaf.viaInt!, bundleOf(ca.root!))).toBeUndefined() // the server sends it
    expect(rootOf(leaf.root!, bundleOf(ca.lookalike!, ca.root!))).toBeUndefined() // same name and key identifier
    expect(rootOf(leaf.bare!, bundleOf(ca.bareB!, ca.bareA!))).toBeUndefined() // no key identifiers
    expect(rootOf(leaf.root!, bundleOf(ca.rootExpired!, ca.root!))).toBeUndefined() // same name and key, one expired
    expect(rootOf(leaf.root!, bundleOf(ca.rootReissued!, ca.root!))).toBeUndefined() // same name and key, both valid
    expect(rootOf(leaf.upper!, bundleOf(ca.root!, ca.rootUpper!))).toBeUndefined() // names equal but for case and spaces
    expect(rootOf(leaf.root!, bundleOf(ca.rootUpper!, ca.root!))).toBeUndefined()
  })

  it('not certain: a CA of the bundle that could not have signed (signature, keyUsage, dates)', () => {
    expect(rootOf(leaf.viaInt!, bundleOf(ca.intRsa!, ca.root!))).toBeUndefined() // another key type: the server sends the real one
    expect(rootOf(leaf.root!, bundleOf(ca.lookalike!))).toBeUndefined() // the right name and key identifier, another key
    expect(rootOf(leaf.noSign!, bundleOf(ca.noSign!))).toBeUndefined()
    expect(rootOf(leaf.root!, bundleOf(ca.rootExpired!))).toBeUndefined()
    // With one of two bare CAs, the signature tells.
    expect(rootOf(leaf.bare!, bundleOf(ca.bareA!))).toBe(fingerprint(ca.bareA!.cert))
    expect(rootOf(leaf.bare!, bundleOf(ca.bareB!))).toBeUndefined()
  })

  it('not certain: an authorityKeyIdentifier naming issuer and serial, a key roll-over link that is no root', () => {
    expect(rootOf(leaf.akiIssuer!, bundleOf(ca.int!, ca.root!))).toBeUndefined()
    expect(rootOf(leaf.roll!, bundleOf(ca.roll!, ca.rollLink!))).toBeUndefined()
  })

  it('not certain: a self-signed leaf, no bundle, a bundle with trust settings (TRUSTED CERTIFICATE) or one that cannot be read', () => {
    expect(rootOf(ca.root!, bundleOf(ca.root!))).toBeUndefined()
    expect(trustedRoot(certOf(leaf.root!.cert).raw, readNames(certOf(leaf.root!.cert).raw)!, undefined)).toBeUndefined()
    const trusted = execFileSync('openssl', ['x509', '-in', ca.root!.cert, '-trustout'])
    expect(trusted.toString()).toMatch(/BEGIN TRUSTED CERTIFICATE/)
    expect(rootOf(leaf.root!, bundleOf(ca.rootReissued!, trusted))).toBeUndefined()
    expect(rootOf(leaf.root!, bundleOf(ca.rootReissued!))).toBe(fingerprint(ca.rootReissued!.cert))
    expect(rootOf(leaf.root!, bundleOf(ca.root!, Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n')))).toBeUndefined() // truncated
  })

  it('not certain: a bundle with a block OpenSSL would not read as it is, a certificate that is not DER', () => {
    const pem = readFileSync(ca.root!.cert, 'latin1')
    const lines = pem.trim().split('\n')
    const forms = {
      'text before BEGIN': `note: ${pem}`,
      'a blank line inside': [...lines.slice(0, 3), '', ...lines.slice(3)].join('\n'),
      'END on the last base64 line': `${lines.slice(0, -2).join('\n')}\n${lines.at(-2)}${lines.at(-1)}\n`,
    }
    for (const [what, text] of Object.entries(forms)) expect([what, rootOf(leaf.root!, Buffer.from(text))]).toEqual([what, undefined])
    // OpenSSL reads bytes after the certificate (its auxiliary data), and Node's fingerprint is of the certificate alone.
    const trailing = Buffer.concat([certOf(ca.root!.cert).raw, Buffer.from([0x30, 0x00])])
    expect(rootOf(leaf.root!, Buffer.from(`-----BEGIN CERTIFICATE-----\n${trailing.toString('base64')}\n-----END CERTIFICATE-----\n`))).toBeUndefined()
    // A CA whose name is not text OpenSSL can compare (invalid UTF-8 in a UTF8String) could be any: the bundle is not used.
    const garbled = resigned(ca.twin!.cert, ca.twin!.key, join(dir, 'garbled.crt'), Buffer.from('Same Name CA').toString('hex'), '0c', `${Buffer.from('Same Name C').toString('hex')}ff`)
    expect(rootOf(leaf.root!, bundleOf(ca.root!, {cert: garbled, key: ''}))).toBeUndefined()
    // The same certificate, plainly: found. CRLF line ends too.
    expect(rootOf(leaf.root!, Buffer.from(pem.replace(/\n/g, '\r\n')))).toBe(fingerprint(ca.root!.cert))
  })

  it('reads each bundle once: the same CA object for every leaf of a run', () => {
    const bundle = bundleOf(ca.root!, ca.twin!)
    const der = certOf(leaf.root!.cert).raw
    expect(trustedRoot(der, readNames(der)!, bundle)).toBe(trustedRoot(der, readNames(der)!, bundle))
  })
})

describe('canonicalName', () => {
  // OpenSSL is asked: a CA with the same key under each name verifies a leaf issued as "CN=Foo Bar" exactly when it
  // takes the two names for one.
  it('is equal for two names exactly where OpenSSL takes one for the other', async () => {
    const at = join(dir, 'canon')
    const base = await issueShape('self', at, 'base', {cn: 'Foo Bar', extensions: CA_EXTENSIONS})
    const issued = await issueShape(base, at, 'issued', {cn: 'issued', extensions: leafExtensions({authorityKeyIdentifier: null})})
    const variants = ['Foo Bar', 'FOO BAR', '  foo   bar  ', 'Foo  Bar', 'Foo\tBar', 'FooBar', 'Föo Bar', 'Foo Bar.']
    const issuer = canonicalName(readRawNames(certOf(issued.cert).raw).issuer)
    for (const [i, cn] of variants.entries()) {
      const variant = await issueShape('self', at, `variant-${i}`, {cn, extensions: CA_EXTENSIONS.filter((l) => !l.startsWith('authorityKeyIdentifier')), key: base.key})
      const verified = spawnSync('openssl', ['verify', '-CAfile', variant.cert, issued.cert], {encoding: 'utf8'}).status === 0
      expect([cn, canonicalName(readRawNames(certOf(variant.cert).raw).subject) === issuer], `openssl verify with CN=${JSON.stringify(cn)}`).toEqual([cn, verified])
    }
  }, 60_000)

  // OpenSSL turns every string type but UTF8String, BMPString and UniversalString into text one byte a character.
  it('compares string types as OpenSSL does: a PrintableString holding UTF-8 bytes is not the UTF8String', async () => {
    const at = join(dir, 'canon-types')
    const root = await makeCa(at, {name: 'root'})
    const made = await issueIntermediate(root, at, 'int', {cn: 'Inter xx'})
    // The intermediate as a UTF8String "Inter é" (the same length), and a leaf of it: the leaf's issuer is that name.
    const int = {...made, cert: resigned(made.cert, root.key, join(at, 'int-utf8.crt'), '496e746572207878', '0c', '496e74657220c3a9')}
    const issued = await issueCert(int, at, 'leaf')
    const issuer = canonicalName(readRawNames(certOf(issued.cert).raw).issuer)
    const variants: Array<[string, string]> = [['0c', '496e74657220c3a9'], ['13', '496e74657220c3a9'], ['13', '496e7465722020e9'], ['0c', '494e54455220c3a9'], ['14', '496e74657220c3a9'], ['16', '496e7465722020e9']]
    const verdicts = variants.map(([tag, value], i) => {
      const variant = resigned(int.cert, root.key, join(at, `variant-${i}.crt`), '0c08496e74657220c3a9'.slice(4), tag, value)
      const verified = spawnSync('openssl', ['verify', '-CAfile', root.cert, '-untrusted', variant, issued.cert], {encoding: 'utf8'}).status === 0
      return [tag, value, verified, canonicalName(readRawNames(certOf(variant).raw).subject) === issuer]
    })
    expect(verdicts.map(([tag, value, verified]) => [tag, value, verified, verified])).toEqual(verdicts)
    expect(verdicts.map((v) => v[2])).toEqual([true, false, true, true, false, true]) // OpenSSL's own answers, for the record
  }, 60_000)
})

/**
 * `cert` with the string value `from` (hex) in its TBSCertificate, everywhere, given the tag and bytes `tag` + `to` (same length),
 * signed again with `key`, written to `out`: a certificate OpenSSL reads, of a name its CLI cannot write.
 */
function resigned(cert: string, key: string, out: string, from: string, tag: string, to: string): string {
  const der = certOf(cert).raw
  const head = (at: number) => {
    const first = der[at + 1]!
    const size = first & 0x80 ? first & 0x7f : 0
    const length = size ? der.subarray(at + 2, at + 2 + size).reduce((n, b) => n * 256 + b, 0) : first
    return {content: at + 2 + size, end: at + 2 + size + length}
  }
  const tbs = head(head(0).content)
  const algorithm = head(tbs.end)
  const text = der.subarray(head(0).content, tbs.end).toString('hex')
  const length = (from.length / 2).toString(16).padStart(2, '0')
  const pattern = new RegExp(`(?:0c|13|14|16)${length}${from}`, 'g') // every occurrence: issuer and subject of a self-signed one
  if (!pattern.test(text)) throw new Error(`${from} not in ${cert}`)
  const patched = Buffer.from(text.replace(pattern, (match, offset: number) => (offset % 2 === 0 ? `${tag}${length}${to}` : match)), 'hex') // whole bytes only
  const signature = sign('sha256', patched, readFileSync(key))
  const wrap = (t: number, body: Buffer) => Buffer.concat([Buffer.from([t]), encodedLength(body.length), body])
  const whole = wrap(0x30, Buffer.concat([patched, der.subarray(tbs.end, algorithm.end), wrap(0x03, Buffer.concat([Buffer.from([0]), signature]))]))
  writeFileSync(out, `-----BEGIN CERTIFICATE-----\n${whole.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`)
  return out
}

function encodedLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}
