/**
 * Parser robustness: thousands of broken certificates (DER and PEM) must each either parse and be
 * described, or fail with a one-line ValkeyTlsError of kind 'input'; nothing else may escape.
 * Seeded, so a failure's variant index reproduces: rerun with the same SEED.
 */
import {createHash} from 'node:crypto'
import {performance} from 'node:perf_hooks'

import {beforeAll, describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {describeCertificate} from '../../../src/identity/describe.js'
import {parseCertificates} from '../../../src/pki/parse.js'
import {toPem} from '../../../src/pki/pem.js'
import {bmp, CN, cn, der, dns, EKU, email, ip, makeCert, O, StringTag, uri, x509} from '../../helpers/pki/raw.js'
import {seededRandom} from '../../helpers/random.js'

/** Override with FUZZ_SEED / FUZZ_COUNT to explore further; the defaults are what CI runs. */
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2026)
const MUTATED_DER = Number(process.env.FUZZ_COUNT ?? 1600) // each also tried as PEM, in a bundle after a good certificate half the time

interface Variant {
  label: string
  data: Buffer
}

let seeds: Uint8Array[] = []

const FIXED = {deterministic: true, notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z')}

beforeAll(async () => {
  // Byte-identical on every run, so a variant index (with the same SEED) always names the same input.
  const certs = await Promise.all([
    makeCert({key: 'ec', sans: [uri('alice'), dns('db.example'), ip(127, 0, 0, 1)], ekus: [EKU.clientAuth], keyUsage: x509.KeyUsageFlags.digitalSignature, ...FIXED}),
    makeCert({
      ...FIXED,
      key: 'rsa',
      subject: [[{oid: O, tag: StringTag.printable, value: 'Acme'}], [cn('first')], [cn('second')]],
      sans: [uri(''), uri('spiffe://x/y'), email('a@example.com'), ip(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)],
      ekus: [EKU.clientAuth, EKU.serverAuth, '1.2.3.4'],
      netscape: [0x07, 0x80],
    }),
    makeCert({key: 'ec384', subject: [[cn('zeta'), cn('alpha')], [cn(new Uint8Array([0xfc, 0x6e, 0xef]), StringTag.t61)], [{oid: CN, tag: StringTag.bmp, value: bmp('Ωmega')}]], ...FIXED}),
    makeCert({key: 'ed25519', subject: [[cn('ali\0ce')]], ekus: [EKU.any], keyUsage: x509.KeyUsageFlags.keyAgreement, ...FIXED}),
  ])
  seeds = certs.map(der)
  console.log(`fuzz seeds: ${seeds.map((s) => createHash('sha256').update(s).digest('hex').slice(0, 12)).join(' ')}`)
})

/** Offsets of every length octet in a DER value, descending into OCTET/BIT STRINGs that hold DER. */
function lengthOffsets(buf: Uint8Array, start = 0, end = buf.length): number[] | undefined {
  const out: number[] = []
  let pos = start
  while (pos < end) {
    const id = buf[pos]!
    if ((id & 0x1f) === 0x1f) return undefined
    let p = pos + 1
    const lengthAt = p
    let length = buf[p++]!
    if (length === 0x80 || length === undefined) return undefined
    if (length > 0x80) {
      const n = length & 0x7f
      length = 0
      for (let k = 0; k < n; k++) length = length * 256 + buf[p++]!
    }
    if (p + length > end) return undefined
    out.push(lengthAt)
    if (id & 0x20) {
      const inner = lengthOffsets(buf, p, p + length)
      if (!inner) return undefined
      out.push(...inner)
    } else if ((id === 0x04 || id === 0x03) && length > 2) {
      const skip = id === 0x03 ? 1 : 0 // BIT STRING: unused-bits octet first
      if (buf[p + skip] === 0x30 || buf[p + skip] === 0x03) out.push(...(lengthOffsets(buf, p + skip, p + length) ?? []))
    }
    pos = p + length
  }
  return out
}

function peculiarReading(der: Uint8Array): string | undefined {
  let cert: x509.X509Certificate
  try {
    cert = new x509.X509Certificate(new Uint8Array(der))
  } catch {
    return undefined
  }
  return peculiarFields(cert)
}

/** What whoami showed when it read these fields with @peculiar/x509 (up to 0.1.0). */
function peculiarFields(cert: x509.X509Certificate): string {
  const algorithm = cert.publicKey.algorithm as Algorithm & {namedCurve?: string; modulusLength?: number}
  const keyType = algorithm.name === 'ECDSA' ? `EC ${algorithm.namedCurve ?? '(unknown curve)'}`
    : algorithm.name.startsWith('RSA') ? (algorithm.modulusLength ? `RSA ${algorithm.modulusLength}` : 'RSA') : algorithm.name
  const names: Record<string, string> = {'1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth', '1.3.6.1.5.5.7.3.3': 'codeSigning', '1.3.6.1.5.5.7.3.4': 'emailProtection',
    '1.3.6.1.5.5.7.3.8': 'timeStamping', '1.3.6.1.5.5.7.3.9': 'OCSPSigning', '2.5.29.37.0': 'anyExtendedKeyUsage'}
  const usages = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly']
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)
  const ku = cert.getExtension(x509.KeyUsagesExtension)
  return JSON.stringify([cert.serialNumber.toUpperCase(), cert.notBefore.toISOString(), cert.notAfter.toISOString(), keyType,
    eku ? eku.usages.map((u) => names[String(u)] ?? String(u)) : null, ku ? usages.filter((_, bit) => (ku.usages & (1 << bit)) !== 0) : null])
}

