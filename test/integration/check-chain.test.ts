/**
 * How `check` names the CA a node's chain leads to, on real Valkey 9.1: the same CA whether or not a node sends
 * its root with its certificate, for a CA without an authorityKeyIdentifier too (certs gen makes its CAs so), on
 * a chain that verified and on one that did not. Valkey sends the root whenever its tls-ca-cert-file holds it
 * (OpenSSL completes the chain it serves from its trust store, by name), so the node that sends its leaf alone
 * trusts an unrelated CA (and asks no client certificate).
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {handshake} from '../../src/transport/handshake.js'
import {runCli} from '../helpers/cli.js'
import {bundle, DEFAULT_SERVER_SANS, issueCert, issueIntermediate, issueShape, leafExtensions, makeCa} from '../helpers/pki/openssl.js'
import {certOf} from '../helpers/pki/read.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, useValkeyCleanup} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-check-chain')

interface CheckJson {
  nodes: {address: string; status: string; error: string | null; ca: string | null; caKeyId: string | null; caFingerprint256: string | null; loaded: {server: string | null; client: string | null; ca: string | null} | null}[]
  findings: string[]
}

async function gen(name: string, args: string[] = []): Promise<string> {
  const dir = join(root, name)
  const result = await runCli(['certs', 'gen', '--out', dir, '--json', ...args], {timeoutMs: 60_000})
  expect(result.code).toBe(0)
  return dir
}

describe('check: the CA of a chain', () => {
  it('is one CA for a node that sends its root and one that does not, verified or not; another CA with the same name is another', async () => {
    const pki = await gen('pki')
    const other = await gen('other') // the same CA name, another key
    const unrelated = await gen('unrelated', ['--ca-name', 'Unrelated CA'])
    const withRoot = join(pki, 'server-and-ca.crt')
    writeFileSync(withRoot, readFileSync(join(pki, 'server.crt'), 'utf8') + readFileSync(join(pki, 'ca.crt'), 'utf8'))
    const tls = {caCert: join(pki, 'ca.crt'), cert: join(pki, 'server.crt'), key: join(pki, 'server.key'), clientCert: join(pki, 'client.crt'), clientKey: join(pki, 'client.key')}
    const leafOnly = await startValkey({tls: {...tls, caCert: join(unrelated, 'ca.crt'), verifyCa: join(pki, 'ca.crt')}, authClients: 'no', name: 'leaf-only'})
    const sendsRoot = await startValkey({tls: {...tls, cert: withRoot}, authClients: 'yes', name: 'sends-root'})
    const nodes = `127.0.0.1:${leafOnly.port},127.0.0.1:${sendsRoot.port}`
    const client = ['--cert', join(pki, 'client.crt'), '--key', join(pki, 'client.key')]
    const check = async (cacert: string) => {
      const result = await runCli(['check', '--nodes', nodes, '--cacert', cacert, ...client, '--json'], {timeoutMs: 30_000})
      return {code: result.code, json: JSON.parse(result.stdout) as CheckJson}
    }

    // Verified: both chains end in the trusted root, sent or not.
    const ok = await check(join(pki, 'ca.crt'))
    expect(ok.json.nodes.map((n) => n.status)).toEqual(['ok', 'ok'])
    const caFingerprint = new (await import('node:crypto')).X509Certificate(readFileSync(join(pki, 'ca.crt'))).fingerprint256
    for (const node of ok.json.nodes) expect(node).toMatchObject({ca: 'CN=Valkey TLS Test CA', caFingerprint256: caFingerprint})
    expect(ok.json.nodes[0]!.caKeyId).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){19}$/)
    expect(ok.json.nodes[1]!.caKeyId).toBe(ok.json.nodes[0]!.caKeyId)
    expect(ok.json.findings.filter((f) => f.startsWith('different CAs'))).toEqual([])

    // Not verified (--cacert of another CA): the chains as sent, still one CA, the same key as above.
    const untrusted = await check(join(other, 'ca.crt'))
    expect(untrusted.json.nodes.map((n) => n.status)).toEqual(['failed', 'failed'])
    expect(untrusted.json.nodes.map((n) => n.error)).toEqual([expect.stringMatching(/^certificate not trusted by --cacert/), expect.stringMatching(/^certificate not trusted by --cacert/)])
    expect(untrusted.json.nodes.map((n) => n.caKeyId)).toEqual([ok.json.nodes[0]!.caKeyId, ok.json.nodes[0]!.caKeyId])
    expect(untrusted.json.nodes.map((n) => n.caFingerprint256)).toEqual([null, caFingerprint]) // the root only where it was sent
    expect(untrusted.json.findings.filter((f) => f.startsWith('different CAs'))).toEqual([])

    // A node that moves to the other CA (same name): two CAs, told apart by key.
    const otherTls = {...tls, cert: join(other, 'server.crt'), key: join(other, 'server.key'), verifyCa: join(other, 'ca.crt')}
    const moved = await startValkey({tls: otherTls, authClients: 'yes', name: 'other-ca'})
    const mixed = await runCli(['check', '--nodes', `${nodes},127.0.0.1:${moved.port}`, '--cacert', join(pki, 'ca.crt'), ...client, '--json'], {timeoutMs: 30_000})
    const findings = (JSON.parse(mixed.stdout) as CheckJson).findings.filter((f) => f.startsWith('different CAs'))
    expect(findings).toHaveLength(1)
    expect([...findings[0]!.matchAll(/"CN=Valkey TLS Test CA \(key id ([0-9A-F:]+)…\)"/g)]).toHaveLength(2)
  }, 120_000)

  it('the root a chain verified against, wherever its CAs are: an intermediate sent by the server or in --cacert, CAs only signatures tell apart', async () => {
    const dir = join(root, 'openssl')
    const ca = await makeCa(dir, {name: 'root', cn: 'Chain Root'})
    const int = await issueIntermediate(ca, dir, 'int')
    const leaf = await issueCert(int, dir, 'leaf', {cn: 'localhost', sans: DEFAULT_SERVER_SANS})
    // Two CAs of one name with no key identifiers at all: only a signature tells which issued the leaf.
    const bare = ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = none', 'authorityKeyIdentifier = none']
    const bareA = await issueShape('self', dir, 'bare-a', {cn: 'Bare CA', extensions: bare})
    const bareB = await issueShape('self', dir, 'bare-b', {cn: 'Bare CA', extensions: bare})
    const bareLeaf = await issueShape(bareA, dir, 'bare-leaf', {cn: 'localhost', extensions: leafExtensions({subjectKeyIdentifier: 'none', authorityKeyIdentifier: 'none'}, DEFAULT_SERVER_SANS)})

    const viaInt = await startValkey({tls: {caCert: ca.cert, cert: await bundle(join(dir, 'leaf-and-int.crt'), leaf.cert, int.cert), key: leaf.key}, authClients: 'no', name: 'via-int'})
    const bareNode = await startValkey({tls: {caCert: bareA.cert, cert: bareLeaf.cert, key: bareLeaf.key}, authClients: 'no', name: 'bare'})
    let bundles = 0
    const check = async (node: {port: number}, ...cas: string[]) => {
      const cacert = await bundle(join(dir, `cacert-${bundles++}.pem`), ...cas)
      const result = await runCli(['check', '--nodes', `127.0.0.1:${node.port}`, '--cacert', cacert, '--cert', leaf.cert, '--key', leaf.key, '--json'], {timeoutMs: 30_000})
      return (JSON.parse(result.stdout) as CheckJson).nodes[0]!
    }
    // A self-signed CA with the intermediate's name but an RSA key: OpenSSL passes it over, it cannot have signed.
    const lookalike = await issueShape('self', dir, 'int-lookalike', {cn: int.cn, extensions: ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash'], keyType: 'rsa'})
    // The intermediate only the server sends, then in --cacert too, then the look-alike in its place: the same root.
    for (const cas of [[ca.cert], [int.cert, ca.cert], [lookalike.cert, ca.cert]]) {
      expect(await check(viaInt, ...cas)).toMatchObject({status: 'ok', ca: 'CN=Chain Root', caFingerprint256: certOf(ca.cert).fingerprint256})
    }
    // Both in --cacert: the one that signed. Names cannot tell them apart, so it is read from Node's chain.
    expect(await check(bareNode, bareA.cert, bareB.cert)).toMatchObject({status: 'ok', ca: 'CN=Bare CA', caFingerprint256: certOf(bareA.cert).fingerprint256})
    // The other first: OpenSSL itself tries only the first CA of that name, as the server would.
    expect(await check(bareNode, bareB.cert, bareA.cert)).toMatchObject({status: 'failed', error: expect.stringContaining('(CERT_SIGNATURE_FAILURE)')})
  }, 120_000)

  it('what a node loaded (INFO tls): no tls-client-cert-file is no client certificate, not one that expires now', async () => {
    const pki = await gen('loaded')
    const tls = {caCert: join(pki, 'ca.crt'), cert: join(pki, 'server.crt'), key: join(pki, 'server.key'), clientCert: join(pki, 'client.crt'), clientKey: join(pki, 'client.key')}
    const own = await startValkey({tls, authClients: 'yes', name: 'own-client-cert', config: {'tls-client-cert-file': join(pki, 'client.crt'), 'tls-client-key-file': join(pki, 'client.key')}})
    const none = await startValkey({tls, authClients: 'yes', name: 'no-client-cert'})
    const args = ['check', '--nodes', `127.0.0.1:${own.port},127.0.0.1:${none.port}`, '--cacert', tls.caCert, '--cert', tls.clientCert, '--key', tls.clientKey]
    const result = await runCli([...args, '--json'], {timeoutMs: 30_000})
    const [withClient, without] = (JSON.parse(result.stdout) as CheckJson).nodes
    // INFO tls counts whole seconds left: within two seconds of the certificate's own notAfter.
    const notAfter = Date.parse(certOf(join(pki, 'client.crt')).validTo)
    expect(Math.abs(Date.parse(withClient!.loaded!.client!) - notAfter)).toBeLessThanOrEqual(2000)
    expect(without!.loaded).toMatchObject({client: null, server: expect.any(String), ca: expect.any(String)})
    // The socket a handshake hands on is as Node made it: its own getPeerCertificate, the whole chain.
    const hs = await handshake({host: '127.0.0.1', port: none.port, timeoutMs: 10_000, tls: {ca: readFileSync(tls.caCert), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey), insecure: false}}, {chain: true})
    if (!hs.ok) throw new Error(hs.failure.cause)
    expect(Object.hasOwn(hs.socket, 'getPeerCertificate')).toBe(false)
    expect(hs.socket.getPeerCertificate(true).issuerCertificate?.fingerprint256).toBe(certOf(tls.caCert).fingerprint256)
    expect(hs.certificate?.caFingerprint256).toBe(certOf(tls.caCert).fingerprint256)
    hs.socket.destroy()
    const metrics = await runCli([...args, '--format', 'prometheus'], {timeoutMs: 30_000})
    expect(metrics.stdout.match(/^valkey_tls_loaded_cert_not_after_timestamp_seconds\{node="[^"]+",cert="client"\}/gm)).toEqual([
      `valkey_tls_loaded_cert_not_after_timestamp_seconds{node="127.0.0.1:${own.port}",cert="client"}`,
    ])
  }, 120_000)
})
