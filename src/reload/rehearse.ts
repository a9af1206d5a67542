import {createHash, type X509Certificate} from 'node:crypto'

import type {Endpoint} from '../transport/options.js'
import {checkName, rehearsePresenting, rehearseServing, type TlsIdentity} from '../pki/rehearse.js'
import type {Problem} from '../pki/verify.js'

/** Another node the node talks to over TLS (cluster bus, replication), as far as it can be seen from here. */
export interface PeerTrust extends Endpoint {
  address: string
  /** The CAs it verifies the node with (tls-ca-cert-file and tls-ca-cert-dir); null: they cannot be read here. */
  caBundle: Buffer | null
  /** Its own files, when they can be read here and hold what it serves: what it presents as server and as client. */
  identity?: TlsIdentity
  clientIdentity?: TlsIdentity
  /** The leaf certificate it served to this tool (DER). */
  servedLeafDer: Buffer | undefined
  /** It verifies the client certificates of links to it (tls-cluster: always; else unless tls-auth-clients no). */
  verifiesClients: boolean
}

/** What is about to be loaded on a node, and whom it must keep working with. */
export interface NodeRehearsal {
  address: string
  /** Names clients reach it by (--sni, else the address the tool used): the new certificate must name them. */
  names: string[]
  /** tls-cert-file + tls-key-file as they are on disk now. */
  server: TlsIdentity
  /** What it presents on its own outgoing links: tls-client-cert-file, else the server certificate. */
  client: TlsIdentity
  clientIsServer: boolean
  /** The new leaf, and the one it serves now (a name neither carries is not this change's fault). */
  leaf: X509Certificate
  servedLeaf?: X509Certificate
  /** The node's own CAs (possibly new); undefined when they cannot be read here. */
  ownTrust?: Buffer
  /** The CAs clients verify it with: --cacert, else its own. */
  clientTrust?: Buffer
  clientTrustName: string
  /** It presents its certificate as a client (tls-cluster, tls-replication or tls-client-cert-file). */
  usesCertAsClient: boolean
  /** It verifies the client certificates of links to it (tls-cluster: always; else unless tls-auth-clients no). */
  verifiesClients: boolean
  /** This tool's own client certificate, when the node will ask clients for one. */
  toolClient?: TlsIdentity
  peers: PeerTrust[]
  /** A peer whose files are not here: a real handshake to it, verifying with `trust`; null when it verifies. */
  liveVerify: (peer: PeerTrust, trust: Buffer) => Promise<string | null>
  /** Verdicts shared across the nodes of one run (most nodes share their CAs). */
  cache: Map<string, Promise<string | null>>
}

/** Verification failures of a peer's own dates are its own (it is reported when its turn comes), not this change's. */
const PEER_OWN = new Set(['certificate has expired', 'certificate is not yet valid'])

/**
 * The handshakes a node's new files must survive, each rehearsed in-process with OpenSSL before anything
 * is sent: (1) clients verifying the node, (2) the node's peers verifying what it presents and serves on
 * bus and replication links, (3) the node's CAs verifying every peer. Problems name the rehearsal and
 * carry OpenSSL's reason; notes say what could not be rehearsed.
 */
