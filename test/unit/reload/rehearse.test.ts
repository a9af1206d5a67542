/**
 * rehearseNode: the handshakes a node's new files must survive, rehearsed in-process with OpenSSL on
 * real certificate files (clients -> node, node -> peers, peers -> node). Peers whose files are not
 * here are verified through `liveVerify`, which reload injects (a real handshake): here a fake that
 * records its calls, so no test reaches the network.
 */
import {readFileSync} from 'node:fs'

import {beforeAll, describe, expect, it} from 'vitest'

import {type NodeRehearsal, type PeerTrust, rehearseNode} from '../../../src/reload/rehearse.js'
import {type Ca, issueCert, type KeyPair, makeCa, makeExpiredCert} from '../../helpers/pki/openssl.js'
import {certOf, tlsIdentity} from '../../helpers/pki/read.js'
import {makeTempDir} from '../../helpers/temp.js'

let dir: string
let caA: Ca // the node's and its peers' CA
let caB: Ca // someone else's
const c = {} as Record<'node' | 'old' | 'fresh' | 'serverOnly' | 'clientOnly' | 'otherName' | 'clientB' | 'peerA' | 'peerB' | 'peerExpired' | 'toolA' | 'toolB', KeyPair>

beforeAll(async () => {
  dir = makeTempDir('vtls-rehearse-node')
  ;[caA, caB] = await Promise.all([makeCa(dir, {name: 'caA'}), makeCa(dir, {name: 'caB'})])
  const sans = ['DNS:localhost', 'IP:127.0.0.1']
  await Promise.all([
    issueCert(caA, dir, 'node', {cn: 'localhost', sans}).then((k) => { c.node = k }),
    issueCert(caA, dir, 'old', {cn: 'localhost', sans}).then((k) => { c.old = k }),
    issueCert(caA, dir, 'fresh', {cn: 'localhost', sans}).then((k) => { c.fresh = k }),
    issueCert(caA, dir, 'server-only', {cn: 'localhost', sans, usage: 'server'}).then((k) => { c.serverOnly = k }),
    issueCert(caA, dir, 'client-only', {cn: 'localhost', sans, usage: 'client'}).then((k) => { c.clientOnly = k }),
    issueCert(caA, dir, 'other-name', {cn: 'other.example', sans: ['DNS:other.example']}).then((k) => { c.otherName = k }),
    issueCert(caB, dir, 'client-b', {cn: 'client-b', usage: 'client'}).then((k) => { c.clientB = k }),
    issueCert(caA, dir, 'peer-a', {cn: 'peer-a'}).then((k) => { c.peerA = k }),
    issueCert(caB, dir, 'peer-b', {cn: 'peer-b'}).then((k) => { c.peerB = k }),
    makeExpiredCert(caA, dir, 'peer-expired', {cn: 'peer-expired'}).then((k) => { c.peerExpired = k }),
    issueCert(caA, dir, 'tool-a', {cn: 'admin', usage: 'client'}).then((k) => { c.toolA = k }),
    issueCert(caB, dir, 'tool-b', {cn: 'admin', usage: 'client'}).then((k) => { c.toolB = k }),
  ])
})

const ADDRESS = '10.0.0.1:6379'
const pem = (ca: Ca) => readFileSync(ca.cert)

/** A liveVerify for tests where no peer may need one: calling it fails the test. */
const noLiveVerify: NodeRehearsal['liveVerify'] = async (peer) => {
  throw new Error(`liveVerify called for ${peer.address}`)
}

/** A liveVerify that answers `reason` and records what it was asked. */
function fakeLiveVerify(reason: string | null) {
  const calls: Array<{address: string; trust: Buffer}> = []
  const liveVerify: NodeRehearsal['liveVerify'] = async (peer, trust) => {
    calls.push({address: peer.address, trust})
    return reason
  }
  return {calls, liveVerify}
}

/** The node's new files hold `kp` (server and client certificate), CA A, reached as localhost. */
function node(kp: KeyPair = c.node, extra: Partial<NodeRehearsal> = {}): NodeRehearsal {
  return {
    address: ADDRESS, names: ['localhost'],
    server: tlsIdentity(kp), client: tlsIdentity(kp), clientIsServer: true,
    leaf: certOf(kp.cert), servedLeaf: certOf(c.old.cert),
    ownTrust: pem(caA), clientTrust: pem(caA), clientTrustName: '--cacert',
    usesCertAsClient: true, verifiesClients: true, peers: [], liveVerify: noLiveVerify, cache: new Map(),
    ...extra,
  }
}

/** A peer trusting `ca` (null: its CA files cannot be read here), serving `kp`; `readable`: its files are here. */
function peer(address: string, ca: Ca | null, kp: KeyPair, readable = true, verifiesClients = true): PeerTrust {
  const [host, port] = address.split(':')
  return {
    host: host!, port: Number(port), address,
    caBundle: ca ? pem(ca) : null,
    identity: readable ? tlsIdentity(kp) : undefined,
    servedLeafDer: certOf(kp.cert).raw,
    verifiesClients,
  }
}

