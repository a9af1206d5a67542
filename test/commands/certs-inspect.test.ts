/**
 * `certs inspect` read against OpenSSL's own reading of the same files: every field, on certificates made
 * by certs gen (EC, RSA, Ed25519, URI SANs, a UTF-8 organization) and by the openssl CLI (e-mail, IPv6,
 * URI, DNS SANs; a root CA with a path length; a DER file; a bundle).
 */
import {execFileSync} from 'node:child_process'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {issueCert, issueShape, makeCa, toDer, bundle} from '../helpers/pki/openssl.js'
import {makeTempDir} from '../helpers/temp.js'

const root = makeTempDir('vtls-inspect')

interface Inspected {
  file: string
  certificates: number
  subject: string
  issuer: string
  serialNumber: string
  commonName: string | null
  uris: string[]
  emails: string[]
  dnsNames: string[]
  ipAddresses: string[]
  notBefore: string
  notAfter: string
  fingerprint256: string
  keyType: string
  keyUsages: string[] | null
  extendedKeyUsages: string[] | null
  basicConstraints: {ca: boolean; pathLength: number | null; critical: boolean} | null
  selfIssued: boolean
  candidates: {CN: string | null; URI: string[]}
}

const openssl = (...args: string[]) => execFileSync('openssl', args, {encoding: 'utf8'})

async function inspect(file: string): Promise<Inspected> {
  const result = await runCli(['certs', 'inspect', file, '--json'])
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  return JSON.parse(result.stdout)
}

const KU: Record<string, string> = {
  'Digital Signature': 'digitalSignature', 'Non Repudiation': 'nonRepudiation', 'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment', 'Key Agreement': 'keyAgreement', 'Certificate Sign': 'keyCertSign', 'CRL Sign': 'cRLSign',
}
const EKU: Record<string, string> = {
  'TLS Web Server Authentication': 'serverAuth', 'TLS Web Client Authentication': 'clientAuth', 'E-mail Protection': 'emailProtection', 'Code Signing': 'codeSigning',
}
const ipv6 = (ip: string) => (ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip)

/** Every field certs inspect shows, as OpenSSL reads it from the PEM file. */
function opensslView(pem: string) {
  const field = (flag: string, name: string) => openssl('x509', '-in', pem, '-noout', flag, '-nameopt', 'RFC2253,-esc_msb').trim().replace(`${name}=`, '')
  const text = openssl('x509', '-in', pem, '-noout', '-text')
  const after = (heading: string) => {
    const m = new RegExp(`${heading}:( critical)? *\\n\\s+(.+)`).exec(text)
    return m ? {critical: Boolean(m[1]), value: m[2]!.trim()} : undefined
  }
  const dates = Object.fromEntries(openssl('x509', '-in', pem, '-noout', '-dates').trim().split('\n').map((l) => l.split('=') as [string, string]))
  const sans = (after('X509v3 Subject Alternative Name')?.value ?? '').split(', ').filter(Boolean)
  const pick = (prefix: string) => sans.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length))
  const subject = field('-subject', 'subject')
  const bc = after('X509v3 Basic Constraints')
  const algorithm = /Public Key Algorithm: (\S+)/.exec(text)![1]
  const keyType = algorithm === 'id-ecPublicKey' ? `EC ${/NIST CURVE: (\S+)/.exec(text)![1]}` : algorithm === 'rsaEncryption' ? `RSA ${/Public-Key: \((\d+) bit\)/.exec(text)![1]}` : algorithm === 'ED25519' ? 'Ed25519' : algorithm
  return {
    subject,
    issuer: field('-issuer', 'issuer'),
    serialNumber: field('-serial', 'serial'),
    commonName: /(?:^|,)CN=([^,]+)$/.exec(subject)?.[1] ?? /^CN=([^,]+)/.exec(subject)?.[1] ?? null,
    notBefore: new Date(dates.notBefore!).toISOString(),
    notAfter: new Date(dates.notAfter!).toISOString(),
    fingerprint256: openssl('x509', '-in', pem, '-noout', '-fingerprint', '-sha256').trim().replace(/^sha256 Fingerprint=/i, ''),
    dnsNames: pick('DNS:'),
    ipAddresses: pick('IP Address:').map(ipv6),
    uris: pick('URI:'),
    emails: pick('email:'),
    keyType,
    keyUsages: after('X509v3 Key Usage')?.value.split(', ').map((k) => KU[k] ?? k) ?? null,
    extendedKeyUsages: after('X509v3 Extended Key Usage')?.value.split(', ').map((k) => EKU[k] ?? k) ?? null,
    basicConstraints: bc ? {ca: bc.value.startsWith('CA:TRUE'), pathLength: /pathlen:(\d+)/.test(bc.value) ? Number(/pathlen:(\d+)/.exec(bc.value)![1]) : null, critical: bc.critical} : null,
  }
}

const files: Record<string, string> = {}

