import {execFileSync} from 'node:child_process'
import {chownSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {acquireLock} from '../../../src/reload/lock.js'
import {useTempDirs} from '../../helpers/temp.js'

const tempDir = useTempDirs('vtls-lock')
const lockPath = () => join(tempDir(), 'reload.lock')
const isRoot = process.getuid?.() === 0
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const ageBy = (path: string, ms: number) => {
  const old = new Date(Date.now() - ms)
  utimesSync(path, old, old)
}

/** The error acquireLock rejects with, and how long that took (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<{error: ValkeyTlsError; ms: number}> {
  const start = Date.now()
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(ValkeyTlsError)
    expect((error as Error).message).not.toContain('\n')
    return {error: error as ValkeyTlsError, ms: Date.now() - start}
  }
  throw new Error('expected the lock not to be acquired')
}

describe('acquireLock', () => {
  it('makes the lock path a folder, and release removes it', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    expect(lstatSync(path).isDirectory()).toBe(true)
    await lock.release()
    expect(existsSync(path)).toBe(false)
    await lock.release() // already released: no throw
  })

  it('refuses a second acquire while the lock is held, as busy, after waiting about waitMs', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    const {error, ms} = await rejection(acquireLock(path, 400))
    expect(error.kind).toBe('busy')
    expect(error.exitCode).toBe(11)
    expect(error.message).toContain(path)
    expect(error.message).toContain(`held by a process of uid ${process.getuid?.()}`)
    expect(error.message).toContain('still after waiting 0.4 s')
    expect(ms).toBeGreaterThanOrEqual(380)
    expect(ms).toBeLessThan(1400)
    expect(lstatSync(path).isDirectory()).toBe(true) // the holder's lock is untouched
    await lock.release()
  })

  it('gives up at once with waitMs 0', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    const {error, ms} = await rejection(acquireLock(path, 0))
    expect(error.kind).toBe('busy')
    expect(ms).toBeLessThan(300)
    await lock.release()
  })

  it('can be taken again after release', async () => {
    const path = lockPath()
    await (await acquireLock(path, 0)).release()
    const again = await acquireLock(path, 0)
    expect(lstatSync(path).isDirectory()).toBe(true)
    await again.release()
    expect(existsSync(path)).toBe(false)
  })

  it('is taken by a waiting run soon after the holder releases it', async () => {
    const path = lockPath()
    const first = await acquireLock(path, 0)
    const start = Date.now()
    setTimeout(() => void first.release(), 150)
    const second = await acquireLock(path, 5000)
    const waited = Date.now() - start
    expect(waited).toBeGreaterThanOrEqual(140)
    expect(waited).toBeLessThan(1000)
    await second.release()
    expect(existsSync(path)).toBe(false)
  })

  it('does not spin while waiting: a 1 s wait takes well under 0.3 s of CPU (under 0.1 s; 0 ms polling takes about 0.25 s)', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    const before = process.cpuUsage()
    const {ms} = await rejection(acquireLock(path, 1000))
    const used = process.cpuUsage(before)
    expect(ms).toBeGreaterThanOrEqual(980)
    expect((used.user + used.system) / 1e6).toBeLessThan(0.1)
    await lock.release()
  })

  it('takes over a stale lock (its holder died and stopped refreshing it)', async () => {
    const path = lockPath()
    mkdirSync(path)
    ageBy(path, 3_600_000)
    const lock = await acquireLock(path, 0)
    expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(5000)
    await lock.release()
    expect(existsSync(path)).toBe(false)
  })

  it('does not take over a lock younger than staleMs, and keeps its own lock fresh past staleMs', async () => {
    const path = lockPath()
    mkdirSync(path)
    ageBy(path, 1000)
    expect((await rejection(acquireLock(path, 0, {staleMs: 2000}))).error.kind).toBe('busy')
    ageBy(path, 2500)
    await (await acquireLock(path, 0, {staleMs: 2000})).release()

    const lock = await acquireLock(path, 0, {staleMs: 2000}) // refreshed every second
    await sleep(3300) // its first mtime (up to 1 s ahead) would be stale by now
    expect((await rejection(acquireLock(path, 0, {staleMs: 2000}))).error.kind).toBe('busy')
    await lock.release()
  })

  it('reports a lost lock through onLost without crashing, and release() then leaves the path alone', async () => {
    const path = lockPath()
    const lost: ValkeyTlsError[] = []
    const lock = await acquireLock(path, 0, {staleMs: 2000, onLost: (error) => lost.push(error)})
    const silent = await acquireLock(`${path}2`, 0, {staleMs: 2000}) // no onLost: must not throw from a timer either
    execFileSync('rmdir', [path, `${path}2`])
    await sleep(1800) // one refresh (every second) finds the folders gone
    expect(lost).toHaveLength(1)
    expect(lost[0]!.message).toContain(path)
    expect(lost[0]!.message).toContain('its folder was removed')
    mkdirSync(path) // another run's lock now
    await lock.release()
    lock.releaseSync()
    expect(existsSync(path)).toBe(true)
    await silent.release()
  })

  it('releaseSync() removes our lock, and can be called again', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    lock.releaseSync()
    expect(existsSync(path)).toBe(false)
    lock.releaseSync()
    await lock.release()
    await (await acquireLock(path, 0)).release()
  })

  it.skipIf(!isRoot)('waits no longer than waitMs for a fresh lock folder owned by another user', async () => {
    const path = lockPath()
    mkdirSync(path)
    chownSync(path, 65_534, 65_534)
    const {error, ms} = await rejection(acquireLock(path, 500))
    expect(error.kind).toBe('busy')
    expect(error.message).toContain('uid 65534')
    expect(ms).toBeLessThan(1500)
    expect(lstatSync(path).uid).toBe(65_534)
  })

  it('refuses at once, without waiting, a folder with files in it that went stale (not a lock it can remove)', async () => {
    const path = lockPath()
    mkdirSync(path)
    writeFileSync(join(path, 'keep'), 'data')
    ageBy(path, 3_600_000)
    const {error, ms} = await rejection(acquireLock(path, 2000))
    expect(error.kind).toBe('output')
    expect(error.message).toContain(`cannot take over the stale lock ${path}`)
    expect(error.message).toContain('not empty')
    expect(ms).toBeLessThan(1000)
    expect(readFileSync(join(path, 'keep'), 'utf8')).toBe('data')
  })

  describe('something other than a lock at the path is refused at once (waiting would not remove it), never opened or removed', () => {
    /** Refused with kind output naming the path and what is there, well within waitMs + 1 s. */
    async function refused(path: string, what: string): Promise<void> {
      const {error, ms} = await rejection(acquireLock(path, 2000))
      expect(error.kind).toBe('output')
      expect(error.message).toContain(`cannot lock ${path}: it is ${what}`)
      expect(ms).toBeLessThan(3000)
    }

    // Fresh (it would look held) and an hour old (it would look stale and be removed, were it a lock).
    for (const age of [0, 3_600_000]) {
      const when = age ? 'stale-looking' : 'fresh'
      it(`a ${when} FIFO (opening it would block)`, async () => {
        const path = lockPath()
        execFileSync('mkfifo', [path])
        ageBy(path, age)
        await refused(path, 'a FIFO')
        expect(lstatSync(path).isFIFO()).toBe(true)
      })

      it(`a ${when} regular file (such as an older version's lock file)`, async () => {
        const path = lockPath()
        writeFileSync(path, '{"pid": 1}\n')
        ageBy(path, age)
        await refused(path, 'a regular file')
        expect(readFileSync(path, 'utf8')).toBe('{"pid": 1}\n')
      })

      it(`a symlink to a ${when} folder elsewhere: neither it nor its target is removed`, async () => {
        const path = lockPath()
        const target = join(tempDir(), 'elsewhere')
        mkdirSync(target)
        ageBy(target, age)
        symlinkSync(target, path)
        await refused(path, 'a symbolic link')
        expect(lstatSync(path).isSymbolicLink()).toBe(true)
        expect(lstatSync(target).isDirectory()).toBe(true)
      })
    }

    it('a dangling symlink: not followed, so nothing is created where it points', async () => {
      const path = lockPath()
      const target = join(tempDir(), 'nowhere')
      symlinkSync(target, path)
      await refused(path, 'a symbolic link')
      expect(existsSync(target)).toBe(false)
      expect(lstatSync(path).isSymbolicLink()).toBe(true)
    })
  })

  it('fails at once with kind output when the lock\'s folder does not exist', async () => {
    const path = join(tempDir(), 'no-such-dir', 'reload.lock')
    const {error, ms} = await rejection(acquireLock(path, 2000))
    expect(error.kind).toBe('output')
    expect(error.message).toBe(`cannot create the lock ${path}: no such file or directory`)
    expect(ms).toBeLessThan(1000)
  })
})
