import type {TLSSocket} from 'node:tls'

import {type Failure, PasswordError, replyFailure, socketFailure, TransportError} from './errors.js'
import {authCommand, type PasswordSupplier} from './options.js'
import {type CommandOutcome, isErrorReply, sendCommand} from './resp.js'

/** This connection's password, fetched now (a fresh one for every connection); a failure names `at`. */
export async function passwordFor(password: PasswordSupplier, at: string): Promise<string> {
  try {
    return await password()
  } catch (error) {
    if (error instanceof PasswordError) throw new TransportError(at, error.failure, {cause: error})
    throw error
  }
}

/**
 * `AUTH [user] password` on a raw socket with this connection's own password: null when accepted, else
 * why not (a wrong password, the password command failing, the socket closing).
 */
export async function authenticate(socket: TLSSocket, user: string | undefined, password: PasswordSupplier, timeoutMs: number): Promise<Failure | null> {
  const secret = await fetchPassword(password)
  if (typeof secret !== 'string') return secret
  return authFailure(await sendCommand(socket, authCommand(user, secret), timeoutMs), user)
}

/** This connection's password, or why the password command failed. */
export async function fetchPassword(password: PasswordSupplier): Promise<string | Failure> {
  try {
    return await password()
  } catch (error) {
    if (error instanceof PasswordError) return error.failure
    throw error
  }
}

/** AUTH's reply: null when accepted, else why not. */
export function authFailure(auth: CommandOutcome, user: string | undefined): Failure | null {
  if (auth.ok && !isErrorReply(auth.reply)) return null
  return auth.ok
    ? replyFailure((auth.reply as {error: string}).error, {command: 'AUTH', user})
    : socketFailure(auth.error, {tcpConnected: true, afterHandshake: true, withCert: false})
}
