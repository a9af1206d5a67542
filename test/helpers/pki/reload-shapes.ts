/**
 * Certificate files that load fine in Valkey but break someone once links reconnect: the shapes
 * `valkey-tls reload` must refuse by rehearsing handshakes (test/integration/reload-rehearse.test.ts),
 * plus one good renewal. Issued with ./openssl.ts (the `openssl` CLI, extensions chosen line by line),
 * under the cluster's own CA.
 */
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'

import {bundle, type Ca, daysFromNow, DEFAULT_SERVER_SANS, issueIntermediate, issueShape, type KeyPair, leafExtensions, makeCa} from './openssl.js'

export interface ReloadShapes {
  /** A correct renewal from the cluster's CA: serverAuth + clientAuth, SANs DNS:localhost, IP:127.0.0.1, IP:::1. */
  renewal: KeyPair
  /** EKU clientAuth only: clients refuse it as a server certificate ("unsupported certificate purpose"). */
  clientAuthOnly: KeyPair
  /** EKU serverAuth only: peers refuse it as the client certificate of bus and replication links. */
  serverAuthOnly: KeyPair
  /** SANs DNS:other.example only: does not name 127.0.0.1. */
  otherName: KeyPair
  /** keyUsage keyCertSign only: no digitalSignature / keyAgreement for a TLS handshake. */
  keyCertSignOnly: KeyPair
  /** Leaf issued by a CA:FALSE "intermediate" (itself from the CA); cert file = leaf + that intermediate. */
  caFalseIntermediate: KeyPair
  /** Leaf issued by a real intermediate that only becomes valid tomorrow; cert file = leaf + intermediate. */
  notYetValidIntermediate: KeyPair
  /**
   * A leaf from a new CA2, and the CA files that make the peers pin the leaf instead of its issuer:
   * `ownCa` = CA + CA2 (the node that gets the leaf; also what an admin client verifies with),
   * `peerCa` = CA + the leaf itself (every other node).
   */
  pinned: {leaf: KeyPair; ownCa: string; peerCa: string}
}

const leaf = (override: Record<string, string | null> = {}, sans = DEFAULT_SERVER_SANS) => ({cn: 'localhost', extensions: leafExtensions(override, sans)})

/** Every shape, issued in parallel in `dir` (P-256 keys: well under a second in all). */
export async function makeReloadShapes(ca: Ca, dir: string): Promise<ReloadShapes> {
  await mkdir(dir, {recursive: true})
  const [renewal, clientAuthOnly, serverAuthOnly, otherName, keyCertSignOnly, notACa, late, ca2] = await Promise.all([
    issueShape(ca, dir, 'renewal', leaf()),
    issueShape(ca, dir, 'client-auth-only', leaf({extendedKeyUsage: 'clientAuth'})),
    issueShape(ca, dir, 'server-auth-only', leaf({extendedKeyUsage: 'serverAuth'})),
    issueShape(ca, dir, 'other-name', {cn: 'other.example', extensions: leafExtensions({}, ['DNS:other.example'])}),
    issueShape(ca, dir, 'key-cert-sign-only', leaf({keyUsage: 'critical, keyCertSign'})),
    issueShape(ca, dir, 'not-a-ca', {
      cn: 'Not A CA',
      extensions: leafExtensions({keyUsage: 'critical, digitalSignature, keyCertSign', extendedKeyUsage: null}),
    }),
    issueIntermediate(ca, dir, 'late-intermediate', {notBefore: daysFromNow(1), notAfter: daysFromNow(366)}),
    makeCa(join(dir, 'ca2'), {cn: 'valkey-tls test CA2'}),
  ])
  const [ofNotACa, ofLate, pinnedLeaf] = await Promise.all([
    issueShape(notACa, dir, 'leaf-of-not-a-ca', leaf()),
    issueShape(late, dir, 'leaf-of-late-intermediate', leaf()),
    issueShape(ca2, dir, 'pinned-leaf', leaf()),
  ])
  const [notACaChain, lateChain, ownCa, peerCa] = await Promise.all([
    bundle(join(dir, 'leaf-of-not-a-ca.chain.crt'), ofNotACa.cert, notACa.cert),
    bundle(join(dir, 'leaf-of-late-intermediate.chain.crt'), ofLate.cert, late.cert),
    bundle(join(dir, 'ca+ca2.crt'), ca.cert, ca2.cert),
    bundle(join(dir, 'ca+pinned-leaf.crt'), ca.cert, pinnedLeaf.cert),
  ])
  return {
    renewal,
    clientAuthOnly,
    serverAuthOnly,
    otherName,
    keyCertSignOnly,
    caFalseIntermediate: {cert: notACaChain, key: ofNotACa.key},
    notYetValidIntermediate: {cert: lateChain, key: ofLate.key},
    pinned: {leaf: pinnedLeaf, ownCa, peerCa},
  }
}
