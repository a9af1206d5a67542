/**
 * `whoami` against a real Valkey 9.1 on this machine predicts trust too: with the certificate's key
 * (--verify-key) it rehearses, with OpenSSL in-process, the handshake the server will make with its own
 * CA files, so a certificate the server refuses is predicted as refused (user null), not as the user its
 * CN names. The prediction is then checked by really connecting with the certificate.
 */
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {issueCert, type KeyPair, makeCa, makePki, type Pki} from '../helpers/pki/openssl.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup, type ValkeyHandle} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-whoami-trust-it')

interface WhoamiJson {
  user: string | null
  reasonCode: string
  reason: string
  trust: {checked: boolean; accepted: boolean | null; reason: string | null} | null
  observedUser?: string | null
  observedAuthenticated?: boolean
  observedError?: string
  match?: boolean
}

let pki: Pki
let admin: KeyPair
let node: ValkeyHandle
const alice: Record<'ownCa' | 'otherCa' | 'serverAuthOnly', KeyPair> = {} as never

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['admin', 'alice']})
  admin = pki.clients.admin!
  const other = await makeCa(join(root, 'other-ca'), {cn: 'some other CA'})
  const [otherCa, serverAuthOnly] = await Promise.all([
    issueCert(other, join(root, 'other-ca'), 'alice', {cn: 'alice', usage: 'client'}),
    issueCert(pki.ca, join(root, 'pki'), 'alice-server-auth', {cn: 'alice', usage: 'server'}),
  ])
  Object.assign(alice, {ownCa: pki.clients.alice!, otherCa, serverAuthOnly})
  node = await startValkey({
    tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey, clientCert: admin.cert, clientKey: admin.key},
    authClients: 'yes',
    config: {'tls-auth-clients-user': 'CN', user: ['alice on nopass ~* +@all']},
    name: 'whoami-trust',
  })
}, 60_000)

const serverArgs = () => ['-p', String(node.port), '--cacert', pki.caCert, '--cert', admin.cert, '--key', admin.key]

async function whoami(pair: KeyPair, withKey = true): Promise<{code: number | null; json: WhoamiJson}> {
  const result = await runCli(['whoami', pair.cert, ...(withKey ? ['--verify-key', pair.key] : []), ...serverArgs(), '--json'])
  try {
    return {code: result.code, json: JSON.parse(result.stdout) as WhoamiJson}
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
}

describe('whoami --verify-key against Valkey 9.1 (tls-auth-clients yes, tls-auth-clients-user CN, user alice)', () => {
  it('alice from the node\'s CA: trusted, logs in as alice, and the server agrees', async () => {
    const {code, json} = await whoami(alice.ownCa)
    expect(json).toMatchObject({user: 'alice', reasonCode: 'mapped', trust: {checked: true, accepted: true, reason: null}, observedUser: 'alice', observedAuthenticated: true, match: true})
    expect(code).toBe(0)
  })

  it('alice from another CA: predicted refused (untrusted, OpenSSL\'s one-line reason), and the server refuses it', async () => {
    const {code, json} = await whoami(alice.otherCa)
    expect(json).toMatchObject({user: null, reasonCode: 'untrusted', trust: {checked: true, accepted: false}, observedUser: null, match: true})
    expect(json.trust!.reason).toMatch(/^[^\n]+$/)
    expect(json.trust!.reason).toMatch(/unable to get local issuer certificate|self[- ]signed|unable to verify/)
    expect(json.reason).toContain(json.trust!.reason)
    expect(json.observedError).toBeTruthy()
    expect(code).toBe(0)
  })

  it('alice with a serverAuth-only EKU from the node\'s CA: refused for its purpose, and the server refuses it', async () => {
    const {code, json} = await whoami(alice.serverAuthOnly)
    expect(json.trust).toEqual({checked: true, accepted: false, reason: expect.stringMatching(/unsupported certificate purpose/)})
    expect(json).toMatchObject({user: null, observedUser: null, match: true})
    // The EKU check of the certificate alone already refuses it ('rejected'); the rehearsal agrees.
    expect(['rejected', 'untrusted']).toContain(json.reasonCode)
    expect(json.reason).toMatch(/clientAuth|unsupported certificate purpose/)
    expect(code).toBe(0)
  })

  it('without --verify-key: trust not checked, saying --verify-key would; the human output has the trust line', async () => {
    const {code, json} = await whoami(alice.ownCa, false)
    expect(json.trust).toEqual({checked: false, accepted: null, reason: expect.stringContaining('--verify-key')})
    expect(json).toMatchObject({user: 'alice', reasonCode: 'mapped'})
    expect(json.observedUser).toBeUndefined()
    expect(code).toBe(0)

    const text = await runCli(['whoami', alice.ownCa.cert, ...serverArgs()])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^Logs in as alice/)
    expect(text.stdout.split('\n').filter((line) => /trust/.test(line) && line.includes('--verify-key'))).toHaveLength(1)
  })

  it('the human output says when trust was rehearsed, and why it was refused', async () => {
    const good = await runCli(['whoami', alice.ownCa.cert, '--verify-key', alice.ownCa.key, ...serverArgs()])
    expect(good.code).toBe(0)
    expect(good.stdout).toMatch(/\n {2}trust: the server's CA files accept the certificate \(rehearsed here\)\n/)
    const refused = await runCli(['whoami', alice.otherCa.cert, '--verify-key', alice.otherCa.key, ...serverArgs()])
    expect(refused.code).toBe(0)
    expect(refused.stdout).toMatch(/^Refused: /)
    expect(refused.stdout).toMatch(/\n {2}trust: refused: [^\n]+\n/)
  })
})
