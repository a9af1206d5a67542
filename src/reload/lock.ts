import {readFileSync, unlinkSync} from 'node:fs'
import {open, readFile, stat, unlink} from 'node:fs/promises'
import {hostname} from 'node:os'

import {describeSystemError, ValkeyTlsError} from '../errors.js'

export interface Lock {
  release(): Promise<void>
  /** For signal handlers, which cannot wait. */
  releaseSync(): void
}

/** A lock file still empty or unreadable after this long was left by a run that died while creating it. */
const UNWRITTEN_STALE_MS = 10_000

interface Holder {
  pid: number
  host: string
  started: string
}

/**
 * An exclusive lock file (created with O_EXCL, holding the owner's pid): a second run waits up to
 * `waitMs` for it, then gives up with exit code `busy`. A lock left by a process that no longer exists
 * on this host is taken over.
 */
export async function acquireLock(path: string, waitMs: number, poll = 200): Promise<Lock> {
  const until = Date.now() + waitMs
  const me: Holder = {pid: process.pid, host: hostname(), started: new Date().toISOString()}
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644)
      try {
        await handle.writeFile(JSON.stringify(me) + '\n')
      } finally {
        await handle.close()
      }
      return {
        release: () => releaseIfMine(path, me),
        releaseSync() {
          try {
            if (isMine(JSON.parse(readFileSync(path, 'utf8')) as Holder, me)) unlinkSync(path)
          } catch {
            // already gone
          }
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ValkeyTlsError('output', `cannot create the lock file ${path}: ${describeSystemError(error)}`)
      }
    }
    const holder = await readHolder(path)
    if (await isStale(path, holder, me.host) && await breakStale(path, me.host)) continue
    if (Date.now() >= until) {
      const who = holder ? `process ${holder.pid} on ${holder.host}, since ${holder.started}` : 'another process'
      throw new ValkeyTlsError('busy', `another reload is running (${who}; lock file ${path})${waitMs > 0 ? `, still after waiting ${waitMs / 1000} s` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(poll, Math.max(1, until - Date.now()))))
  }
}

/** Stale: its process is gone (same host), or the file never got its contents (a crash between create and write). */
async function isStale(path: string, holder: Holder | undefined, host: string): Promise<boolean> {
  if (holder) return holder.host === host && !alive(holder.pid)
  const info = await stat(path).catch(() => undefined)
  return info !== undefined && Date.now() - info.mtimeMs > UNWRITTEN_STALE_MS
}

/**
 * Removes a stale lock. Two runs may find the same stale lock: the removal happens under a second lock
 * (`<path>.break`, itself broken after a few seconds) and only if the file still is the stale one, so
 * one cannot remove the lock the other has just created. Whether it was removed.
 */
async function breakStale(path: string, host: string): Promise<boolean> {
  const breaker = `${path}.break`
  try {
    await (await open(breaker, 'wx', 0o644)).close()
  } catch {
    const info = await stat(breaker).catch(() => undefined)
    if (info && Date.now() - info.mtimeMs > UNWRITTEN_STALE_MS) await unlink(breaker).catch(() => {})
    return false // someone else is breaking it
  }
  try {
    if (!(await isStale(path, await readHolder(path), host))) return false
    await unlink(path).catch(() => {})
    return true
  } finally {
    await unlink(breaker).catch(() => {})
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const holder = JSON.parse(await readFile(path, 'utf8')) as Holder
    return Number.isInteger(holder.pid) ? holder : undefined
  } catch {
    return undefined // being written, or removed meanwhile
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function releaseIfMine(path: string, me: Holder): Promise<void> {
  const holder = await readHolder(path)
  if (holder && isMine(holder, me)) await unlink(path).catch(() => {})
}

const isMine = (holder: Holder, me: Holder) => holder.pid === me.pid && holder.started === me.started && holder.host === me.host
