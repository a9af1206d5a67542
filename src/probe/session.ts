import type {X509Certificate} from 'node:crypto'

import type {CommandRunner} from '../cluster/discover.js'
import {authCommand, type ConnectOptions, type Endpoint, formatAddress} from '../server/connection.js'
import {handshake, type HandshakeOptions, type ServedCertificate} from './handshake.js'
import {anchoredIn} from '../pki/anchor.js'
import {isErrorReply, refusedWithoutCertificate, sendCommand} from './resp.js'

export interface RawSession {
  call: CommandRunner
  close(): void
  /** What the server presented in this session's handshake. */
  served: ServedCertificate | null
  /** The served leaf, with `issuerCertificate` leading through the chain the server sent. */
  peer: X509Certificate | undefined
  /** A verification error the caller chose to tolerate (see `tolerate`), else null. */
  verifyError: string | null
}

export interface SessionOptions extends HandshakeOptions {
  user?: string
  password?: string
  /** Verification errors that do not end the session (reload connects to nodes serving an expired certificate). */
  tolerate?: string[]
}

/** The served leaf and the certificates the server sent after it, leaf first. */
export function servedChain(peer: X509Certificate | undefined): X509Certificate[] {
  const chain: X509Certificate[] = []
  const seen = new Set<string>()
  for (let c = peer; c && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    chain.push(c)
    seen.add(c.fingerprint256)
  }
  return chain
}

/** The server answered with an error reply (as opposed to no answer: timeout, closed connection). */
export class ReplyError extends Error {}

/** Handshake options for `at` (default: the seed itself) with the seed's TLS material and credentials. */
export function sessionOptions(seed: ConnectOptions, at: Endpoint = seed, timeoutMs = seed.timeoutMs): SessionOptions {
  const {tls} = seed
  return {
    host: at.host, port: at.port, ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername, insecure: tls.insecure,
    user: seed.user, password: seed.password, timeoutMs,
  }
}

/**
 * A raw TLS connection that runs commands one at a time (AUTH first when a password is given): the
 * lightweight way `check` and `reload` talk to nodes. Failures throw one line naming the cause.
 */
export async function openRawSession(options: SessionOptions): Promise<RawSession> {
  const at = formatAddress(options)
  const hs = await handshake(options)
  if (!hs.ok) throw new Error(`${at}: ${hs.error}`)
  // A tolerated error (an expired certificate reload is to replace) only when the chain still leads to our CA:
  // OpenSSL reports its last error only, so "expired" could otherwise hide "untrusted".
  const tolerated = hs.verifyError !== null && options.tolerate?.includes(hs.verifyError) && anchoredIn(servedChain(hs.peer), options.ca)
  if (hs.verifyError && !tolerated) {
    hs.socket.destroy()
    throw new Error(`${at}: server certificate not verified (${hs.verifyError})`)
  }
  const socket = hs.socket
  const call: CommandRunner = async (...args) => {
    const outcome = await sendCommand(socket, args, options.timeoutMs)
    if (!outcome.ok) {
      const refused = /certificate required/.test(outcome.error) || (!options.cert && refusedWithoutCertificate(outcome))
      const hint = refused ? ': the server requires a client certificate (--cert/--key)' : ''
      throw new Error(`${at}: ${args.slice(0, 2).join(' ')}: ${outcome.error}${hint}`)
    }
    if (isErrorReply(outcome.reply)) {
      const code = outcome.reply.error.split(' ')[0]
      const hint = code === 'NOAUTH' ? ' (set VALKEY_TLS_PASSWORD)' : code === 'NOPERM' ? ` (user "${options.user ?? 'default'}" may not run it)` : ''
      throw new ReplyError(`${at}: ${args[0] === 'AUTH' ? 'AUTH' : args.slice(0, 2).join(' ')}: ${outcome.reply.error}${hint}`)
    }
    return outcome.reply
  }
  try {
    if (options.password !== undefined) await call(...authCommand(options.user, options.password))
  } catch (error) {
    socket.destroy()
    throw error
  }
  return {call, close: () => socket.destroy(), served: hs.certificate, peer: hs.peer, verifyError: hs.verifyError}
}
