import {X509Certificate} from 'node:crypto'
import {access as fsAccess, constants} from 'node:fs/promises'
import {dirname} from 'node:path'

import type {NodeTarget} from '../cluster/discover.js'
import {failureKind} from '../errors.js'
import {identityOf, type LocalMaterial, serverPath} from '../reload/material.js'
import {inspectNode, type NodeAccess, openNodeSession} from '../reload/node.js'
import {type NodeTlsConfig, normalizeSerial} from '../reload/config.js'
import {handshake} from '../transport/handshake.js'
import {boundBy, formatAddress} from '../transport/options.js'
import {refusedWithoutCertificate, sendCommand} from '../transport/resp.js'
import {bundleTrust, type Origin, originOf} from './trust.js'

/** What one node shows of the rotation: what it serves, what its files hold, whom it trusts now. */
export interface NodeState {
  target: NodeTarget
  address: string
  role: NodeTarget['role']
  /** Issuer of the certificate it serves (client port): the new CA, or the old one. */
  served: Origin | null
  /** Issuer of tls-cert-file as read here (differs from `served` between a write and its reload). */
  certFile: Origin | null
  /** tls-client-cert-file's issuer, when the node has one and it is read here; null without one. */
  clientCertFile: Origin | null
  hasClientCert: boolean
  /** What tls-ca-cert-file holds, as read here; null when not read here. */
  caFile: {new: boolean; old: boolean} | null
  /** Whether the running node accepts a certificate from the new CA (a probe certificate presented); null when unknown. */
  trustsNew: boolean | null
  /**
   * Whether the running node still trusts another CA than the new one: INFO tls (Valkey 9.1+) names the CA
   * that expires first of those it loaded; not the new CA's serial means another CA is loaded. Null when
   * it cannot tell (older servers, or the new CA is the one that expires first).
   */
  loadedOld: boolean | null
  /** The node's files can be read and replaced here (the paths are this machine's), and how. */
  local: boolean
  /** Why the files cannot be changed here (remote node, tls-ca-cert-dir, unwritable folder...). */
  manualBecause: string | null
  paths: {cert?: string; clientCert?: string; ca?: string}
  config: NodeTlsConfig
  material: LocalMaterial | null
  /** The served leaf's DER (what a new leaf is re-issued from, with tls-cert-file's own when read). */
  servedLeaf: X509Certificate | null
  error: string | null
  errorKind?: 'auth' | 'server'
  notes: string[]
}

export interface ObserveContext {
  access: NodeAccess
  newCa: X509Certificate
  /** An in-memory certificate from the new CA, to ask a node whether it trusts that CA; none without --new-ca-key. */
  probe?: {cert: Buffer; key: Buffer}
}

/** A node nothing is known of yet (`error` says why, when it stays so). */
export function unobserved(target: NodeTarget, error: string | null = null): NodeState {
  return {
    target, address: formatAddress(target), role: target.role, served: null, certFile: null, clientCertFile: null, hasClientCert: false, caFile: null,
    trustsNew: null, loadedOld: null, local: false, manualBecause: null, paths: {}, config: undefined as unknown as NodeTlsConfig, material: null, servedLeaf: null, error, notes: [],
  }
}

