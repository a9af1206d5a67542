import {openSession} from '../transport/session.js'
import type {ConnectOptions} from '../transport/options.js'
import {type Discovery, discoverNodes} from './discover.js'

/** Asks the seed for every node (one TLS session, closed afterwards). Failures throw one line. */
export async function discoverFromSeed(seed: ConnectOptions, options: {timeoutMs: number; deadline?: number; tolerate?: string[]}): Promise<Discovery> {
  const session = await openSession(seed, {timeoutMs: options.timeoutMs, deadline: options.deadline, tolerate: options.tolerate})
  try {
    return await discoverNodes(session.call, seed)
  } finally {
    session.close()
  }
}
