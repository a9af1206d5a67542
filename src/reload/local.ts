import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'
import {networkInterfaces} from 'node:os'

/** Whether `host` is this machine (loopback or one of its interface addresses), so the node's file paths are ours too. */
export async function isThisMachine(host: string, timeoutMs: number): Promise<boolean> {
  const addresses = isIP(host) ? [host] : await resolveAll(host, timeoutMs)
  if (addresses.length === 0) return false
  if (addresses.every(isLoopback)) return true
  const own = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.toLowerCase())))
  return addresses.every((a) => isLoopback(a) || own.has(a.toLowerCase()))
}

function isLoopback(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, '')
  return /^127\./.test(v4) || address === '::1'
}

async function resolveAll(host: string, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), timeoutMs)
  })
  try {
    return await Promise.race([lookup(host, {all: true}).then((list) => list.map((a) => a.address), () => []), timeout])
  } finally {
    clearTimeout(timer)
  }
}
