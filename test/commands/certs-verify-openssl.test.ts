/**
 * `certs verify` against OpenSSL itself: for each certificate shape and purpose, the command's verdict
 * (exit 0 / 10) is the one `openssl verify -x509_strict -purpose sslserver|sslclient` gives at test
 * time, with `-verify_hostname` / `-verify_ip` for --host. Nothing here hard-codes what OpenSSL says:
 * a shape whose verdict changes with the OpenSSL version changes the expectation with it.
 */
import {execFile} from 'node:child_process'
import {isIP} from 'node:net'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {runCli, type CliResult} from '../helpers/cli.js'
import {
  bundle, type Ca, CA_EXTENSIONS, daysFromNow, issueCert, issueIntermediate, issueShape, type KeyPair, leafExtensions, makeCa, makeExpiredCert, makeNotYetValidCert,
} from '../helpers/pki/openssl.js'
import {makeTempDir} from '../helpers/temp.js'

type Purpose = 'server' | 'client' | 'both'
const PURPOSES: Purpose[] = ['server', 'client', 'both']
const SSL_PURPOSE = {server: 'sslserver', client: 'sslclient'} as const

/** What one row hands to openssl and to the command. */
interface Shape {
  /** The certificate alone: what `openssl verify` checks. */
  leaf: string
  /** Intermediates: `-untrusted` for openssl, appended to the command's certificate file. */
  chain?: string[]
  key: string
  /** --cacert / -CAfile. */
  ca: string
  /** --host values; openssl checks each with -verify_hostname or -verify_ip, all must pass. */
  hosts?: string[]
}

interface Base {
  dir: string
  root: Ca
  other: Ca
  /** One leaf shared by the --host rows: SANs DNS:node1.example.com, IP:10.0.0.1. */
  named: () => Promise<KeyPair>
  /** A good intermediate under root. */
  intermediate: () => Promise<Ca>
  /** A leaf issued by `intermediate`. */
  chained: () => Promise<KeyPair>
}

const leafOf = (root: Ca, pair: KeyPair, more: Partial<Shape> = {}): Shape => ({leaf: pair.cert, key: pair.key, ca: root.cert, ...more})
const custom = (b: Base, name: string, extensions: string[], keyType?: 'ec' | 'rsa') =>
  issueShape(b.root, b.dir, name, {cn: name, extensions, keyType}).then((c) => leafOf(b.root, c))

const hostRow = (hosts: string[]) => async (b: Base): Promise<Shape> => leafOf(b.root, await b.named(), {hosts})

