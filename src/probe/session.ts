import type {CommandRunner} from '../cluster/discover.js'
import {authCommand, formatAddress} from '../server/connection.js'
import {handshake, type HandshakeOptions} from './handshake.js'
import {isErrorReply, refusedWithoutCertificate, sendCommand} from './resp.js'

export interface RawSession {
  call: CommandRunner
  close(): void
}

/**
 * A raw TLS connection that runs commands one at a time (AUTH first when a password is given): the
 * lightweight way `check` asks the seed for the nodes. Failures throw one line naming the cause.
 */
export async function openRawSession(options: HandshakeOptions & {user?: string; password?: string}): Promise<RawSession> {
  const at = formatAddress(options)
  const hs = await handshake(options)
  if (!hs.ok) throw new Error(`${at}: ${hs.error}`)
  if (hs.verifyError) {
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
      throw new Error(`${at}: ${args[0] === 'AUTH' ? 'AUTH' : args.slice(0, 2).join(' ')}: ${outcome.reply.error}${hint}`)
    }
    return outcome.reply
  }
  try {
    if (options.password !== undefined) await call(...authCommand(options.user, options.password))
  } catch (error) {
    socket.destroy()
    throw error
  }
  return {call, close: () => socket.destroy()}
}