function mutations(random: () => number): Variant[] {
  const int = (n: number) => Math.floor(random() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  const out: Variant[] = []
  // Systematic truncations of every seed.
  for (const [s, seed] of seeds.entries()) {
    for (let n = 0; n < seed.length; n += 1 + int(12)) out.push({label: `seed ${s} truncated to ${n}`, data: Buffer.from(seed.subarray(0, n))})
  }
  const ops: Array<[string, (b: Buffer, offsets: number[]) => Buffer]> = [
    ['truncate', (b) => b.subarray(0, int(b.length))],
    ['flip bytes', (b) => {
      for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] = random() < 0.5 ? int(256) : b[int(b.length)]! ^ (1 << int(8))
      return b
    }],
    ['insert bytes', (b) => {
      const at = int(b.length + 1)
      return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({length: 1 + int(3)}, () => int(256))), b.subarray(at)])
    }],
    ['delete bytes', (b) => {
      const at = int(b.length)
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(3))])
    }],
    ['corrupt a length', (b, offsets) => {
      const at = pick(offsets)
      const choices = [int(256), (b[at]! + 1) & 0xff, (b[at]! + 0xff) & 0xff, 0x80, 0x00, 0xff, 0x84, 0x81]
      b[at] = pick(choices)
      if (b[at] === 0x84 && random() < 0.5) b.set([0xff, 0xff, 0xff], at + 1)
      return b
    }],
    ['corrupt a tag', (b, offsets) => {
      b[pick(offsets) - 1] = pick([int(256), 0x1f, 0x3f, 0x9f, 0x30, 0x31, 0x04, 0x05, 0x00])
      return b
    }],
  ]
  const offsetsOf = seeds.map((seed) => lengthOffsets(seed)!)
  for (let i = 0; i < MUTATED_DER; i++) {
    const s = int(seeds.length)
    const [name, op] = ops[i % ops.length]!
    let data: Buffer = Buffer.from(seeds[s]!)
    const rounds = random() < 0.8 ? 1 : 2 + int(3)
    for (let r = 0; r < rounds; r++) data = op(Buffer.from(data), offsetsOf[s]!)
    out.push({label: `seed ${s} ${name} x${rounds}`, data})
  }
  return out
}