const codes = (r: {problems: Array<{code: string}>}) => r.problems.map((p) => p.code)

describe('rehearseNode: all good', () => {
  it('finds nothing when clients, peers and the node trust each other', async () => {
    const r = await rehearseNode(node(c.node, {peers: [peer('10.0.0.2:6379', caA, c.peerA), peer('10.0.0.3:6379', caA, c.peerA)]}))
    expect(r).toEqual({problems: [], notes: []})
  })
})

describe('rehearseNode: clients -> node', () => {
  it('refuses a certificate clients do not trust (untrusted), naming the CA they verify with', async () => {
    const r = await rehearseNode(node(c.node, {clientTrust: pem(caB), clientTrustName: '--cacert'}))
    expect(codes(r)).toEqual(['untrusted'])
    expect(r.problems[0]!.message).toMatch(/^rehearsal clients → node: a client verifying with --cacert would refuse the new tls-cert-file: unable to verify the first certificate$/)
  })

  it('refuses a client-only certificate as the server certificate', async () => {
    const r = await rehearseNode(node(c.clientOnly, {clientTrustName: 'the node\'s CA files'}))
    expect(codes(r)).toEqual(['untrusted'])
    expect(r.problems[0]!.message).toContain('a client verifying with the node\'s CA files would refuse')
    expect(r.problems[0]!.message).toMatch(/unsupported certificate purpose$/)
  })

  it('notes that nothing verified the new certificate when there is no CA to verify it with', async () => {
    const r = await rehearseNode(node(c.clientOnly, {clientTrust: undefined, usesCertAsClient: false}))
    expect(r.problems).toEqual([])
    expect(r.notes).toEqual(['no CA to verify the new certificate with (no --cacert, and the node\'s CA files cannot be read here): clients → node not rehearsed'])
  })

  it('refuses a certificate that does not name what clients reach the node by (name-mismatch)', async () => {
    const r = await rehearseNode(node(c.otherName, {names: ['localhost']}))
    expect(codes(r)).toEqual(['name-mismatch'])
    expect(r.problems[0]!.message).toMatch(/^rehearsal clients → node: the new tls-cert-file does not name localhost \(subjectAltName DNS:other\.example\).*clients reaching the node as localhost would refuse it$/)
    // Without a served certificate to compare with, too.
    expect(codes(await rehearseNode(node(c.otherName, {servedLeaf: undefined})))).toEqual(['name-mismatch'])
    // IP addresses and every name are checked.
    expect(codes(await rehearseNode(node(c.node, {names: ['127.0.0.1', 'localhost']})))).toEqual([])
    const some = await rehearseNode(node(c.node, {names: ['127.0.0.1', '10.0.0.1'], servedLeaf: undefined}))
    expect(codes(some)).toEqual(['name-mismatch'])
    expect(some.problems[0]!.message).toContain('as 10.0.0.1 would refuse it')
  })

  it('only notes a name the certificate served now lacks too: not this change\'s fault', async () => {
    const r = await rehearseNode(node(c.fresh, {names: ['other.example'], servedLeaf: certOf(c.old.cert)}))
    expect(r.problems).toEqual([])
    expect(r.notes).toEqual(['the new certificate does not name other.example, nor does the one served now: clients that check names must use another (--sni)'])
    // The served certificate did name it: the new one breaks those clients.
    const broke = await rehearseNode(node(c.fresh, {names: ['other.example'], servedLeaf: certOf(c.otherName.cert)}))
    expect(codes(broke)).toEqual(['name-mismatch'])
  })

  it('refuses CA files that would lock out this tool\'s client certificate (client-rejected)', async () => {
    const r = await rehearseNode(node(c.node, {toolClient: tlsIdentity(c.toolB)}))
    expect(codes(r)).toEqual(['client-rejected'])
    expect(r.problems[0]!.message).toMatch(/^rehearsal clients → node: the node's CA files would refuse this tool's client certificate \(--cert\): unable to verify the first certificate; clients like it would be locked out$/)
    expect(codes(await rehearseNode(node(c.node, {toolClient: tlsIdentity(c.toolA)})))).toEqual([])
    // Without the node's CA files here, that cannot be rehearsed.
    expect(codes(await rehearseNode(node(c.node, {toolClient: tlsIdentity(c.toolB), ownTrust: undefined})))).toEqual([])
  })
})

