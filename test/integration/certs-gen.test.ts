import {X509Certificate} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {connect} from 'node:tls'

import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {tlsCommand} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-gen-it')

interface GenJson {
  acl: string[]
  files: {path: string; kind: string; owner: string; fingerprint256?: string}[]
}

async function gen(name: string, ...args: string[]): Promise<{dir: string; json: GenJson}> {
  const dir = join(root, name)
  const result = await runCli(['certs', 'gen', '--out', dir, '--json', ...args], {timeoutMs: 60_000})
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  return {dir, json: JSON.parse(result.stdout)}
}

/** Runs the printed `ACL SETUSER ...` lines as commands (split like valkey-cli would). */
async function applyAcl(server: {command(...args: string[]): Promise<unknown>}, lines: string[]) {
  for (const line of lines) expect(await server.command(...line.split(' '))).toBe('OK')
}

/** The fingerprint of the certificate a server presents in a real handshake. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: '127.0.0.1', port, ca: readFileSync(ca), rejectUnauthorized: true}, () => {
      resolve(socket.getPeerCertificate().fingerprint256)
      socket.destroy()
    })
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timeout')))
    socket.on('error', reject)
  })
}

describe('certificates from certs gen in a real Valkey 9.1', () => {
  it('CN mode: a client presenting alice.crt is logged in as alice once the printed ACL user exists', async () => {
    const {dir, json} = await gen('cn', '--client', 'alice', '--client', 'bob')
    const tls = {caCert: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key')}
    const server = await startValkey({tls, authClients: 'yes', config: {'tls-auth-clients-user': 'CN'}, name: 'gen-cn'})
    const as = (who: string) => ({port: server.port, ca: tls.caCert, cert: join(dir, `${who}.crt`), key: join(dir, `${who}.key`)})

    // Before the user exists the certificate falls back to the default user.
    expect(await tlsCommand(as('alice'), 'ACL', 'WHOAMI')).toBe('default')
    expect(json.acl).toEqual([
      'ACL SETUSER client on resetpass ~* &* +@all',
      'ACL SETUSER alice on resetpass ~* &* +@all',
      'ACL SETUSER bob on resetpass ~* &* +@all',
    ])
    await applyAcl(server, json.acl)
    expect(await tlsCommand(as('alice'), 'ACL', 'WHOAMI')).toBe('alice')
    expect(await tlsCommand(as('bob'), 'ACL', 'WHOAMI')).toBe('bob')
    expect(await tlsCommand(as('client'), 'ACL', 'WHOAMI')).toBe('client')
    // The server certificate verifies against the generated CA under the names it was made for.
    const served = await servedFingerprint(server.port, tls.caCert)
    expect(served).toBe(json.files.find((f) => f.owner === 'server' && f.kind === 'cert')!.fingerprint256)
  })

  it('URI mode: a client certificate with a SPIFFE URI is logged in as that user', async () => {
    const {dir, json} = await gen('uri', '--client', 'carol', '--client-uri', 'carol=spiffe://example.org/ns/carol')
    const tls = {caCert: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key')}
    const server = await startValkey({tls, authClients: 'yes', config: {'tls-auth-clients-user': 'URI'}, name: 'gen-uri'})
    expect(json.acl).toEqual(['ACL SETUSER spiffe://example.org/ns/carol on resetpass ~* &* +@all'])
    await applyAcl(server, json.acl)
    const carol = {port: server.port, ca: tls.caCert, cert: join(dir, 'carol.crt'), key: join(dir, 'carol.key')}
    expect(await tlsCommand(carol, 'ACL', 'WHOAMI')).toBe('spiffe://example.org/ns/carol')
  })

  it('a user created with the printed line cannot log in with a password: the certificate is the only way in', async () => {
    const {dir, json} = await gen('nopw', '--client', 'dave')
    const tls = {caCert: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key')}
    const server = await startValkey({tls, authClients: 'yes', config: {'tls-auth-clients-user': 'CN'}, name: 'gen-nopw'})
    await applyAcl(server, json.acl)
    await expect(server.command('AUTH', 'dave', '')).rejects.toThrow(/WRONGPASS|invalid/)
    await expect(server.command('AUTH', 'dave', 'anything')).rejects.toThrow(/WRONGPASS|invalid/)
  })

  describe.each(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'])('key type %s', (keyType) => {
    it('loads into the server, serves the generated cert, accepts the client cert, and openssl verifies every leaf', async () => {
      const {dir, json} = await gen(keyType, '--key-type', keyType)
      for (const leaf of ['server', 'client']) {
        const out = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', leaf === 'server' ? 'sslserver' : 'sslclient', '-CAfile', join(dir, 'ca.crt'), join(dir, `${leaf}.crt`)], {encoding: 'utf8'})
        expect(out).toMatch(/: OK$/m)
      }
      const tls = {caCert: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key')}
      const server = await startValkey({tls, authClients: 'yes', name: `gen-${keyType}`})
      const client = {port: server.port, ca: tls.caCert, cert: join(dir, 'client.crt'), key: join(dir, 'client.key')}
      expect(await tlsCommand(client, 'PING')).toBe('PONG')
      const served = await servedFingerprint(server.port, tls.caCert)
      expect(served).toBe(new X509Certificate(readFileSync(join(dir, 'server.crt'))).fingerprint256)
      expect(served).toBe(json.files.find((f) => f.owner === 'server' && f.kind === 'cert')!.fingerprint256)
      await server.stop()
    }, 90_000)
  })
})