beforeAll(async () => {
  const gen = async (name: string, ...args: string[]) => {
    const out = join(root, name)
    const result = await runCli(['certs', 'gen', '--out', out, '--json', ...args], {timeoutMs: 60_000})
    expect(result.code).toBe(0)
    return out
  }
  const ec = await gen('ec', '--client', 'alice', '--client-uri', 'alice=spiffe://example.org/ns/alice', '--client-uri', 'alice=urn:valkey:alice', '--org', 'Exämple GmbH ✓', '--san', 'db.example', '--san', 'fd00::17')
  Object.assign(files, {ecCa: join(ec, 'ca.crt'), ecServer: join(ec, 'server.crt'), ecAlice: join(ec, 'alice.crt')})
  const rsa = await gen('rsa', '--key-type', 'rsa-2048', '--server', 'node1=10.0.0.1')
  Object.assign(files, {rsaNode: join(rsa, 'node1.crt'), rsaClient: join(rsa, 'client.crt')})
  const ed = await gen('ed', '--key-type', 'ed25519', '--not-after', '12h')
  Object.assign(files, {edServer: join(ed, 'server.crt'), edCa: join(ed, 'ca.crt')})

  const dir = join(root, 'openssl')
  const ca = await makeCa(dir, {cn: 'OpenSSL Root'})
  const mixed = await issueCert(ca, dir, 'mixed', {cn: 'carol', sans: ['email:carol@example.org', 'IP:2001:db8::1', 'URI:spiffe://example.org/carol', 'DNS:carol.example', 'IP:192.0.2.7']})
  const inter = await issueShape(ca, dir, 'inter', {cn: 'Issuing CA', extensions: ['basicConstraints = critical, CA:TRUE, pathlen:0', 'keyUsage = critical, keyCertSign, cRLSign, digitalSignature', 'subjectKeyIdentifier = hash']})
  const rsaLeaf = await issueShape(inter, dir, 'rsaleaf', {cn: 'dave', keyType: 'rsa', extensions: ['keyUsage = critical, digitalSignature, keyEncipherment', 'extendedKeyUsage = clientAuth, emailProtection', 'subjectAltName = email:dave@example.org']})
  Object.assign(files, {opensslCa: ca.cert, mixed: mixed.cert, inter: inter.cert, rsaLeaf: rsaLeaf.cert})
}, 120_000)

describe('certs inspect agrees with openssl x509 on every field', () => {
  it.each(['ecCa', 'ecServer', 'ecAlice', 'rsaNode', 'rsaClient', 'edServer', 'edCa', 'opensslCa', 'mixed', 'inter', 'rsaLeaf'])('%s', async (name) => {
    const file = files[name]!
    const shown = await inspect(file)
    const expected = opensslView(file)
    expect({
      subject: shown.subject, issuer: shown.issuer, serialNumber: shown.serialNumber, commonName: shown.commonName,
      notBefore: shown.notBefore, notAfter: shown.notAfter, fingerprint256: shown.fingerprint256,
      dnsNames: shown.dnsNames, ipAddresses: shown.ipAddresses, uris: shown.uris, emails: shown.emails, keyType: shown.keyType,
      keyUsages: shown.keyUsages, extendedKeyUsages: shown.extendedKeyUsages, basicConstraints: shown.basicConstraints,
    }).toEqual(expected)
    expect(shown.selfIssued).toBe(expected.subject === expected.issuer)
    expect(shown.certificates).toBe(1)
  })

  it('the shapes under test are the ones claimed (so the comparison covers them)', async () => {
    expect(opensslView(files.ecAlice!).subject).toBe('CN=alice,O=Exämple GmbH ✓')
    expect(opensslView(files.ecAlice!).uris).toEqual(['spiffe://example.org/ns/alice', 'urn:valkey:alice'])
    expect(opensslView(files.mixed!).ipAddresses).toEqual(['2001:db8::1', '192.0.2.7'])
    expect(opensslView(files.mixed!).emails).toEqual(['carol@example.org'])
    expect(opensslView(files.rsaLeaf!).keyType).toBe('RSA 2048')
    expect(opensslView(files.edServer!).keyType).toBe('Ed25519')
    expect(opensslView(files.inter!).basicConstraints).toEqual({ca: true, pathLength: 0, critical: true})
    expect(opensslView(files.ecServer!).ipAddresses).toContain('fd00::17')
  })
})

describe('certs inspect', () => {
  it('says what each mapping mode would try, as whoami does offline', async () => {
    const alice = await inspect(files.ecAlice!)
    expect(alice.candidates).toEqual({CN: 'alice', URI: ['spiffe://example.org/ns/alice', 'urn:valkey:alice']})
    const whoami = JSON.parse((await runCli(['whoami', files.ecAlice!, '--json'])).stdout)
    expect(alice.candidates).toEqual(whoami.candidates)
    for (const key of ['subject', 'issuer', 'serialNumber', 'fingerprint256', 'keyType', 'extendedKeyUsages', 'uris', 'notAfter'] as const) expect(alice[key]).toEqual(whoami[key])
  })

  it('reads DER and the first certificate of a bundle, saying how many there are', async () => {
    const der = await toDer(files.mixed!, join(root, 'mixed.der'))
    expect((await inspect(der)).fingerprint256).toBe(opensslView(files.mixed!).fingerprint256)
    const both = await bundle(join(root, 'bundle.pem'), files.rsaLeaf!, files.inter!)
    const first = await inspect(both)
    expect(first.certificates).toBe(2)
    expect(first.subject).toBe('CN=dave')
  })

  it('human output: the rows and the mapping modes, no key material', async () => {
    const result = await runCli(['certs', 'inspect', files.inter!])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^ {2}CN {7}"Issuing CA"$/m)
    expect(result.stdout).toMatch(/^ {2}basic {4}CA:TRUE, pathlen:0 \(critical\)$/m)
    expect(result.stdout).toMatch(/^ {2}KU {7}digitalSignature, keyCertSign, cRLSign$/m)
    expect(result.stdout).toMatch(/^ {2}CN {3}tries "Issuing CA"$/m)
  })

  it('a key or a missing file is a one-line input error', async () => {
    expectOneLineError(await runCli(['certs', 'inspect', join(root, 'ec', 'alice.key')]), 3, /private key, not a certificate/)
    expectOneLineError(await runCli(['certs', 'inspect', join(root, 'nope.crt')]), 3, /nope\.crt/)
  })
})
