import type {TLSSocket} from 'node:tls'

import {anchoredIn} from './anchor.js'
import {passwordFor} from './auth.js'
import {commandName, PLAINTEXT, replyFailure, socketFailure, timeoutFailure, TransportError, verifyFailure} from './errors.js'
import {answersPlaintext, handshake, type HandshakeExtra, type HandshakeFailed, type HandshakeOk, type ServedCertificate, servedChain} from './handshake.js'
import {authCommand, boundBy, type ConnectOptions, type Endpoint, formatAddress} from './options.js'
import {isErrorReply, type RespValue, sendCommand, sendCommands} from './resp.js'

export interface Session {
  readonly address: string
  /** Runs one command; an error reply or a transport failure throws a TransportError. */
  call(...args: Array<string | Buffer>): Promise<RespValue>
  /** Like call(), with bulk replies as Buffers (names compared byte for byte). */
  callBuffer(...args: Array<string | Buffer>): Promise<RespValue>
  /** Runs commands in one round trip; the replies in order, or the first failure thrown as call() would. */
  pipeline(...commands: Array<Array<string | Buffer>>): Promise<RespValue[]>
  close(): void
  /** The handshake that opened it: what the server presented, and the verification result. */
  readonly handshake: HandshakeOk
  readonly served: ServedCertificate | null
  /** The served leaf certificate (DER), null when the server sent none. */
  readonly leafDer: Buffer | null
  /** A verification error the caller chose to tolerate (see `tolerate`), else null. */
  readonly verifyError: string | null
}

export interface SessionExtra extends HandshakeExtra {
  /** Verification errors that do not end the session (reload connects to nodes serving an expired certificate). */
  tolerate?: string[]
  /** AUTH first when a password is given (default true), with a password fetched for this connection. */
  auth?: boolean
  /** Epoch ms: no reply is waited for past it, whatever `timeoutMs` says (a seed trickling bytes, an overall --deadline). */
  deadline?: number
}

/**
 * A TLS connection to one node that runs commands one at a time, AUTH first when a password is given:
 * how every command talks to servers. Every wait is bounded. Failures throw one line naming the
 * address, the cause and the fix (TransportError, with the exit-code kind).
 */
export async function openSession(options: ConnectOptions, extra: SessionExtra = {}): Promise<Session> {
  const endpoint = extra.at ?? options
  const at = formatAddress(endpoint)
  const timeoutMs = extra.timeoutMs ?? options.timeoutMs
  const withCert = (extra.withCert ?? true) && Boolean(options.tls.cert)
  const left = () => Math.min(timeoutMs, (extra.deadline ?? Infinity) - Date.now())
  const hs = await handshake(options, {...extra, timeoutMs: boundBy(timeoutMs, extra.deadline)})
  if (!hs.ok) throw new TransportError(at, await explainHandshake(hs, endpoint, left()))
  // A tolerated error (an expired certificate reload is to replace) only when the chain still leads to our CA:
  // OpenSSL reports its last error only, so "expired" could otherwise hide "untrusted".
  const tolerated = hs.verifyError !== null && extra.tolerate?.includes(hs.verifyError) && anchoredIn(servedChain(hs.peer), extra.ca ?? options.tls.ca)
  if (hs.verifyError && !tolerated) {
    hs.socket.destroy()
    throw new TransportError(at, verifyFailure(hs.verifyError, hs.certificate, options.tls.servername ?? endpoint.host))
  }
  const socket: TLSSocket = hs.socket
  // Commands in one write (one round trip), their replies checked in order: the first failure throws.
  const runAll = async (commands: Array<Array<string | Buffer>>, binary: boolean) => {
    const wait = boundBy(timeoutMs, extra.deadline)
    const outcomes = await sendCommands(socket, commands, wait, binary)
    const replies: RespValue[] = []
    for (const [i, outcome] of outcomes.entries()) {
      const args = commands[i]!
      const command = args[0] === 'AUTH' ? 'AUTH' : commandName(args)
      if (!outcome.ok) {
        const failure = outcome.code === 'TIMEOUT'
          ? timeoutFailure('reply', Math.round(wait) / 1000, command)
          : socketFailure(outcome.error, {tcpConnected: true, afterHandshake: true, withCert})
        throw new TransportError(at, {...failure, cause: `${command}: ${failure.cause}`}, {cause: outcome.error})
      }
      if (isErrorReply(outcome.reply)) {
        const reply = outcome.reply.error
        // NOPERM names the user: the one this connection really is (a client certificate may have logged it in as another).
        const user = options.user ?? (reply.startsWith('NOPERM') && command !== 'ACL WHOAMI' ? await whoAmI(socket, wait) : undefined)
        throw new TransportError(at, replyFailure(reply, {command, user}), {reply})
      }
      replies.push(outcome.reply)
    }
    return replies
  }
  const session: Session = {
    address: at,
    call: async (...args) => (await runAll([args], false))[0]!,
    callBuffer: async (...args) => (await runAll([args], true))[0]!,
    pipeline: (...commands) => runAll(commands, false),
    close: () => socket.destroy(),
    handshake: hs,
    served: hs.certificate,
    leafDer: hs.leafDer,
    verifyError: hs.verifyError,
  }
  try {
    if ((extra.auth ?? true) && options.password !== undefined) await session.call(...authCommand(options.user, await passwordFor(options.password, at)))
  } catch (error) {
    socket.destroy()
    throw error
  }
  return session
}

async function whoAmI(socket: TLSSocket, timeoutMs: number): Promise<string | undefined> {
  const outcome = await sendCommand(socket, ['ACL', 'WHOAMI'], timeoutMs)
  return outcome.ok && typeof outcome.reply === 'string' ? outcome.reply : undefined
}

/**
 * A failed handshake in words; a timeout after TCP connected may be a plaintext port given for the tls-port,
 * which is asked within `timeoutMs` (what is left of the deadline: nothing left, no question).
 */
export async function explainHandshake(failed: HandshakeFailed, endpoint: Endpoint, timeoutMs: number) {
  if (failed.code === 'TIMEOUT' && failed.tcpMs !== null && timeoutMs >= 1 && (await answersPlaintext(endpoint, Math.min(timeoutMs, 1000)))) return PLAINTEXT
  return failed.failure
}
