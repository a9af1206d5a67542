import {TransportError} from '../transport/errors.js'
import {type ConnectOptions, fixedPassword, formatAddress} from '../transport/options.js'
import {openSession, type Session} from '../transport/session.js'

/**
 * A session whose PING succeeded; when the server answers NOAUTH and no password was given, asks once
 * through `askPassword` (a terminal prompt) and tries again. Returns the options as finally used.
 */
export async function openAuthenticated(options: ConnectOptions, askPassword?: (address: string) => Promise<string>): Promise<{session: Session; options: ConnectOptions}> {
  let current = options
  for (;;) {
    const session = await openSession(current)
    try {
      await session.call('PING')
      return {session, options: current}
    } catch (error) {
      session.close()
      const noauth = error instanceof TransportError && error.failure.reason === 'noauth'
      if (!noauth || current.password !== undefined || !askPassword) throw error
      current = {...current, password: fixedPassword(await askPassword(formatAddress(current)))}
    }
  }
}
