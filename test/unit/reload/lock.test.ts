import {spawn} from 'node:child_process'
import {existsSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {acquireLock} from '../../../src/reload/lock.js'
import {useTempDirs} from '../../helpers/temp.js'

const tempDir = useTempDirs('vtls-lock')
const lockPath = () => join(tempDir(), 'reload.lock')
const holderOf = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as {pid: number; host: string; started: string}
const writeHolder = (path: string, pid: number, host = hostname()) => writeFileSync(path, JSON.stringify({pid, host, started: '2020-01-01T00:00:00.000Z'}) + '\n')

/** The error acquireLock rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<ValkeyTlsError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(ValkeyTlsError)
    return error as ValkeyTlsError
  }
  throw new Error('expected the lock not to be acquired')
}

/** The pid of a process that has exited: nothing on this host runs under it (barring reuse within milliseconds). */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], {stdio: 'ignore'})
    child.on('error', reject)
    child.on('exit', () => resolve(child.pid!))
  })
}

describe('acquireLock', () => {
  it('writes our pid and host into the lock file, and release removes it', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    const holder = holderOf(path)
    expect(holder.pid).toBe(process.pid)
    expect(holder.host).toBe(hostname())
    expect(Number.isNaN(Date.parse(holder.started))).toBe(false)
    await lock.release()
    expect(existsSync(path)).toBe(false)
  })

  it('refuses a second acquire while the lock is held, as busy, after waiting about waitMs', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    const start = Date.now()
    const error = await rejection(acquireLock(path, 400, 50))
    const waited = Date.now() - start
    expect(error.kind).toBe('busy')
    expect(error.exitCode).toBe(11)
    expect(error.message).toContain(`process ${process.pid} on ${hostname()}`)
    expect(error.message).toContain(path)
    expect(waited).toBeGreaterThanOrEqual(350)
    expect(waited).toBeLessThan(3000)
    expect(holderOf(path).pid).toBe(process.pid) // the first holder's file is untouched
    await lock.release()
  })

  it('gives up at once with waitMs 0', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    const start = Date.now()
    expect((await rejection(acquireLock(path, 0))).kind).toBe('busy')
    expect(Date.now() - start).toBeLessThan(300)
    await lock.release()
  })

  it('can be taken again after release', async () => {
    const path = lockPath()
    await (await acquireLock(path, 0)).release()
    const again = await acquireLock(path, 0)
    expect(holderOf(path).pid).toBe(process.pid)
    await again.release()
  })

  it('is taken by a waiting run as soon as the holder releases it', async () => {
    const path = lockPath()
    const first = await acquireLock(path, 0)
    const start = Date.now()
    setTimeout(() => void first.release(), 150)
    const second = await acquireLock(path, 5000, 25)
    const waited = Date.now() - start
    expect(waited).toBeGreaterThanOrEqual(100)
    expect(waited).toBeLessThan(2000)
    expect(existsSync(path)).toBe(true)
    await second.release()
    expect(existsSync(path)).toBe(false)
  })

  it('takes over a stale lock whose process no longer exists on this host', async () => {
    const path = lockPath()
    const pid = await deadPid()
    writeHolder(path, pid)
    const lock = await acquireLock(path, 0)
    expect(holderOf(path).pid).toBe(process.pid)
    await lock.release()
  })

  it('does not take over a lock held by another live process on this host', async () => {
    const path = lockPath()
    writeHolder(path, process.ppid)
    const error = await rejection(acquireLock(path, 100, 20))
    expect(error.kind).toBe('busy')
    expect(error.message).toContain(`process ${process.ppid}`)
    expect(holderOf(path).pid).toBe(process.ppid)
  })

  it('does not take over a lock of a dead pid on another host (the pid means nothing here)', async () => {
    const path = lockPath()
    writeHolder(path, await deadPid(), `not-${hostname()}`)
    expect((await rejection(acquireLock(path, 0))).kind).toBe('busy')
    expect(existsSync(path)).toBe(true)
  })

  it('treats a lock file it cannot parse as held (it may be being written)', async () => {
    const path = lockPath()
    writeFileSync(path, '{"pid": 12')
    const error = await rejection(acquireLock(path, 0))
    expect(error.kind).toBe('busy')
    expect(error.message).toContain('another process')
    expect(readFileSync(path, 'utf8')).toBe('{"pid": 12')
  })

  it('takes over a lock file that stayed unparseable for more than 10 s (its writer died)', async () => {
    const path = lockPath()
    writeFileSync(path, '')
    const old = new Date(Date.now() - 11_000)
    utimesSync(path, old, old)
    const lock = await acquireLock(path, 0)
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid)
    await lock.release()
  })

  it('leaves a stale lock alone while another run is breaking it (<path>.break), then takes it', async () => {
    const path = lockPath()
    const dead = await deadPid()
    writeHolder(path, dead)
    writeFileSync(`${path}.break`, '')
    const error = await rejection(acquireLock(path, 0))
    expect(error.kind).toBe('busy')
    expect(readFileSync(path, 'utf8')).toContain(String(dead))
    rmSync(`${path}.break`)
    const lock = await acquireLock(path, 0)
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid)
    await lock.release()
  })

  it('release() leaves alone a lock file that another holder has replaced', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    writeHolder(path, process.ppid)
    await lock.release()
    expect(existsSync(path)).toBe(true)
    expect(holderOf(path).pid).toBe(process.ppid)
  })

  it('releaseSync() removes our lock, and leaves a replaced one alone', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    lock.releaseSync()
    expect(existsSync(path)).toBe(false)
    lock.releaseSync() // already gone: no throw

    const second = await acquireLock(path, 0)
    writeHolder(path, process.ppid)
    second.releaseSync()
    expect(holderOf(path).pid).toBe(process.ppid)
  })

  it('tells apart two holders of the same process (a later run of the same pid does not release it)', async () => {
    const path = lockPath()
    const lock = await acquireLock(path, 0)
    const mine = readFileSync(path, 'utf8')
    writeFileSync(path, JSON.stringify({...holderOf(path), started: '1999-01-01T00:00:00.000Z'}) + '\n')
    await lock.release()
    expect(existsSync(path)).toBe(true)
    expect(readFileSync(path, 'utf8')).not.toBe(mine)
  })

  it('fails with kind output when the lock file\'s folder does not exist', async () => {
    const path = join(tempDir(), 'no-such-dir', 'reload.lock')
    const error = await rejection(acquireLock(path, 1000))
    expect(error.kind).toBe('output')
    expect(error.message).toContain(path)
    expect(error.message).toContain('no such file or directory')
  })
})
