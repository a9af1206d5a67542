import type {TLSSocket} from 'node:tls'

import type {AllowFilter} from '../cluster/allow.js'
import type {NodeTarget} from '../cluster/discover.js'
import {TransportError} from '../transport/errors.js'
import {handshake, type ServedCertificate} from '../transport/handshake.js'
import {boundBy, type ConnectOptions} from '../transport/options.js'
import {openSession, type Session} from '../transport/session.js'
import type {NodeView} from './assess.js'
import {parseTlsConfig, TLS_FILE_SETTINGS} from './config.js'
import {isThisMachine} from './local.js'
import {type LocalMaterial, readLocalMaterial} from './material.js'

/**
 * Served certificates that do not stop reload from connecting, when their chain still leads to --cacert:
 * they are what it is there to replace (out of date, or loaded by a run that lost a race with a bad file).
 */
export const TOLERATED = ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'INVALID_PURPOSE']

/** How a run reaches its nodes: the connection options, the file policy, the deadline, the open sockets. */
export interface NodeAccess {
  seed: ConnectOptions
  /** Whether the node's files (its own paths) are read here: auto = when the node is this machine. */
  readFiles: 'auto' | 'always' | 'never'
  /** Epoch ms: no step waits past it. */
  deadline: number
  sockets: Set<TLSSocket>
  /** Nodes it may connect to (--allow-target); undefined: any. */
  allow?: AllowFilter
}

export interface Inspected {
  view: NodeView
  material: LocalMaterial | {unreadable: string}
  /** Verification error of the served certificate that was tolerated (expired...), else null. */
  verifyError: string | null
}

/** --timeout, cut to what is left before the overall deadline. */
export const stepTimeout = (s: NodeAccess) => boundBy(s.seed.timeoutMs, s.deadline)

export function openNodeSession(target: NodeTarget, access: NodeAccess): Promise<Session> {
  return openSession(access.seed, {at: target, timeoutMs: stepTimeout(access), deadline: access.deadline, tolerate: TOLERATED, sockets: access.sockets})
}

/** CONFIG GET tls-* and INFO tls over `session`, the served chain from its handshake, and the node's files when readable here. */
export async function inspectNode(target: NodeTarget, session: Session, access: NodeAccess, address: string): Promise<Inspected> {
  // Two patterns and two sections in one call each (Redis 7+, Valkey): dir resolves relative paths, run_id names the server.
  const [settings, info] = await session.pipeline(['CONFIG', 'GET', 'tls-*', 'dir'], ['INFO', 'server', 'tls'])
  const config = parseTlsConfig(settings!, String(info ?? ''))
  const view: NodeView = {address, config, served: session.served, servedLeafDer: session.leafDer ?? undefined}
  return {view, material: await readMaterial(target, view, access), verifyError: session.verifyError}
}

export async function readMaterial(target: NodeTarget, view: NodeView, access: NodeAccess): Promise<Inspected['material']> {
  if (access.readFiles === 'never') return {unreadable: 'the node\'s files are not read here (--read-files never)'}
  if (access.readFiles === 'auto' && !(await isThisMachine(target.host, stepTimeout(access)))) {
    return {unreadable: `${target.host} is not this machine, so its file paths do not name its files here (--read-files always if they do)`}
  }
  for (const value of Object.values(view.config.files)) {
    // A path that came back as invalid UTF-8 would be sent back altered: leave such a node alone.
    if (value.includes('\uFFFD')) return {unreadable: `a TLS file path of the node is not valid UTF-8`}
  }
  return readLocalMaterial(view.config)
}

/**
 * The reload itself: one CONFIG SET of every TLS file setting to its current value (atomic: all files or
 * none, and every file is re-read even though no value changes). Throws one line when the server refuses.
 */
export async function configSet(session: Session, view: NodeView): Promise<void> {
  const args = TLS_FILE_SETTINGS.flatMap((name) => (view.config.files[name] ? [name, view.config.files[name]!] : []))
  try {
    await session.call('CONFIG', 'SET', ...args)
  } catch (error) {
    if (error instanceof TransportError && error.reply !== undefined) throw new Error(`${error.message} (the node kept its previous certificate; the exact cause is in its log)`)
    throw new Error(`${(error as Error).message}: unknown whether the node applied the CONFIG SET`)
  }
}

export type Served = {ok: true; served: ServedCertificate | null; verifyError: string | null} | {ok: false; error: string}

/** A fresh handshake: what the node serves to a new client now. */
export async function servedNow(target: NodeTarget, access: NodeAccess): Promise<Served> {
  const hs = await handshake(access.seed, {at: target, timeoutMs: stepTimeout(access), sockets: access.sockets})
  if (!hs.ok) return {ok: false, error: hs.failure.cause}
  hs.socket.destroy()
  return {ok: true, served: hs.certificate, verifyError: hs.verifyError}
}
