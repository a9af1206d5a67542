import {execFileSync, spawnSync} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {useTempDirs} from '../helpers/temp.js'

const tempDir = useTempDirs('vtls-gen-opt')
const KEY_MATERIAL = /PRIVATE KEY|MII[A-Za-z0-9+/]{20}/
const P12_PASSWORD = 'p12 sëcret-4711'

interface GenJson {
  ca: {subject: string}
  servers: {name: string; commonName: string; cert: string; key: string; dnsNames: string[]; ipAddresses: string[]; config: string[]}[]
  files: {path: string; kind: string; owner: string; role?: string; mode: string; notAfter?: string}[]
  config: string[]
}

async function gen(out: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<GenJson> {
  const result = await runCli(['certs', 'gen', '--out', out, '--json', ...args], {env, timeoutMs: 60_000})
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  expect(result.stdout).not.toMatch(KEY_MATERIAL)
  return JSON.parse(result.stdout)
}

const opensslEnd = (file: string) => new Date(execFileSync('openssl', ['x509', '-in', file, '-noout', '-enddate'], {encoding: 'utf8'}).trim().replace(/^notAfter=/, ''))

describe('certs gen --not-after', () => {
  it('a duration ends the server and client certificates that long from now; the CA keeps --ca-days', async () => {
    const out = join(tempDir(), 'tls')
    const before = Date.now()
    const json = await gen(out, ['--not-after', '36h', '--client', 'alice'])
    const after = Date.now()
    for (const name of ['server', 'client', 'alice']) {
      const end = opensslEnd(join(out, `${name}.crt`)).getTime()
      expect(end).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 36 * 3_600_000)
      expect(end).toBeLessThanOrEqual(after + 36 * 3_600_000)
    }
    expect(opensslEnd(join(out, 'ca.crt')).getTime()).toBeGreaterThan(before + 3649 * 86_400_000)
    expect(json.files.find((f) => f.owner === 'alice' && f.kind === 'cert')!.notAfter).toBe(opensslEnd(join(out, 'alice.crt')).toISOString())
  })

  it('a date-time with offset is the exact end, as OpenSSL reads it', async () => {
    const out = join(tempDir(), 'tls')
    const end = new Date(Date.now() + 10 * 86_400_000)
    end.setUTCHours(18, 30, 0, 0)
    const local = new Date(end.getTime() + 2 * 3_600_000).toISOString().slice(0, 16) + '+02:00'
    await gen(out, ['--not-after', local])
    expect(opensslEnd(join(out, 'server.crt')).toISOString()).toBe(end.toISOString())
    expect(execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', join(out, 'ca.crt'), join(out, 'server.crt')], {encoding: 'utf8'})).toMatch(/: OK/)
  })

  it('refuses an end later than the CA, or with --days, or malformed, writing nothing', async () => {
    for (const [args, message] of [
      [['--not-after', '400d', '--ca-days', '365'], /--not-after 400d .* outlives the new CA \(--ca-days 365\).*use --not-after \d{4}-.* or earlier/],
      [['--not-after', '30d', '--days', '30'], /--days|--not-after/],
      [['--not-after', '3 weeks'], /--not-after "3 weeks": give a duration/],
      [['--not-after', '2001-01-01'], /not in the future/],
    ] as const) {
      const out = join(tempDir(), 'tls')
      expectOneLineError(await runCli(['certs', 'gen', '--out', out, ...args]), 2, message)
      expect(existsSync(out)).toBe(false)
    }
  })

  it('with --ca-cert, an end after that CA is refused, one before it is used', async () => {
    const first = join(tempDir(), 'ca')
    await gen(first, ['--ca-days', '10', '--days', '5'])
    const ca = ['--ca-cert', join(first, 'ca.crt'), '--ca-key', join(first, 'ca.key')]
    expectOneLineError(await runCli(['certs', 'gen', '--out', join(tempDir(), 'x'), ...ca, '--not-after', '11d']), 2, /outlives the CA certificate .*ca\.crt, which ends/)
    const out = join(tempDir(), 'tls')
    await gen(out, [...ca, '--not-after', '9d'])
    expect(opensslEnd(join(out, 'server.crt')).getTime()).toBeLessThan(opensslEnd(join(first, 'ca.crt')).getTime())
  })
})

describe('certs gen --server', () => {
  it('one certificate per node, CN=NAME, its own SANs plus --san; no server.crt; JSON and valkey.conf say which files go where', async () => {
    const out = join(tempDir(), 'tls')
    const json = await gen(out, ['--server', 'node1=node1.internal,10.0.0.1', '--server', 'node2=IP:fd00::2', '--san', 'vip.internal'])
    expect(readdirSync(out).sort()).toEqual(['ca.crt', 'ca.key', 'client.crt', 'client.key', 'node1.crt', 'node1.key', 'node2.crt', 'node2.key'])
    expect(json.servers.map((s) => [s.name, s.commonName, s.dnsNames, s.ipAddresses])).toEqual([
      ['node1', 'node1', ['localhost', 'node1', 'node1.internal', 'vip.internal'], ['127.0.0.1', '::1', '10.0.0.1']],
      ['node2', 'node2', ['localhost', 'node2', 'vip.internal'], ['127.0.0.1', '::1', 'fd00::2']],
    ])
    for (const node of json.servers) {
      expect(node.cert).toBe(join(out, `${node.name}.crt`))
      expect(node.config).toContain(`tls-cert-file ${join(out, `${node.name}.crt`)}`)
      expect(node.config).toContain(`tls-key-file ${join(out, `${node.name}.key`)}`)
      expect(node.config.join('\n')).not.toMatch(/server\.crt/)
      const cert = new X509Certificate(readFileSync(node.cert))
      expect(cert.subject).toBe(`CN=${node.name}`)
      expect(cert.checkHost('vip.internal')).toBe('vip.internal')
      expect(statSync(node.key).mode & 0o777).toBe(0o600)
    }
    expect(new X509Certificate(readFileSync(join(out, 'node1.crt'))).checkIP('10.0.0.1')).toBe('10.0.0.1')
    expect(new X509Certificate(readFileSync(join(out, 'node2.crt'))).checkIP('10.0.0.1')).toBeUndefined()
    expect(json.files.filter((f) => f.role === 'server').map((f) => f.owner)).toEqual(['node1', 'node1', 'node2', 'node2'])
    expect(json.config[0]).toBe(`# on node1: node1.crt, node1.key and ca.crt at these paths`)

    const text = await runCli(['certs', 'gen', '--out', join(tempDir(), 'tls'), '--server', 'node1', '--server', 'node2'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/valkey\.conf on node1 \(give it node1\.crt, node1\.key and ca\.crt\):\n {2}port 0\n {2}tls-port 6379\n {2}tls-cert-file \S+node1\.crt\n {2}tls-key-file \S+node1\.key/)
    expect(text.stdout).toMatch(/valkey\.conf on node2 \(give it node2\.crt, node2\.key and ca\.crt\):/)
  })

  it('refuses a server name given twice or clashing with a client, writing nothing', async () => {
    for (const args of [['--server', 'node1', '--server', 'NODE1'], ['--server', 'alice', '--client', 'alice'], ['--server', 'bad/name']]) {
      const out = join(tempDir(), 'tls')
      expectOneLineError(await runCli(['certs', 'gen', '--out', out, ...args]), 2, /--server/)
      expect(existsSync(out)).toBe(false)
    }
  })
})

describe('certs gen --ca-name', () => {
  it('names the new CA; two runs with different names have different subjects, the default is unchanged', async () => {
    const a = await gen(join(tempDir(), 'a'), ['--ca-name', 'Staging Valkey CA'])
    const b = await gen(join(tempDir(), 'b'), [])
    expect(a.ca.subject).toBe('CN=Staging Valkey CA')
    expect(b.ca.subject).toBe('CN=Valkey TLS Test CA')
    const dir = join(tempDir(), 'c')
    await gen(dir, ['--ca-name', 'Prüf-CA'])
    expect(execFileSync('openssl', ['x509', '-in', join(dir, 'ca.crt'), '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb'], {encoding: 'utf8'}).trim()).toBe('subject=CN=Prüf-CA')
    expect(execFileSync('openssl', ['x509', '-in', join(dir, 'client.crt'), '-noout', '-issuer', '-nameopt', 'RFC2253,-esc_msb'], {encoding: 'utf8'}).trim()).toBe('issuer=CN=Prüf-CA')
  })

  it('refuses it with --ca-cert (that CA keeps its name), and an empty or over-long name', async () => {
    const first = join(tempDir(), 'ca')
    await gen(first, [])
    expectOneLineError(await runCli(['certs', 'gen', '--out', join(tempDir(), 'x'), '--ca-cert', join(first, 'ca.crt'), '--ca-key', join(first, 'ca.key'), '--ca-name', 'X']), 2, /--ca-name|--ca-cert/)
    expectOneLineError(await runCli(['certs', 'gen', '--out', join(tempDir(), 'x'), '--ca-name', 'x'.repeat(65)]), 2, /--ca-name: at most 64/)
  })
})

function p12Info(file: string, password: string) {
  return spawnSync('openssl', ['pkcs12', '-in', file, '-info', '-nokeys', '-passin', 'env:PW'], {encoding: 'utf8', env: {...process.env, PW: password}})
}

describe('certs gen --p12', () => {
  it('writes NAME.p12 (0600) for every client from $VALKEY_TLS_P12_PASSWORD; openssl opens it, with the key of NAME.crt; the password is never printed', async () => {
    const out = join(tempDir(), 'tls')
    const result = await runCli(['certs', 'gen', '--out', out, '--client', 'alice', '--p12'], {env: {VALKEY_TLS_P12_PASSWORD: P12_PASSWORD}, timeoutMs: 60_000})
    expect(result.code).toBe(0)
    expect(result.stdout + result.stderr).not.toContain(P12_PASSWORD)
    expect(result.stdout).not.toMatch(KEY_MATERIAL)
    expect(readdirSync(out).filter((f) => f.endsWith('.p12')).sort()).toEqual(['alice.p12', 'client.p12'])
    expect(existsSync(join(out, 'server.p12'))).toBe(false)
    for (const name of ['client', 'alice']) {
      const file = join(out, `${name}.p12`)
      expect(statSync(file).mode & 0o777).toBe(0o600)
      const info = p12Info(file, P12_PASSWORD)
      expect(info.status).toBe(0)
      expect(info.stderr).toMatch(/MAC: sha256, Iteration 100000/)
      expect(info.stdout).toContain(`friendlyName: ${name}`)
      const certs = info.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!
      expect(new X509Certificate(certs[0]!).fingerprint256).toBe(new X509Certificate(readFileSync(join(out, `${name}.crt`))).fingerprint256)
      expect(new X509Certificate(certs[1]!).fingerprint256).toBe(new X509Certificate(readFileSync(join(out, 'ca.crt'))).fingerprint256)
      const key = spawnSync('openssl', ['pkcs12', '-in', file, '-nocerts', '-nodes', '-passin', 'env:PW'], {encoding: 'utf8', env: {...process.env, PW: P12_PASSWORD}})
      expect(key.status).toBe(0)
      const pub = (pem: string) => execFileSync('openssl', ['pkey', '-pubout'], {input: pem, encoding: 'utf8'})
      expect(pub(key.stdout)).toBe(pub(readFileSync(join(out, `${name}.key`), 'utf8')))
      expect(p12Info(file, 'wrong').status).not.toBe(0)
    }
  })

  it('takes the password from --p12-password-command (run without a shell), before the environment', async () => {
    const out = join(tempDir(), 'tls')
    const json = await gen(out, ['--p12', '--p12-password-command', `printf '%s' 'from command'`], {VALKEY_TLS_P12_PASSWORD: 'from env'})
    expect(json.files.find((f) => f.kind === 'p12')).toMatchObject({owner: 'client', role: 'client', mode: '0600'})
    expect(p12Info(join(out, 'client.p12'), 'from command').status).toBe(0)
    expect(p12Info(join(out, 'client.p12'), 'from env').status).not.toBe(0)
  })

  it('without a password source and no terminal, or with a failing command, is a usage error that writes nothing', async () => {
    const out = join(tempDir(), 'tls')
    expectOneLineError(await runCli(['certs', 'gen', '--out', out, '--p12'], {env: {VALKEY_TLS_P12_PASSWORD: ''}}), 2, /--p12 needs a password: use --p12-password-command CMD, set VALKEY_TLS_P12_PASSWORD/)
    expectOneLineError(await runCli(['certs', 'gen', '--out', out, '--p12', '--p12-password-command', 'false']), 2, /--p12-password-command exited with status 1/)
    expectOneLineError(await runCli(['certs', 'gen', '--out', out, '--p12-password-command', 'true']), 2, /--p12-password-command is for --p12/)
    expect(existsSync(out)).toBe(false)
  })
})
