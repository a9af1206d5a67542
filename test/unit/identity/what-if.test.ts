/**
 * What-if mappings (not Valkey behaviour): the names a NATS-style e-mail or subject mapping, or a mapping
 * on O or the DNS SANs, would give; the subject string cross-checked with openssl -nameopt RFC2253.
 */
import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {type CertificateIdentity, DAY, describeCertificate} from '../../../src/identity/describe.js'
import {predictOffline} from '../../../src/identity/predict.js'
import {predictWhatIf, WHAT_IF_MODES, whatIfCandidates, whatIfNames} from '../../../src/identity/what-if.js'
import {bmp, type CertSpec, cn, dns, EKU, email, makeCert, NOW, O, StringTag, uri} from '../../helpers/pki/raw.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('vtls-what-if')
const OU = '2.5.4.11'
const str = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('latin1') : b)
let count = 0

async function certAndIdentity(spec: CertSpec): Promise<{identity: CertificateIdentity; openssl: (...args: string[]) => string}> {
  const cert = await makeCert(spec)
  const file = join(dir, `w${count++}.der`)
  writeFileSync(file, Buffer.from(cert.rawData))
  const openssl = (...args: string[]) => execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', ...args], {encoding: 'latin1'}).trim()
  return {identity: describeCertificate(cert, file, NOW), openssl}
}
const identityOf = async (spec: CertSpec) => (await certAndIdentity(spec)).identity

const rich: CertSpec = {
  subject: [
    [{oid: '2.5.4.6', tag: StringTag.printable, value: 'DE'}],
    [{oid: O, value: 'acme'}, {oid: OU, value: 'ops+dev'}],
    [{oid: O, value: 'second-org'}],
    [cn('alice')],
  ],
  sans: [uri('spiffe://example/alice'), dns('alice.example'), email('alice@example.org'), dns('db.example'), email('second@example.org')],
  ekus: [EKU.clientAuth],
}

describe('whatIfCandidates', () => {
  it('gives the first e-mail SAN, the subject as openssl prints it in RFC 2253, the first O, and the DNS SANs in order', async () => {
    const {identity, openssl} = await certAndIdentity(rich)
    const whatIf = whatIfCandidates(identity)
    expect(openssl('-subject', '-nameopt', 'RFC2253')).toBe('subject=CN=alice,O=second-org,OU=ops\\+dev+O=acme,C=DE')
    expect(whatIf.dn).toBe(openssl('-subject', '-nameopt', 'RFC2253').slice('subject='.length))
    expect(openssl('-ext', 'subjectAltName')).toContain('DNS:alice.example, email:alice@example.org, DNS:db.example, email:second@example.org')
    expect(whatIf).toMatchObject({email: 'alice@example.org', o: 'acme', dns: ['alice.example', 'db.example'], problems: []})
    expect(whatIf.note).toMatch(/^not Valkey behaviour/)
  })

  it('the subject string keeps escapes and non-ASCII as openssl does, and the name looked up is its exact bytes', async () => {
    const {identity, openssl} = await certAndIdentity({subject: [[cn('#admin;é')], [{oid: O, value: ' x\\y'}]]})
    const printed = openssl('-subject', '-nameopt', 'RFC2253').slice('subject='.length)
    expect(printed).toBe('O=\\ x\\\\y,CN=\\#admin\\;\\C3\\A9')
    expect(whatIfCandidates(identity).dn).toBe(printed)
    expect(str(whatIfNames(identity, 'dn').names[0])).toBe(printed)
  })

  it('is empty for a certificate with an empty subject and no SANs', async () => {
    const whatIf = whatIfCandidates(await identityOf({subject: []}))
    expect(whatIf).toMatchObject({email: null, dn: null, o: null, dns: [], problems: []})
  })

  it('names what no ACL user can have: spaces (a DN with a space anywhere), NUL, empty', async () => {
    const whatIf = whatIfCandidates(await identityOf({
      subject: [[{oid: O, value: 'Acme Inc'}], [cn('alice')]],
      sans: [email(''), dns('ok.example'), dns('bad\0.example')],
    }))
    expect(whatIf.problems).toEqual([
      {mode: 'email', message: 'email "" can never be an ACL user: it is empty'},
      {mode: 'dn', message: 'dn "CN=alice,O=Acme Inc" can never be an ACL user: it contains a space'},
      {mode: 'o', message: 'o "Acme Inc" can never be an ACL user: it contains a space'},
      {mode: 'dns', message: 'dns "bad\\x00.example" can never be an ACL user: it contains a NUL byte'},
    ])
  })

  it('takes O as raw bytes, whatever the string type (as CN mode does)', async () => {
    const identity = await identityOf({subject: [[{oid: O, tag: StringTag.bmp, value: bmp('ab')}]]})
    expect(Buffer.from(whatIfNames(identity, 'o').names[0]!).toString('hex')).toBe('00610062')
  })
})

