import {readFileSync, unlinkSync} from 'node:fs'
import {open, readFile, unlink} from 'node:fs/promises'
import {hostname} from 'node:os'

import {describeSystemError, ValkeyTlsError} from '../errors.js'

export interface Lock {
  release(): Promise<void>
  /** For signal handlers, which cannot wait. */
  releaseSync(): void
}

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
    if (holder && holder.host === me.host && !alive(holder.pid)) {
      await unlink(path).catch(() => {}) // stale: its process is gone
      continue
    }
    if (Date.now() >= until) {
      const who = holder ? `process ${holder.pid} on ${holder.host}, since ${holder.started}` : 'another process'
      throw new ValkeyTlsError('busy', `another reload is running (${who}; lock file ${path})${waitMs > 0 ? `, still after waiting ${waitMs / 1000} s` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(poll, Math.max(1, until - Date.now()))))
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
