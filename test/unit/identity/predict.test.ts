import {describe, expect, it} from 'vitest'

import {type CertificateIdentity, DAY, describeCertificate} from '../../../src/identity/describe.js'
import {
  type AclUserState, type MappingMode, type ServerFacts, candidates, certificateProblems, nameKey, predictOffline, predictOnline, unusableNameReason,
} from '../../../src/identity/predict.js'
import {type CertSpec, cn, dns, EKU, email, makeCert, NOW, O, StringTag, uri, x509} from '../../helpers/pki/raw.js'

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'))
const str = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('latin1') : b)
const {digitalSignature, keyAgreement, keyEncipherment} = x509.KeyUsageFlags

const identityOf = async (spec: CertSpec): Promise<CertificateIdentity> => describeCertificate(await makeCert(spec), 'test.crt', NOW)
const subjectCns = (...cns: string[]) => cns.map((c) => [cn(c)])

const DEFAULT_OK: [string, Partial<AclUserState>] = ['default', {enabled: true, nopass: true}]
/** Server facts; users as [name (latin1 bytes), state] with enabled/nopass defaulting to true/false. */
function facts(mapping: ServerFacts['mapping'], users: Array<[string, Partial<AclUserState>]> = [], authClients: ServerFacts['authClients'] = 'yes'): ServerFacts {
  const map = new Map<string, AclUserState>()
  for (const [name, state] of [DEFAULT_OK, ...users]) map.set(nameKey(enc(name)), {enabled: true, nopass: false, ...state})
  return {mapping, authClients, server: 'Valkey 9.1.2', users: map}
}

describe('nameKey and unusableNameReason', () => {
  it('keys names by their hex bytes', () => {
    expect(nameKey(enc('alice'))).toBe('616c696365')
    expect(nameKey(new Uint8Array([0xfc, 0x6e, 0xef]))).toBe('fc6eef')
    expect(nameKey(new Uint8Array(Buffer.from('ünï', 'utf8')))).toBe('c3bc6ec3af')
  })

  it.each([
    ['', 'it is empty'],
    ['ali\0ce', 'it contains a NUL byte'],
    ['a b', 'it contains a space'],
    ['a\0 b', 'it contains a NUL byte'],
    ['alice', undefined],
    ['Ωmega', undefined],
  ])('%j: %s', (name, reason) => {
    expect(unusableNameReason(enc(name))).toBe(reason)
  })
})

describe('candidates', () => {
  it('CN mode: only the first CN, none without a CN or with an empty first CN', async () => {
    expect(candidates(await identityOf({subject: subjectCns('first', 'second')}), 'CN').names.map(str)).toEqual(['first'])
    expect(candidates(await identityOf({subject: [[{oid: O, value: 'Acme'}]]}), 'CN')).toEqual({names: [], none: 'the certificate has no CN'})
    expect(candidates(await identityOf({subject: subjectCns('', 'alice')}), 'CN')).toEqual({names: [], none: 'the first CN is empty'})
  })

  it('URI mode: URIs in order without empty or NUL ones, never the CN or other SANs', async () => {
    const id = await identityOf({sans: [dns('alice'), uri('b'), uri(''), email('alice'), uri('a\0x'), uri('a')]})
    expect(candidates(id, 'URI').names.map(str)).toEqual(['b', 'a'])
    expect(candidates(await identityOf({sans: [dns('alice')]}), 'URI')).toEqual({names: [], none: 'the certificate has no URI subjectAltName'})
    expect(candidates(await identityOf({sans: [uri(''), uri('\0')]}), 'URI').none).toBe('every URI subjectAltName is empty or contains a NUL byte')
  })
})