describe('predictWhatIf (offline --mode email|dn|o|dns)', () => {
  it.each([
    ['email', 'alice@example.org'],
    ['dn', 'CN=alice,O=second-org,OU=ops\\+dev+O=acme,C=DE'],
    ['o', 'acme'],
    ['dns', 'alice.example'],
  ] as const)('%s gives %j, labelled as not Valkey behaviour', async (mode, user) => {
    const p = predictWhatIf(await identityOf(rich), mode, NOW)
    expect(p).toMatchObject({mode, user, reasonCode: 'what-if'})
    expect(str(p.userBytes)).toBe(user)
    expect(p.reason).toMatch(/Valkey itself has no such mode$/)
  })

  it('dns tries the names in order and skips one no ACL user can have', async () => {
    const p = predictWhatIf(await identityOf({sans: [dns('has space.example'), dns('b.example'), dns('c.example')]}), 'dns', NOW)
    expect(p.user).toBe('b.example')
    expect(p.attempts.map((a) => a.name)).toEqual(['has space.example', 'b.example', 'c.example'])
    expect(p.reason).toMatch(/the first of 3 names/)
  })

  it('gives no user name when the field is missing or every name is unusable', async () => {
    const bare = await identityOf({subject: [[cn('alice')]]})
    expect(predictWhatIf(bare, 'email', NOW)).toMatchObject({user: null, userBytes: null, reasonCode: 'no-usable-field', reason: expect.stringMatching(/^the certificate has no e-mail subjectAltName: /)})
    expect(predictWhatIf(bare, 'o', NOW)).toMatchObject({user: null, reasonCode: 'no-usable-field', reason: expect.stringMatching(/no O/)})
    expect(predictWhatIf(bare, 'dns', NOW)).toMatchObject({user: null, reasonCode: 'no-usable-field'})
    expect(predictWhatIf(await identityOf({subject: []}), 'dn', NOW)).toMatchObject({user: null, reason: expect.stringMatching(/subject is empty/)})
    const spaced = predictWhatIf(await identityOf({subject: [[{oid: O, value: 'Acme'}], [cn('alice smith')]]}), 'dn', NOW)
    expect(spaced).toMatchObject({user: null, reasonCode: 'no-usable-field', reason: expect.stringMatching(/"CN=alice smith,O=Acme" contains a space$/)})
  })

  it('refuses first what the server refuses in every mode (expired, no clientAuth), as predictOffline does', async () => {
    const expired = await identityOf({...rich, notBefore: new Date(NOW.getTime() - 10 * DAY), notAfter: new Date(NOW.getTime() - DAY)})
    const serverOnly = await identityOf({...rich, ekus: [EKU.serverAuth]})
    for (const mode of WHAT_IF_MODES) {
      expect(predictWhatIf(expired, mode, NOW)).toMatchObject({mode, user: null, reasonCode: 'rejected', reason: expect.stringMatching(/expired/)})
      expect(predictWhatIf(serverOnly, mode, NOW)).toMatchObject({user: null, reasonCode: 'rejected', reason: predictOffline(serverOnly, 'CN', NOW).reason})
    }
  })

  it('never changes what Valkey\'s own modes predict', async () => {
    const identity = await identityOf(rich)
    expect(predictOffline(identity, 'CN', NOW)).toMatchObject({mode: 'CN', user: 'alice', reasonCode: 'offline'})
    expect(predictOffline(identity, 'URI', NOW)).toMatchObject({mode: 'URI', user: 'spiffe://example/alice', reasonCode: 'offline'})
  })
})