const ROWS: Array<[name: string, build: (b: Base) => Promise<Shape>]> = [
  ['server+client leaf', async (b) => leafOf(b.root, await issueCert(b.root, b.dir, 'good', {cn: 'localhost', sans: ['localhost'], usage: 'both'}))],
  ['EKU serverAuth only', async (b) => leafOf(b.root, await issueCert(b.root, b.dir, 'eku-server', {cn: 'localhost', usage: 'server'}))],
  ['EKU clientAuth only', async (b) => leafOf(b.root, await issueCert(b.root, b.dir, 'eku-client', {cn: 'localhost', usage: 'client'}))],
  ['no EKU', (b) => custom(b, 'no-eku', leafExtensions({extendedKeyUsage: null}))],
  ['keyUsage keyCertSign only', (b) => custom(b, 'ku-certsign', leafExtensions({keyUsage: 'critical, keyCertSign'}))],
  ['keyUsage keyEncipherment only (RSA key)', (b) => custom(b, 'ku-keyenc', leafExtensions({keyUsage: 'critical, keyEncipherment'}), 'rsa')],
  ['nsCertType server, no EKU', (b) => custom(b, 'ns-server', leafExtensions({extendedKeyUsage: null, nsCertType: 'server'}))],
  ['a CA (keyCertSign, cRLSign) as the leaf', async (b) => {
    const ca = await issueShape('self', b.dir, 'ca-leaf', {cn: 'CA as leaf', extensions: CA_EXTENSIONS})
    return {leaf: ca.cert, key: ca.key, ca: ca.cert}
  }],
  ['a CA with digitalSignature as the leaf', async (b) => ({leaf: b.root.cert, key: b.root.key, ca: b.root.cert})],
  ['SANs do not name --host (DNS)', hostRow(['node2.example.com'])],
  ['SANs do not name --host (IP)', hostRow(['10.0.0.2'])],
  ['SANs name --host (DNS)', hostRow(['node1.example.com'])],
  ['SANs name --host (IP)', hostRow(['10.0.0.1'])],
  ['SANs name both --host values (DNS + IP)', hostRow(['node1.example.com', '10.0.0.1'])],
  ['SANs name one --host of two', hostRow(['node1.example.com', '10.0.0.2'])],
  ['wildcard SAN names --host', async (b) => leafOf(b.root, await issueCert(b.root, b.dir, 'wild', {cn: 'wild', sans: ['DNS:*.example.com']}), {hosts: ['a.example.com']})],
  ['wildcard SAN, --host two labels below', async (b) => leafOf(b.root, await issueCert(b.root, b.dir, 'wild2', {cn: 'wild2', sans: ['DNS:*.example.com']}), {hosts: ['a.b.example.com']})],
  ['no SAN, CN names --host', async (b) => leafOf(b.root, await issueCert(b.root, b.dir, 'cn-only', {cn: 'cn-only.example.com'}), {hosts: ['cn-only.example.com']})],
  ['"intermediate" with CA:FALSE (chain in cert file)', async (b) => {
    const fake = await issueIntermediate(b.root, b.dir, 'not-a-ca', {extensions: leafExtensions({keyUsage: 'critical, digitalSignature, keyCertSign, cRLSign'})})
    return leafOf(b.root, await issueCert(fake, b.dir, 'under-not-a-ca', {cn: 'localhost'}), {chain: [fake.cert]})
  }],
  ['root → intermediate → leaf (intermediate in cert file)', async (b) => leafOf(b.root, await b.chained(), {chain: [(await b.intermediate()).cert]})],
  ['root → intermediate → leaf (intermediate in CA file)', async (b) => {
    const ca = await bundle(join(b.dir, 'root+intermediate.crt'), b.root.cert, (await b.intermediate()).cert)
    return {...leafOf(b.root, await b.chained()), ca}
  }],
  ['intermediate missing', async (b) => leafOf(b.root, await b.chained())],
  ['intermediate not yet valid', async (b) => {
    const im = await issueIntermediate(b.root, b.dir, 'im-future', {notBefore: daysFromNow(1), notAfter: daysFromNow(400)})
    return leafOf(b.root, await issueCert(im, b.dir, 'under-im-future', {cn: 'localhost'}), {chain: [im.cert]})
  }],
  ['intermediate expired', async (b) => {
    const im = await issueIntermediate(b.root, b.dir, 'im-expired', {notBefore: daysFromNow(-60), notAfter: daysFromNow(-1)})
    return leafOf(b.root, await issueCert(im, b.dir, 'under-im-expired', {cn: 'localhost'}), {chain: [im.cert]})
  }],
  ['intermediate with EKU serverAuth only', async (b) => {
    const im = await issueIntermediate(b.root, b.dir, 'im-eku-server', {extensions: [...CA_EXTENSIONS, 'extendedKeyUsage = serverAuth']})
    return leafOf(b.root, await issueCert(im, b.dir, 'under-im-eku-server', {cn: 'localhost'}), {chain: [im.cert]})
  }],
  ['CA file pins the leaf itself', async (b) => {
    const pair = await issueCert(b.root, b.dir, 'pinned', {cn: 'localhost'})
    return {leaf: pair.cert, key: pair.key, ca: pair.cert}
  }],
  ['leaf signed by another CA', async (b) => leafOf(b.root, await issueCert(b.other, b.dir, 'foreign', {cn: 'localhost'}))],
  ['expired leaf', async (b) => leafOf(b.root, await makeExpiredCert(b.root, b.dir, 'expired', {cn: 'localhost'}))],
  ['not-yet-valid leaf', async (b) => leafOf(b.root, await makeNotYetValidCert(b.root, b.dir, 'future', {cn: 'localhost'}))],
]

// ---------------------------------------------------------------------------------------------------

/** At most `limit` of `work` at once (the machine has two cores; openssl and node each want one). */
async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = []
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await work(items[i]!)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}

const once = <T>(fn: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined
  return () => (p ??= fn())
}

interface Verdict {
  ok: boolean
  /** openssl's own words ("OK", or its "error N at D depth lookup: ..." lines). */
  says: string
}