describe('rehearseNode: node -> peers', () => {
  it('refuses a certificate a peer does not trust (peer-untrusted), naming that peer only', async () => {
    const r = await rehearseNode(node(c.node, {peers: [peer('10.0.0.2:6379', caA, c.peerA), peer('10.0.0.3:6379', caB, c.peerA)]}))
    expect(codes(r)).toEqual(['peer-untrusted', 'peer-untrusted'])
    const [asClient, asServer] = r.problems.map((p) => p.message)
    expect(asClient).toMatch(/^rehearsal node → peers: 10\.0\.0\.3:6379 would refuse the new tls-cert-file as the client certificate of bus and replication links: unable to verify the first certificate$/)
    expect(asServer).toMatch(/^rehearsal node → peers: 10\.0\.0\.3:6379 would refuse the new tls-cert-file when connecting to the node: unable to verify the first certificate$/)
    for (const message of [asClient, asServer]) expect(message).not.toContain('10.0.0.2')
  })

  it('rehearses peers holding the same CA files once, naming them together', async () => {
    const peers = ['10.0.0.2:6379', '10.0.0.3:6379', '10.0.0.4:6379', '10.0.0.5:6379'].map((a) => peer(a, caB, c.peerA))
    const r = await rehearseNode(node(c.node, {peers}))
    expect(codes(r)).toEqual(['peer-untrusted', 'peer-untrusted'])
    expect(r.problems[0]!.message).toContain('10.0.0.2:6379, 10.0.0.3:6379, 10.0.0.4:6379 and 1 more would refuse')
  })

  it('without a client certificate in use, only checks that peers accept what the node serves', async () => {
    const r = await rehearseNode(node(c.node, {usesCertAsClient: false, peers: [peer('10.0.0.3:6379', caB, c.peerA)]}))
    expect(codes(r)).toEqual(['peer-untrusted'])
    expect(r.problems[0]!.message).toContain('when connecting to the node')
  })

  it('rehearses no presenting when the node does not use its certificate as a client: a serverAuth-only leaf passes', async () => {
    const r = await rehearseNode(node(c.serverOnly, {usesCertAsClient: false, peers: [peer('10.0.0.2:6379', caA, c.peerA)]}))
    expect(r).toEqual({problems: [], notes: []})
  })

  it('refuses a serverAuth-only leaf used as the client certificate, judged by the node\'s own CA files even without peers', async () => {
    const r = await rehearseNode(node(c.serverOnly))
    expect(codes(r)).toEqual(['peer-untrusted'])
    expect(r.problems[0]!.message).toBe('rehearsal node → peers: the node\'s own CA files would refuse the new tls-cert-file as the client certificate of bus and replication links: unsupported certificate purpose')
  })

  it('replication links to nodes that ask no client certificate (tls-auth-clients no, no tls-cluster): a serverAuth-only leaf passes', async () => {
    const r = await rehearseNode(node(c.serverOnly, {verifiesClients: false, peers: [peer('10.0.0.2:6379', caA, c.peerA, true, false)]}))
    expect(r).toEqual({problems: [], notes: []})
    // The same peer asking for client certificates refuses it.
    const strict = await rehearseNode(node(c.serverOnly, {verifiesClients: false, peers: [peer('10.0.0.2:6379', caA, c.peerA)]}))
    expect(codes(strict)).toEqual(['peer-untrusted'])
    expect(strict.problems[0]!.message).toMatch(/^rehearsal node → peers: 10\.0\.0\.2:6379 would refuse .*: unsupported certificate purpose$/)
  })

  it('names tls-client-cert-file when that is what the node presents', async () => {
    // The node trusts A only; its client certificate is B's.
    const r = await rehearseNode(node(c.node, {client: tlsIdentity(c.clientB), clientIsServer: false}))
    expect(codes(r)).toEqual(['peer-untrusted'])
    expect(r.problems[0]!.message).toMatch(/the node's own CA files would refuse the new tls-client-cert-file as the client certificate/)
    // A client-only certificate is fine there.
    expect(codes(await rehearseNode(node(c.node, {client: tlsIdentity(c.clientOnly), clientIsServer: false})))).toEqual([])
  })

  it('only notes a peer whose CA files cannot be read here', async () => {
    const r = await rehearseNode(node(c.node, {peers: [peer('10.0.0.2:6379', null, c.peerA)]}))
    expect(r.problems).toEqual([])
    expect(r.notes).toEqual(['10.0.0.2:6379\'s CA files cannot be read here: not rehearsed that it trusts the new certificate'])
  })

  it('ignores the node itself among the peers', async () => {
    const r = await rehearseNode(node(c.node, {peers: [peer(ADDRESS, caB, c.peerB, false), peer(ADDRESS, null, c.peerB), peer('10.0.0.2:6379', caA, c.peerA)]}))
    expect(r).toEqual({problems: [], notes: []})
  })
})

describe('rehearseNode: peers -> node', () => {
  it('refuses CA files that would not accept what a peer serves and presents (peer-rejected)', async () => {
    const r = await rehearseNode(node(c.node, {peers: [peer('10.0.0.2:6379', caA, c.peerB)]}))
    expect(codes(r)).toEqual(['peer-rejected'])
    expect(r.problems[0]!.message).toBe('rehearsal peers → node: the node\'s CA files would refuse 10.0.0.2:6379 (its certificate: unable to verify the first certificate; '
      + 'its client certificate: unable to verify the first certificate): the cluster bus and replication would break when links reconnect')
  })

  it('judges a peer\'s own client certificate apart', async () => {
    const r = await rehearseNode(node(c.node, {peers: [{...peer('10.0.0.2:6379', caA, c.peerA), clientIdentity: tlsIdentity(c.clientB)}]}))
    expect(codes(r)).toEqual(['peer-rejected'])
    expect(r.problems[0]!.message).toContain('(its client certificate: unable to verify the first certificate)')
    expect(r.problems[0]!.message).not.toContain('its certificate:')
  })

  it('verifies a peer whose files are not here through liveVerify, with the node\'s CA files', async () => {
    const {calls, liveVerify} = fakeLiveVerify('unable to verify the first certificate')
    const r = await rehearseNode(node(c.node, {liveVerify, peers: [peer('10.0.0.2:6379', caA, c.peerB, false)]}))
    expect(calls).toHaveLength(1)
    expect(calls[0]!.address).toBe('10.0.0.2:6379')
    expect(calls[0]!.trust.equals(pem(caA))).toBe(true)
    expect(codes(r)).toEqual(['peer-rejected'])
    expect(r.problems[0]!.message).toContain('would refuse 10.0.0.2:6379 (its certificate: unable to verify the first certificate)')
    expect(r.notes).toEqual(['10.0.0.2:6379\'s files cannot be read here: its served certificate was verified, its client certificate was not rehearsed'])
  })

  it('accepts a peer liveVerify finds trusted, and asks nothing of a peer that served no certificate', async () => {
    const {calls, liveVerify} = fakeLiveVerify(null)
    const r = await rehearseNode(node(c.node, {liveVerify, peers: [peer('10.0.0.2:6379', caA, c.peerA, false), {...peer('10.0.0.3:6379', caA, c.peerA, false), servedLeafDer: undefined}]}))
    expect(r.problems).toEqual([])
    expect(calls.map((call) => call.address)).toEqual(['10.0.0.2:6379'])
  })

  it('leaves a peer\'s own expired certificate to that peer (reported when its turn comes)', async () => {
    const own = await rehearseNode(node(c.node, {peers: [peer('10.0.0.2:6379', caA, c.peerExpired)]}))
    expect(own.problems).toEqual([])
    const {liveVerify} = fakeLiveVerify('certificate has expired')
    const live = await rehearseNode(node(c.node, {liveVerify, peers: [peer('10.0.0.2:6379', caA, c.peerExpired, false)]}))
    expect(live.problems).toEqual([])
  })

  it('rehearses nothing towards the node without its CA files', async () => {
    const r = await rehearseNode(node(c.node, {ownTrust: undefined, peers: [peer('10.0.0.2:6379', caA, c.peerB, false)]}))
    expect(r.problems).toEqual([])
  })
})

describe('rehearseNode: verdicts shared across the nodes of a run', () => {
  it('fills the cache, and a second node with the same files and CAs runs no new handshake', async () => {
    const cache = new Map<string, Promise<string | null>>()
    const {calls, liveVerify} = fakeLiveVerify(null)
    const peers = [peer('10.0.0.2:6379', caA, c.peerA), peer('10.0.0.3:6379', caA, c.peerA, false)]
    const first = await rehearseNode(node(c.node, {cache, liveVerify, peers}))
    expect(first.problems).toEqual([])
    const filled = cache.size
    expect(filled).toBeGreaterThan(0)
    expect(calls).toHaveLength(1)

    const second = await rehearseNode(node(c.node, {cache, liveVerify, peers, address: '10.0.0.9:6379'}))
    expect(second.problems).toEqual([])
    expect(cache.size).toBe(filled)
    expect(calls).toHaveLength(1) // the live verdict too

    // Other files: their own verdicts (the peers' own are reused).
    await rehearseNode(node(c.fresh, {cache, liveVerify, peers}))
    expect(cache.size).toBeGreaterThan(filled)
    expect(calls).toHaveLength(1)
  })

  it('reuses a cached refusal as a refusal', async () => {
    const cache = new Map<string, Promise<string | null>>()
    const first = await rehearseNode(node(c.serverOnly, {cache}))
    const size = cache.size
    const second = await rehearseNode(node(c.serverOnly, {cache}))
    expect(cache.size).toBe(size)
    expect(second).toEqual(first)
    expect(codes(second)).toEqual(['peer-untrusted'])
  })
})
