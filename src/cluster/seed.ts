import {openRawSession, sessionOptions} from '../probe/session.js'
import type {ConnectOptions} from '../server/connection.js'
import {type Discovery, discoverNodes} from './discover.js'

/** Asks the seed for every node (one raw TLS session, closed afterwards). Failures throw one line. */
export async function discoverFromSeed(seed: ConnectOptions, options: {timeoutMs: number; tolerate?: string[]}): Promise<Discovery> {
  const session = await openRawSession({...sessionOptions(seed, seed, options.timeoutMs), tolerate: options.tolerate})
  try {
    return await discoverNodes(session.call, seed)
  } finally {
    session.close()
  }
}