describe('certificateProblems', () => {
  it('finds nothing wrong with a proper client certificate', async () => {
    expect(certificateProblems(await identityOf({sans: [uri('alice')], ekus: [EKU.clientAuth], keyUsage: digitalSignature, netscape: [0x07, 0x80]}), NOW)).toEqual([])
  })

  it.each<[string, CertSpec, string]>([
    ['expired', {notBefore: new Date(NOW.getTime() - 3 * DAY), notAfter: new Date(NOW.getTime() - DAY)}, 'expired on'],
    ['not-yet-valid', {notBefore: new Date(NOW.getTime() + DAY), notAfter: new Date(NOW.getTime() + 3 * DAY)}, 'not valid before'],
    ['no-client-auth', {ekus: [EKU.serverAuth, EKU.emailProtection]}, 'extended key usage (serverAuth, emailProtection) lacks clientAuth'],
    ['no-client-auth', {ekus: [EKU.any]}, '(anyExtendedKeyUsage) lacks clientAuth'],
    ['key-usage', {keyUsage: keyEncipherment}, 'key usage (keyEncipherment) lacks digitalSignature'],
    ['netscape-cert-type', {netscape: [0x06, 0x40]}, 'lacks "SSL client"'],
    ['netscape-cert-type', {netscape: [0x00]}, 'lacks "SSL client"'],
  ])('%s is fatal (%j)', async (code, spec, message) => {
    const problems = certificateProblems(await identityOf({sans: [uri('alice')], ...spec}), NOW)
    expect(problems.map((p) => [p.code, p.fatal])).toEqual([[code, true]])
    expect(problems[0]!.message).toContain(message)
  })

  it.each<[string, CertSpec]>([
    ['clientAuth next to anyExtendedKeyUsage', {ekus: [EKU.any, EKU.clientAuth]}],
    ['keyAgreement without digitalSignature', {keyUsage: keyAgreement | keyEncipherment}],
    ['SSL client among other Netscape bits', {netscape: [0x05, 0xa0]}],
  ])('accepts %s', async (_, spec) => {
    expect(certificateProblems(await identityOf({sans: [uri('alice')], ...spec}), NOW)).toEqual([])
  })

  it('lists the non-fatal problems with their mode', async () => {
    const id = await identityOf({subject: subjectCns('a b', 'default'), sans: [uri('x y')]})
    expect(certificateProblems(id, NOW).map((p) => [p.code, p.mode, p.fatal])).toEqual([
      ['unusable-name', 'CN', false], ['unusable-name', 'URI', false], ['several-common-names', 'CN', false],
    ])
    const noNames = certificateProblems(await identityOf({subject: [[{oid: O, value: 'Acme'}]]}), NOW)
    expect(noNames.map((p) => [p.code, p.mode])).toEqual([['no-common-name', 'CN'], ['no-uri', 'URI']])
    expect(noNames[0]!.message).toBe('the certificate has no CN: CN mode logs it in as default')
  })

  it('warns about several CNs, a NUL in the CN, and CN=default', async () => {
    const several = certificateProblems(await identityOf({subject: subjectCns('alice', 'bob'), sans: [uri('alice')]}), NOW)
    expect(several).toEqual([{code: 'several-common-names', mode: 'CN', fatal: false, message: '2 CNs: the server uses only the first, "alice"'}])
    const nul = certificateProblems(await identityOf({subject: subjectCns('ali\0ce'), sans: [uri('alice')]}), NOW)
    expect(nul.map((p) => p.message)).toEqual(['CN "ali\\x00ce" can never be an ACL user: it contains a NUL byte'])
    const dflt = certificateProblems(await identityOf({subject: subjectCns('default'), sans: [uri('alice')]}), NOW)
    expect(dflt.map((p) => p.code)).toEqual(['default-user'])
  })
})

describe('predictOffline', () => {
  it('CN mode: the first CN, not checked', async () => {
    const p = predictOffline(await identityOf({subject: subjectCns('alice', 'bob')}), 'CN', NOW)
    expect(p).toMatchObject({mode: 'CN', user: 'alice', reasonCode: 'offline', attempts: [{name: 'alice', result: 'not-checked'}], warnings: []})
    expect(str(p.userBytes)).toBe('alice')
  })

  it('URI mode: the first usable URI, counting the candidates', async () => {
    const p = predictOffline(await identityOf({sans: [uri(''), uri('u1'), uri('u2')]}), 'URI', NOW)
    expect(p).toMatchObject({mode: 'URI', user: 'u1', reasonCode: 'offline'})
    expect(p.reason).toContain('(2 candidates)')
    expect(p.attempts.map((a) => a.name)).toEqual(['u1', 'u2'])
  })

  it('no usable field: default', async () => {
    const p = predictOffline(await identityOf({subject: subjectCns('alice')}), 'URI', NOW)
    expect(p).toMatchObject({user: 'default', reasonCode: 'no-usable-field', attempts: []})
    expect(str(p.userBytes)).toBe('default')
  })

  it('a refused certificate has no user', async () => {
    const p = predictOffline(await identityOf({ekus: [EKU.serverAuth]}), 'CN', NOW)
    expect(p).toMatchObject({mode: 'CN', user: null, userBytes: null, reasonCode: 'rejected'})
  })
})