export async function observeNode(target: NodeTarget, context: ObserveContext): Promise<NodeState> {
  const state = unobserved(target)
  const {address} = state
  if (!context.probe) state.notes.push('trust of the new CA read from the CA file (with --new-ca-key the running node is asked)')
  let session
  try {
    session = await openNodeSession(target, context.access)
  } catch (error) {
    return {...state, error: (error as Error).message, errorKind: failureKind(error)}
  }
  try {
    const {view, material} = await inspectNode(target, session, context.access, address)
    state.config = view.config
    state.servedLeaf = view.servedLeafDer ? new X509Certificate(view.servedLeafDer) : null
    state.served = state.servedLeaf ? originOf(state.servedLeaf, context.newCa) : null
    state.hasClientCert = Boolean(view.config.files['tls-client-cert-file'])
    const loadedCa = view.config.loaded.caCertSerial
    if (loadedCa) state.loadedOld = loadedCa !== normalizeSerial(context.newCa.serialNumber) ? true : null
    if ('reads' in material) {
      state.material = material
      const certOrigin = (name: 'tls-cert-file' | 'tls-client-cert-file') => {
        const read = material.reads[name]
        if (!read || !('data' in read)) return null
        try {
          return originOf(new X509Certificate(read.data), context.newCa)
        } catch {
          return null
        }
      }
      state.certFile = certOrigin('tls-cert-file')
      state.clientCertFile = certOrigin('tls-client-cert-file')
      const caRead = material.reads['tls-ca-cert-file']
      if (caRead && 'data' in caRead) state.caFile = bundleTrust(material.caCerts, context.newCa)
    } else state.notes.push(material.unreadable)
    state.paths = {
      cert: pathOf(view.config, 'tls-cert-file'), clientCert: pathOf(view.config, 'tls-client-cert-file'), ca: pathOf(view.config, 'tls-ca-cert-file'),
    }
    state.manualBecause = await whyManual(state)
    state.local = state.manualBecause === null
  } catch (error) {
    state.error = (error as Error).message
    state.errorKind = failureKind(error)
  } finally {
    session.close()
  }
  if (!state.error && context.probe) state.trustsNew = await probeTrust(state, context)
  return state
}

const pathOf = (config: NodeTlsConfig, name: keyof NodeTlsConfig['files']) => (config.files[name] ? serverPath(config, config.files[name]!) : undefined)

/** Why this node's files are not changed from here (the per-node steps are printed instead), or null. */
async function whyManual(state: NodeState): Promise<string | null> {
  if (!state.material) return state.notes[0] ?? 'its files are not read here'
  if (state.config.files['tls-ca-cert-dir']) return 'it uses tls-ca-cert-dir (a hashed folder): place the new CA there by hand'
  if (!state.paths.ca) return 'it has no tls-ca-cert-file (or it is relative to a dir it did not report)'
  if (!state.paths.cert) return 'its tls-cert-file is relative to a dir it did not report'
  if (!identityOf(state.config, state.material, 'server')) return 'its tls-cert-file or tls-key-file cannot be read here'
  for (const path of [state.paths.ca, state.paths.cert, state.paths.clientCert].filter((p): p is string => Boolean(p))) {
    try {
      await fsAccess(dirname(path), constants.W_OK)
      await fsAccess(path, constants.W_OK)
    } catch {
      return `${path} (or its folder) cannot be written here`
    }
  }
  return null
}

/**
 * Whether the running node accepts a certificate from the new CA: presented on its client port (then a
 * PING: a reply of any kind means the certificate was accepted; TLS 1.3 refuses it with an alert on the
 * first read), or, where the node asks clients for none (tls-auth-clients no), on its cluster bus, over
 * TLS 1.2 so the verdict is the handshake's. Null when it cannot be told.
 */
async function probeTrust(state: NodeState, context: ObserveContext): Promise<boolean | null> {
  const {access, probe} = context
  const options = {...access.seed, tls: {...access.seed.tls, cert: probe!.cert, key: probe!.key}}
  const timeoutMs = boundBy(access.seed.timeoutMs, access.deadline)
  if (state.config.authClients !== 'no') {
    const hs = await handshake(options, {at: state.target, timeoutMs, sockets: access.sockets})
    if (!hs.ok) return hs.code.startsWith('ERR_SSL') ? false : null
    const ping = await sendCommand(hs.socket, ['PING'], timeoutMs)
    hs.socket.destroy()
    return ping.ok ? true : refusedWithoutCertificate(ping) ? false : null
  }
  if (!state.config.tlsCluster || !state.target.busPort) return null
  const hs = await handshake(options, {at: {host: state.target.host, port: state.target.busPort}, timeoutMs, sockets: access.sockets, maxVersion: 'TLSv1.2'})
  if (!hs.ok) return hs.code.startsWith('ERR_SSL') ? false : null
  hs.socket.destroy()
  return true
}