export async function rehearseNode(r: NodeRehearsal): Promise<{problems: Problem[]; notes: string[]}> {
  const problems: Problem[] = []
  const notes: string[] = []
  const once = (kind: string, parts: Buffer[], run: () => Promise<string | null>) => {
    const id = createHash('sha256').update(kind)
    for (const part of parts) id.update(part).update('\0')
    const key = id.digest('hex')
    let verdict = r.cache.get(key)
    if (!verdict) r.cache.set(key, verdict = run())
    return verdict
  }
  const serving = (identity: TlsIdentity, trust: Buffer) => once('serve', [identity.cert, identity.key, trust], () => rehearseServing(identity, trust))
  const presenting = (identity: TlsIdentity, trust: Buffer, to: TlsIdentity) => once('present', [identity.cert, identity.key, trust], () => rehearsePresenting(identity, trust, to))
  const clientFile = r.clientIsServer ? 'tls-cert-file' : 'tls-client-cert-file'

  // 1. clients -> node
  if (r.clientTrust) {
    const reason = await serving(r.server, r.clientTrust)
    if (reason) problems.push({code: 'untrusted', message: `rehearsal clients → node: a client verifying with ${r.clientTrustName} would refuse the new tls-cert-file: ${reason}`})
  } else notes.push('no CA to verify the new certificate with (no --cacert, and the node\'s CA files cannot be read here): clients → node not rehearsed')
  for (const name of r.names) {
    const reason = checkName(r.leaf, name)
    if (!reason) continue
    if (r.servedLeaf && checkName(r.servedLeaf, name)) notes.push(`the new certificate does not name ${name}, nor does the one served now: clients that check names must use another (--sni)`)
    else problems.push({code: 'name-mismatch', message: `rehearsal clients → node: the new tls-cert-file ${reason}: clients reaching the node as ${name} would refuse it`})
  }
  if (r.toolClient && r.ownTrust) {
    const reason = await presenting(r.toolClient, r.ownTrust, r.server)
    if (reason) problems.push({code: 'client-rejected', message: `rehearsal clients → node: the node's CA files would refuse this tool's client certificate (--cert): ${reason}; clients like it would be locked out`})
  }

  // 2. node -> peers (and the node itself: its own CAs verify its replicas and bus peers, which share its files' kind)
  // Peers holding the same CA files give the same verdict: rehearsed once, named together.
  const judges = new Map<string, {who: string[]; trust: Buffer; peers: number; verifyClients: boolean}>()
  const judge = (who: string, trust: Buffer, peer: boolean, verifiesClients: boolean) => {
    const id = createHash('sha256').update(trust).digest('hex') + (verifiesClients ? '+' : '-')
    const entry = judges.get(id) ?? {who: [], trust, peers: 0, verifyClients: verifiesClients}
    entry.who.push(who)
    if (peer) entry.peers++
    judges.set(id, entry)
  }
  if (r.ownTrust) judge('the node\'s own CA files', r.ownTrust, false, r.verifiesClients)
  for (const peer of r.peers) {
    if (peer.address === r.address) continue
    if (peer.caBundle) judge(peer.address, peer.caBundle, true, peer.verifiesClients)
    else notes.push(`${peer.address}'s CA files cannot be read here: not rehearsed that it trusts the new certificate`)
  }
  for (const {who, trust, peers, verifyClients} of judges.values()) {
    const named = who.length > 3 ? `${who.slice(0, 3).join(', ')} and ${who.length - 3} more` : who.join(', ')
    if (r.usesCertAsClient && verifyClients) {
      const reason = await presenting(r.client, trust, r.server)
      if (reason) problems.push({code: 'peer-untrusted', message: `rehearsal node → peers: ${named} would refuse the new ${clientFile} as the client certificate of bus and replication links: ${reason}`})
    }
    if (peers > 0) { // peers connect to the node too, verifying what it serves
      const reason = await serving(r.server, trust)
      if (reason) problems.push({code: 'peer-untrusted', message: `rehearsal node → peers: ${named} would refuse the new tls-cert-file when connecting to the node: ${reason}`})
    }
  }

  // 3. peers -> node: the node's (possibly new) CAs must accept every peer
  if (r.ownTrust) {
    for (const peer of r.peers) {
      if (peer.address === r.address) continue
      const reasons: string[] = []
      if (peer.identity) {
        const served = await serving(peer.identity, r.ownTrust)
        if (served) reasons.push(`its certificate: ${served}`)
        const presented = r.verifiesClients ? await presenting(peer.clientIdentity ?? peer.identity, r.ownTrust, r.server) : null
        if (presented) reasons.push(`its client certificate: ${presented}`)
      } else if (peer.servedLeafDer) {
        const served = await once('live', [peer.servedLeafDer, r.ownTrust], () => r.liveVerify(peer, r.ownTrust!))
        if (served) reasons.push(`its certificate: ${served}`)
        notes.push(`${peer.address}'s files cannot be read here: its served certificate was verified, its client certificate was not rehearsed`)
      }
      const fresh = reasons.filter((reason) => !PEER_OWN.has(reason.replace(/^[^:]+: /, '')))
      if (fresh.length > 0) problems.push({code: 'peer-rejected', message: `rehearsal peers → node: the node's CA files would refuse ${peer.address} (${fresh.join('; ')}): the cluster bus and replication would break when links reconnect`})
    }
  }
  return {problems, notes}
}
