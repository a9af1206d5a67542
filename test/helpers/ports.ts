/**
 * Loopback ports for the servers the tests start: free ones, whether ::1 exists, whether a port is closed.
 * Everything here stays on 127.0.0.1 / ::1.
 */
import {createConnection, createServer} from 'node:net'

export type LoopbackHost = '127.0.0.1' | '::1'

/** Throws unless `host` is 127.0.0.1 or ::1: test helpers never reach beyond the machine. */
export function assertLoopback(host: string): void {
  if (host !== '127.0.0.1' && host !== '::1') throw new Error(`refusing non-loopback host ${host}`)
}

let ipv6Checked: boolean | undefined
/** Whether ::1 can be bound on this machine (checked once). */
export async function hasIpv6Loopback(): Promise<boolean> {
  if (ipv6Checked !== undefined) return ipv6Checked
  ipv6Checked = await new Promise<boolean>((res) => {
    const s = createServer()
    s.once('error', () => res(false))
    s.listen(0, '::1', () => s.close(() => res(true)))
  })
  return ipv6Checked
}

function listenOn(host: string, port: number): Promise<number | undefined> {
  return new Promise((res) => {
    const s = createServer()
    s.once('error', () => res(undefined))
    s.listen({port, host, exclusive: true}, () => {
      const addr = s.address()
      const p = typeof addr === 'object' && addr ? addr.port : undefined
      s.close(() => res(p))
    })
  })
}

const handedOut = new Set<number>()

/**
 * A TCP port currently free on 127.0.0.1 (and on ::1 when `alsoIpv6`).
 * Found by binding port 0; never hands out the same port twice in a worker.
 */
export async function freePort(alsoIpv6 = true): Promise<number> {
  const v6 = alsoIpv6 && (await hasIpv6Loopback())
  for (let i = 0; i < 50; i++) {
    const p = await listenOn('127.0.0.1', 0)
    if (p === undefined || handedOut.has(p)) continue
    if (v6 && (await listenOn('::1', p)) === undefined) continue
    handedOut.add(p)
    return p
  }
  throw new Error('could not find a free port on 127.0.0.1')
}

/** True when nothing accepts TCP connections on 127.0.0.1:port. */
export function portIsClosed(port: number, host: LoopbackHost = '127.0.0.1'): Promise<boolean> {
  assertLoopback(host)
  return new Promise((res) => {
    const s = createConnection({host, port})
    s.setTimeout(2000)
    s.once('connect', () => (s.destroy(), res(false)))
    s.once('timeout', () => (s.destroy(), res(false)))
    s.once('error', (e: NodeJS.ErrnoException) => res(e.code === 'ECONNREFUSED'))
  })
}
