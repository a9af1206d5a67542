import type {Stats} from 'node:fs'
import {lstat} from 'node:fs/promises'

import lockfile from 'proper-lockfile'

import {describeSystemError, ValkeyTlsError} from '../errors.js'

export interface Lock {
  release(): Promise<void>
  /** For signal handlers, which cannot wait. */
  releaseSync(): void
}

export interface LockOptions {
  /**
   * A held lock's folder gets a new mtime every few seconds; one not refreshed for this long was left by a run
   * that died (killed, machine crashed) and is taken over. At least 2 s (proper-lockfile's floor).
   */
  staleMs?: number
  /**
   * Called when the lock is lost while held: its folder was removed, or taken over after the event loop stalled
   * past `staleMs`. The run cannot be undone half-way, so it goes on; release() then leaves the path alone.
   */
  onLost?: (error: ValkeyTlsError) => void
}

const STALE_MS = 30_000
/** Between refreshes of a held lock: with 30 s staleness, a 25 s stall of the event loop still keeps it. */
const REFRESH_MS = 5000
/** Between two tries while another run holds the lock: a timer, never a busy loop. */
const RETRY_MS = 200

/**
 * The lock is the folder `path` itself (proper-lockfile's `lockfilePath`), made with mkdir (atomic, and never
 * followed through a symlink) and removed on release or exit. A second run retries every 200 ms for up to
 * `waitMs`, then gives up with kind `busy`. A folder whose mtime has not been refreshed for `staleMs` was left by
 * a run that died and is taken over. Anything else at `path` (a file, a FIFO, a symlink) is refused at once:
 * it is not a lock and waiting would not remove it; it is only ever lstat'ed, never opened, followed or removed.
 */
export async function acquireLock(path: string, waitMs: number, options: LockOptions = {}): Promise<Lock> {
  const until = Date.now() + waitMs
  const staleMs = options.staleMs ?? STALE_MS
  let lost = false
  const settings = {
    lockfilePath: path, realpath: false, retries: 0, stale: staleMs, update: Math.min(REFRESH_MS, staleMs / 2),
    // proper-lockfile's default throws from a timer, which would crash the process.
    onCompromised(error: Error) {
      lost = true
      const how = error.message.startsWith('ENOENT') ? 'its folder was removed' : `it went ${staleMs / 1000} s without a refresh and was taken over`
      options.onLost?.(new ValkeyTlsError('busy', `lost the lock ${path} while holding it (${how}): another run may overlap this one`, {cause: error}))
    },
  }
  for (;;) {
    await refuseNonLock(path)
    try {
      const release = await lockfile.lock(path, settings)
      return {
        // Already released, or lost (the folder at `path` may now be another run's): nothing of ours to remove.
        release: () => release().catch(() => {}),
        releaseSync() {
          if (lost) return
          try {
            lockfile.unlockSync(path, {lockfilePath: path, realpath: false})
          } catch {
            // already released
          }
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') {
        await refuseNonLock(path) // replaced meanwhile
        const exists = await lstat(path).then(() => true, () => false)
        const what = exists ? `take over the stale lock ${path} (${await holder(path)})` : `create the lock ${path}`
        throw new ValkeyTlsError('output', `cannot ${what}: ${reason(error)}`, {cause: error})
      }
    }
    const remaining = until - Date.now()
    if (remaining <= 0) {
      throw new ValkeyTlsError('busy', `another reload is running (${await holder(path)}; lock ${path})${waitMs > 0 ? `, still after waiting ${waitMs / 1000} s` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_MS, remaining)))
  }
}

/** Throws when `path` holds something other than a folder: a lock is never one. */
async function refuseNonLock(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined)
  const what = info && nonLockKind(info)
  if (what) throw new ValkeyTlsError('output', `cannot lock ${path}: it is ${what}, not a lock folder; remove it or use another lock path`)
}

function nonLockKind(info: Stats): string | undefined {
  if (info.isDirectory()) return undefined
  if (info.isSymbolicLink()) return 'a symbolic link (never followed)'
  if (info.isFIFO()) return 'a FIFO'
  if (info.isFile()) return 'a regular file (the lock file of an older valkey-tls?)'
  if (info.isSocket()) return 'a socket'
  return 'a device'
}

/** Who holds the lock, as far as its folder tells: the owner and how fresh it is (it holds no pid). */
async function holder(path: string): Promise<string> {
  const info = await lstat(path).catch(() => undefined)
  if (!info) return 'another process'
  const age = Math.max(0, Math.round((Date.now() - info.mtimeMs) / 1000))
  return `held by a process of uid ${info.uid}, refreshed ${age} s ago`
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'the folder is not empty, so not a lock; remove it or use another lock path'
  return describeSystemError(error)
}

/**
 * Runs `work` holding the lock at `path` (none when `path` is undefined: a dry run), released when it ends,
 * and on SIGINT/SIGTERM before the process exits (128 + the signal's number).
 */
export async function withLock<T>(path: string | undefined, waitMs: number, work: () => Promise<T>): Promise<T> {
  const lock = path === undefined ? undefined : await acquireLock(path, waitMs)
  const onSignal = (signal: NodeJS.Signals) => {
    lock?.releaseSync()
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15))
  }
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal)
  try {
    return await work()
  } finally {
    await lock?.release()
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal)
  }
}