/** `openssl verify -x509_strict` for one purpose and one host (or none). Throws on anything but a verdict. */
function opensslVerify(shape: Shape, chainFile: string | undefined, purpose: 'sslserver' | 'sslclient', host?: string): Promise<Verdict> {
  const args = ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', shape.ca]
  if (chainFile) args.push('-untrusted', chainFile)
  if (host !== undefined) args.push(isIP(host) ? '-verify_ip' : '-verify_hostname', host)
  args.push(shape.leaf)
  return new Promise((resolve, reject) => {
    execFile('openssl', args, (error, stdout, stderr) => {
      const out = `${stdout}\n${stderr}`
      const errors = out.split('\n').filter((l) => /^error \d+ at \d+ depth lookup: /.test(l))
      if (!error && new RegExp(`^${shape.leaf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: OK$`, 'm').test(stdout)) resolve({ok: true, says: 'OK'})
      else if (error && errors.length > 0) resolve({ok: false, says: errors.map((l) => l.replace(/^error (\d+) at (\d+) depth lookup: /, '$1@$2 ')).join('; ')})
      else reject(new Error(`openssl ${args.join(' ')} gave no verdict: ${out.trim()}`))
    })
  })
}

async function opensslVerdict(shape: Shape, chainFile: string | undefined, purpose: Purpose): Promise<Verdict> {
  const purposes = purpose === 'both' ? (['sslserver', 'sslclient'] as const) : [SSL_PURPOSE[purpose]]
  const hosts = shape.hosts?.length ? shape.hosts : [undefined]
  const verdicts = await Promise.all(purposes.flatMap((p) => hosts.map(async (h) => {
    const v = await opensslVerify(shape, chainFile, p, h)
    return {...v, says: `${p}${h === undefined ? '' : ` ${h}`}: ${v.says}`}
  })))
  const failed = verdicts.filter((v) => !v.ok)
  return {ok: failed.length === 0, says: (failed.length > 0 ? failed : verdicts).map((v) => v.says).join(' | ')}
}

interface JsonOut {
  ok?: unknown
  problems?: Array<{code?: unknown; message?: unknown}>
  rehearsals?: Array<{name?: unknown; ok?: unknown; reason?: unknown}>
}

const parseJson = (stdout: string): JsonOut | undefined => {
  try {
    return JSON.parse(stdout) as JsonOut
  } catch {
    return undefined
  }
}

interface Prepared {
  shape: Shape
  /** The command's certificate file: the leaf, then its chain. */
  certFile: string
  /** The chain alone, for openssl's -untrusted. */
  chainFile?: string
  expected: Record<Purpose, Verdict>
  actual: Record<Purpose, CliResult>
}

const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')

const cliArgs = (p: Prepared, purpose?: Purpose): string[] => [
  'certs', 'verify', p.certFile, '--key', p.shape.key, '--cacert', p.shape.ca,
  ...(purpose ? ['--purpose', purpose] : []),
  ...(p.shape.hosts ?? []).flatMap((h) => ['--host', h]),
  '--json',
]

// ---------------------------------------------------------------------------------------------------

const dir = makeTempDir('vtls-verify-openssl')

const prepared = new Map<string, Prepared>()

beforeAll(async () => {
  const [root, other] = await Promise.all([makeCa(join(dir, 'root')), makeCa(join(dir, 'other'), {cn: 'another CA'})])
  const b: Base = {
    dir, root, other,
    named: once(() => issueCert(root, dir, 'named', {cn: 'node1', sans: ['DNS:node1.example.com', 'IP:10.0.0.1']})),
    intermediate: once(() => issueIntermediate(root, dir, 'intermediate')),
    chained: once(async () => issueCert(await b.intermediate(), dir, 'chained', {cn: 'localhost'})),
  }
  const shapes = await mapLimit(ROWS, 4, async ([name, build]) => {
    const shape = await build(b)
    const chainFile = shape.chain?.length ? await bundle(join(dir, `${slug(name)}.chain.crt`), ...shape.chain) : undefined
    const certFile = shape.chain?.length ? await bundle(join(dir, `${slug(name)}.bundle.crt`), shape.leaf, ...shape.chain) : shape.leaf
    return {name, shape, chainFile, certFile}
  })
  const jobs = shapes.flatMap((s) => PURPOSES.map((purpose) => ({name: s.name, purpose, shape: s.shape, chainFile: s.chainFile})))
  const expected = await mapLimit(jobs, 4, (j) => opensslVerdict(j.shape, j.chainFile, j.purpose))
  for (const {name, ...s} of shapes) prepared.set(name, {...s, expected: {} as Prepared['expected'], actual: {} as Prepared['actual']})
  for (const [i, j] of jobs.entries()) prepared.get(j.name)!.expected[j.purpose] = expected[i]!
  const actual = await mapLimit(jobs, 4, (j) => runCli(cliArgs(prepared.get(j.name)!, j.purpose)))
  for (const [i, j] of jobs.entries()) prepared.get(j.name)!.actual[j.purpose] = actual[i]!
}, 240_000)