describe('predictOnline', () => {
  const alice = () => identityOf({subject: subjectCns('alice'), sans: [uri('alice')]})

  it.each<MappingMode>(['CN', 'URI'])('%s mode maps to an enabled user', async (mode) => {
    const p = predictOnline(await alice(), facts(mode, [['alice', {}]]), NOW)
    expect(p).toMatchObject({mode, user: 'alice', reasonCode: 'mapped', attempts: [{name: 'alice', result: 'match'}], warnings: []})
    expect(p.reason).toBe(`${mode} "alice" names an enabled ACL user`)
    expect(str(p.userBytes)).toBe('alice')
  })

  it.each<[string, CertSpec]>([
    ['expired', {notAfter: new Date(NOW.getTime() - DAY), notBefore: new Date(NOW.getTime() - 2 * DAY)}],
    ['not yet valid', {notBefore: new Date(NOW.getTime() + DAY)}],
    ['EKU without clientAuth', {ekus: [EKU.serverAuth]}],
    ['anyExtendedKeyUsage only', {ekus: [EKU.any]}],
    ['keyUsage without digitalSignature/keyAgreement', {keyUsage: keyEncipherment}],
    ['Netscape cert type without SSL client', {netscape: [0x06, 0x40]}],
  ])('rejects a certificate: %s', async (_, spec) => {
    const p = predictOnline(await identityOf({subject: subjectCns('alice'), ...spec}), facts('CN', [['alice', {}]]), NOW)
    expect(p).toMatchObject({mode: 'CN', user: null, userBytes: null, reasonCode: 'rejected', attempts: [], warnings: []})
    expect(p.reason).toContain('the server refuses it')
  })

  it('not-requested when tls-auth-clients is no, even for a certificate it would refuse', async () => {
    const expired = await identityOf({subject: subjectCns('alice'), notAfter: new Date(NOW.getTime() - DAY), notBefore: new Date(NOW.getTime() - 2 * DAY)})
    const p = predictOnline(expired, facts('CN', [['alice', {}]], 'no'), NOW)
    expect(p).toMatchObject({mode: 'CN', user: 'default', reasonCode: 'not-requested', attempts: []})
  })

  it('unsupported when the server does not know the setting (but still refuses bad certificates)', async () => {
    const p = predictOnline(await alice(), facts(undefined, [['alice', {}]]), NOW)
    expect(p).toMatchObject({mode: null, user: 'default', reasonCode: 'unsupported'})
    expect(p.reason).toContain('Valkey 9.1.2 predates tls-auth-clients-user')
    expect(predictOnline(await identityOf({ekus: [EKU.serverAuth]}), facts(undefined), NOW).reasonCode).toBe('rejected')
  })

  it('mode-off', async () => {
    expect(predictOnline(await alice(), facts('off', [['alice', {}]]), NOW)).toMatchObject({mode: 'off', user: 'default', reasonCode: 'mode-off'})
  })

  it.each<[string, CertSpec, MappingMode]>([
    ['no CN', {subject: [[{oid: O, value: 'alice'}]], sans: [uri('alice')]}, 'CN'],
    ['an empty first CN before a real user', {subject: subjectCns('', 'alice')}, 'CN'],
    ['no URI, only a CN and DNS naming a user', {subject: subjectCns('alice'), sans: [dns('alice')]}, 'URI'],
    ['only empty or NUL URIs', {sans: [uri(''), uri('alice\0')]}, 'URI'],
  ])('no-usable-field: %s', async (_, spec, mode) => {
    const p = predictOnline(await identityOf(spec), facts(mode, [['alice', {}], ['', {}]]), NOW)
    expect(p).toMatchObject({mode, user: 'default', reasonCode: 'no-usable-field', attempts: []})
  })

  it('no-such-user, comparing raw bytes (T61 ü is not UTF-8 ü)', async () => {
    const t61 = await identityOf({subject: [[cn(new Uint8Array([0xfc, 0x6e, 0xef]), StringTag.t61)]]})
    const miss = predictOnline(t61, facts('CN', [[Buffer.from('ünï', 'utf8').toString('latin1'), {}]]), NOW)
    expect(miss).toMatchObject({user: 'default', reasonCode: 'no-such-user', attempts: [{name: '\\xfcn\\xef', result: 'no-such-user'}]})
    expect(miss.reason).toBe('no ACL user named "\\xfcn\\xef"')
    expect(predictOnline(t61, facts('CN', [['\xfcn\xef', {}]]), NOW)).toMatchObject({reasonCode: 'mapped', user: '\\xfcn\\xef'})
  })

  it('a CN with NUL is a candidate that never matches', async () => {
    const p = predictOnline(await identityOf({subject: subjectCns('ali\0ce')}), facts('CN', [['ali', {}], ['alice', {}]]), NOW)
    expect(p).toMatchObject({reasonCode: 'no-such-user', attempts: [{name: 'ali\\x00ce', result: 'no-such-user'}]})
  })

  it('user-disabled', async () => {
    const p = predictOnline(await alice(), facts('CN', [['alice', {enabled: false}]]), NOW)
    expect(p).toMatchObject({user: 'default', reasonCode: 'user-disabled', attempts: [{name: 'alice', result: 'disabled'}]})
    expect(p.reason).toBe('ACL user "alice" is disabled')
  })

  it('CN mode tries only the first CN', async () => {
    const p = predictOnline(await identityOf({subject: subjectCns('nosuch', 'alice')}), facts('CN', [['alice', {}]]), NOW)
    expect(p).toMatchObject({user: 'default', reasonCode: 'no-such-user', attempts: [{name: 'nosuch', result: 'no-such-user'}]})
  })

  it('URI mode: the first enabled user wins, missing and disabled ones are skipped', async () => {
    const id = await identityOf({subject: subjectCns('carol'), sans: [uri('nosuch'), uri(''), uri('bob'), uri('alice'), uri('carol')]})
    const p = predictOnline(id, facts('URI', [['bob', {enabled: false}], ['alice', {}], ['carol', {}]]), NOW)
    expect(p).toMatchObject({user: 'alice', reasonCode: 'mapped'})
    expect(p.attempts).toEqual([{name: 'nosuch', result: 'no-such-user'}, {name: 'bob', result: 'disabled'}, {name: 'alice', result: 'match'}])
  })

  it('URI mode: every URI missing or disabled', async () => {
    const id = await identityOf({sans: [uri('nosuch'), uri('bob'), uri('other')]})
    const disabled = predictOnline(id, facts('URI', [['bob', {enabled: false}]]), NOW)
    expect(disabled).toMatchObject({user: 'default', reasonCode: 'user-disabled'})
    expect(disabled.reason).toBe('ACL user "bob" is disabled; no ACL user for the other URIs')
    const none = predictOnline(id, facts('URI'), NOW)
    expect(none).toMatchObject({reasonCode: 'no-such-user', reason: 'no ACL user named "nosuch", "bob", "other"'})
    expect(none.attempts).toHaveLength(3)
  })

  describe('warnings', () => {
    it('CN=default mapped logs in without the default password', async () => {
      const p = predictOnline(await identityOf({subject: subjectCns('default')}), facts('CN', [['default', {nopass: false}]]), NOW)
      expect(p).toMatchObject({user: 'default', reasonCode: 'mapped'})
      expect(p.warnings).toEqual(['the certificate logs in as "default" without the default user\'s password'])
    })

    it('falling back to a disabled default user', async () => {
      const p = predictOnline(await identityOf({subject: subjectCns('nosuch')}), facts('CN', [['default', {enabled: false}]]), NOW)
      expect(p.warnings).toEqual(['the default user is disabled: the client gets NOAUTH until it AUTHs'])
    })

    it('falling back to a default user with a password (also when not requested)', async () => {
      const users: Array<[string, Partial<AclUserState>]> = [['default', {nopass: false}]]
      const expected = ['the default user has a password: the client must AUTH before any command']
      expect(predictOnline(await identityOf({subject: subjectCns('nosuch')}), facts('CN', users), NOW).warnings).toEqual(expected)
      expect(predictOnline(await alice(), facts('CN', users, 'no'), NOW).warnings).toEqual(expected)
      expect(predictOnline(await alice(), facts('off', users), NOW).warnings).toEqual(expected)
    })

    it('a nopass mapped user with tls-auth-clients optional', async () => {
      const optional = predictOnline(await alice(), facts('URI', [['alice', {nopass: true}]], 'optional'), NOW)
      expect(optional.warnings).toEqual(['user "alice" is nopass and tls-auth-clients is "optional": anyone can AUTH as it without a certificate'])
      expect(predictOnline(await alice(), facts('URI', [['alice', {nopass: true}]], 'yes'), NOW).warnings).toEqual([])
      expect(predictOnline(await alice(), facts('URI', [['alice', {nopass: false}]], 'optional'), NOW).warnings).toEqual([])
    })
  })
})