function asPem(variants: Variant[], random: () => number): Variant[] {
  const good = toPem('CERTIFICATE', seeds[0]!)
  return variants.map(({label, data}) => {
    const bundle = random() < 0.5
    return {label: `${label} as PEM${bundle ? ' after a good one' : ''}`, data: Buffer.from((bundle ? good : '') + toPem('CERTIFICATE', data))}
  })
}

function pemGarbage(random: () => number): Variant[] {
  const int = (n: number) => Math.floor(random() * n)
  const good = toPem('CERTIFICATE', seeds[0]!)
  const body = good.split('\n').slice(1, -2).join('\n')
  const fixed: Array<[string, string | Buffer]> = [
    ['text between blocks', `${good}subject=CN=alice\n${good}`],
    ['binary junk between blocks', Buffer.concat([Buffer.from(good), Buffer.from([0, 1, 2, 0xff]), Buffer.from(good)])],
    ['a key block', `${good}-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`],
    ['only a key block', `-----BEGIN EC PRIVATE KEY-----\n${body}\n-----END EC PRIVATE KEY-----\n`],
    ['a CSR block', `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`],
    ['bad base64 character', good.replace('\n', '\n!')],
    ['base64 of the wrong length', good.replace('\n', '\nA')],
    ['padding in the middle', good.replace('\n', '\nAA==')],
    ['empty block', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'],
    ['BEGIN without END', `${good}-----BEGIN CERTIFICATE-----\n${body}\n`],
    ['END without BEGIN', `${body}\n-----END CERTIFICATE-----\n`],
    ['mismatched labels', `-----BEGIN CERTIFICATE-----\n${body}\n-----END X509 CRL-----\n`],
    ['nested BEGIN', `-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`],
    ['TRUSTED CERTIFICATE label', `-----BEGIN TRUSTED CERTIFICATE-----\n${body}\n-----END TRUSTED CERTIFICATE-----\n`],
    ['base64 of junk', `-----BEGIN CERTIFICATE-----\n${Buffer.from('hello world!').toString('base64')}\n-----END CERTIFICATE-----\n`],
    ['empty file', ''],
    ['text only', 'not a certificate\n'],
    ['a lone 0x30', Buffer.from([0x30])],
    ['UTF-16 PEM', Buffer.from(good, 'utf16le')],
  ]
  const out: Variant[] = fixed.map(([label, data]) => ({label, data: Buffer.from(data)}))
  // Character-level noise in a PEM file.
  const alphabet = ['-', '\n', '\r', ' ', '=', 'A', '/', '+', '\0', '\xff', 'BEGIN ', 'END ', '-----', '\uFFFD']
  for (let i = 0; i < 400; i++) {
    let text = random() < 0.3 ? good + good : good
    for (let k = 1 + int(3); k > 0; k--) {
      const at = int(text.length)
      const r = random()
      if (r < 0.4) text = text.slice(0, at) + alphabet[int(alphabet.length)] + text.slice(at)
      else if (r < 0.7) text = text.slice(0, at) + text.slice(at + 1 + int(4))
      else text = text.slice(0, at) + alphabet[int(alphabet.length)] + text.slice(at + 1)
    }
    out.push({label: `PEM text noise ${i}`, data: Buffer.from(text, random() < 0.5 ? 'latin1' : 'utf8')})
  }
  // Random bytes, with and without a leading SEQUENCE tag.
  for (let i = 0; i < 100; i++) {
    const bytes = Buffer.from(Array.from({length: int(600)}, () => int(256)))
    if (i % 2 === 0 && bytes.length > 0) bytes[0] = 0x30
    out.push({label: `random bytes ${i}`, data: bytes})
  }
  return out
}

describe('parser robustness', () => {
  it('every broken certificate parses or fails with a one-line input error', {timeout: 60_000}, () => {
    const random = seededRandom(SEED)
    const der = mutations(random)
    const variants = [...seeds.map((s, i) => ({label: `seed ${i} intact`, data: Buffer.from(s)})), ...der, ...asPem(der, random), ...pemGarbage(random)]
    expect(variants.length).toBeGreaterThanOrEqual(3000)

    const failures: string[] = []
    const disagreements: string[] = []
    const outcomes = {described: 0, rejected: 0}
    const messages = new Set<string>()
    let slowest = {ms: 0, index: -1}
    const started = performance.now()
    for (const [index, {label, data}] of variants.entries()) {
      const t0 = performance.now()
      try {
        const certs = parseCertificates(data, 'fuzz')
        if (certs.length === 0) throw new Error('parseCertificates returned no certificate')
        const identity = describeCertificate(certs[0]!, 'fuzz')
        if (typeof identity.fingerprint256 !== 'string') throw new Error('no fingerprint')
        // The fields read from the DER (x509/certificate.ts) are the ones @peculiar/x509 reads.
        const ours = JSON.stringify([identity.serialNumber, identity.notBefore, identity.notAfter, identity.keyType, identity.extendedKeyUsages, identity.keyUsages])
        // Compared where @peculiar/x509 reads the certificate at all (its string decoders refuse some that OpenSSL accepts).
        const theirs = peculiarReading(certs[0]!.der)
        if (theirs !== undefined && ours !== theirs) disagreements.push(`#${index} ${label}: ${ours} where @peculiar/x509 reads ${theirs}`)
        outcomes.described++
      } catch (error) {
        if (error instanceof ValkeyTlsError && error.kind === 'input' && !error.message.includes('\n') && error.message.startsWith('fuzz')) {
          outcomes.rejected++
          messages.add(error.message.replace(/\(.*\)$/, '(...)'))
        } else {
          const e = error as Error
          failures.push(`#${index} ${label} [${data.subarray(0, 4096).toString('hex')}]: ${e?.name} ${e?.constructor?.name} kind=${(e as ValkeyTlsError).kind} ${JSON.stringify(e?.message)}\n${e?.stack?.split('\n').slice(0, 6).join('\n')}`)
        }
      }
      const ms = performance.now() - t0
      if (ms > slowest.ms) slowest = {ms, index}
    }
    const elapsed = performance.now() - started
    console.log(`fuzz: ${variants.length} variants in ${elapsed.toFixed(0)} ms (slowest #${slowest.index} ${variants[slowest.index]?.label}: ${slowest.ms.toFixed(1)} ms); ` +
      `${outcomes.described} described, ${outcomes.rejected} rejected, ${failures.length} failures; ${messages.size} distinct messages`)
    if (process.env.FUZZ_VERBOSE) console.log([...messages].join('\n'))
    expect(failures, failures.slice(0, 5).join('\n\n')).toEqual([])
    expect(disagreements.slice(0, 5)).toEqual([])
    expect(outcomes.described).toBeGreaterThan(0)
    expect(outcomes.rejected).toBeGreaterThan(0)
    expect(outcomes.described + outcomes.rejected).toBe(variants.length)
    expect(slowest.ms).toBeLessThan(2000) // no single input may hang the parser
  })

  it('the intact seeds describe as expected (the fuzz starts from real certificates)', () => {
    const [ec, rsa, ec384, ed] = seeds.map((s, i) => describeCertificate(parseCertificates(Buffer.from(toPem('CERTIFICATE', s)), `seed ${i}`)[0]!, `seed ${i}`))
    expect([ec!.keyType, rsa!.keyType, ec384!.keyType, ed!.keyType]).toEqual(['EC P-256', 'RSA 2048', 'EC P-384', 'Ed25519'])
    expect(rsa!.commonNames).toEqual(['first', 'second'])
    expect(rsa!.uris).toEqual(['', 'spiffe://x/y'])
    expect(ec384!.commonName).toBe('zeta')
  })
})