describe('valkey-tls certs verify gives the verdict openssl verify gives', () => {
  it.each(ROWS.map(([name]) => name))('%s', (name) => {
    const p = prepared.get(name)!
    for (const purpose of PURPOSES) {
      const want = p.expected[purpose]
      const got = p.actual[purpose]
      const context = `--purpose ${purpose}: openssl says ${want.says}; command exit ${got.code}, stdout ${got.stdout.trim().slice(0, 600)} stderr ${got.stderr.trim().slice(0, 300)}`
      expect.soft(got.code, context).toBe(want.ok ? 0 : 10)
      const json = parseJson(got.stdout)
      expect.soft(json, `--purpose ${purpose}: --json output is JSON: ${got.stdout.slice(0, 300)}`).toBeDefined()
      if (!json) continue
      expect.soft(json.ok, context).toBe(want.ok)
      if (want.ok) {
        expect.soft(json.problems, context).toEqual([])
      } else {
        const messages = (json.problems ?? []).map((pr) => pr.message)
        expect.soft(messages.length, `${context}: a failure lists its problems`).toBeGreaterThan(0)
        for (const m of messages) expect.soft(m, `${context}: problem messages are one line`).toMatch(/^[^\n]+$/)
      }
      if (json.rehearsals !== undefined) {
        expect.soft(Array.isArray(json.rehearsals), context).toBe(true)
        if (want.ok) expect.soft(json.rehearsals.every((r) => r.ok === true), context).toBe(true)
      }
    }
  })

  it('the table can fail: for each purpose openssl accepts some rows and refuses others', () => {
    for (const purpose of PURPOSES) {
      const verdicts = [...prepared.values()].map((p) => p.expected[purpose].ok)
      expect(verdicts.length, purpose).toBe(ROWS.length)
      expect(verdicts.filter(Boolean).length, `${purpose}: rows openssl accepts`).toBeGreaterThan(0)
      expect(verdicts.filter((ok) => !ok).length, `${purpose}: rows openssl refuses`).toBeGreaterThan(0)
    }
    // and the purposes are told apart: some row passes as a server but not as a client, and the reverse
    const rows = [...prepared.values()]
    expect(rows.some((p) => p.expected.server.ok && !p.expected.client.ok && !p.expected.both.ok)).toBe(true)
    expect(rows.some((p) => !p.expected.server.ok && p.expected.client.ok && !p.expected.both.ok)).toBe(true)
  })

  it('--purpose defaults to both, and --cert / --ca mean CERT / --cacert', async () => {
    const rows = ['server+client leaf', 'EKU serverAuth only', 'EKU clientAuth only', 'leaf signed by another CA'].map((n) => prepared.get(n)!)
    const results = await mapLimit(rows, 4, async (p) => {
      const [byDefault, aliased] = await Promise.all([
        runCli(cliArgs(p)),
        runCli(['certs', 'verify', '--cert', p.certFile, '--key', p.shape.key, '--ca', p.shape.ca, '--purpose', 'both', '--json']),
      ])
      return {p, byDefault, aliased}
    })
    for (const {p, byDefault, aliased} of results) {
      const want = p.expected.both.ok ? 0 : 10
      expect.soft(byDefault.code, `no --purpose, openssl (both) says ${p.expected.both.says}: ${byDefault.stdout.slice(0, 300)}`).toBe(want)
      expect.soft(aliased.code, `--cert/--ca, openssl (both) says ${p.expected.both.says}: ${aliased.stdout.slice(0, 300)} ${aliased.stderr.slice(0, 300)}`).toBe(want)
    }
  })
})
