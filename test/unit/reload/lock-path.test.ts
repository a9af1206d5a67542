import {chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {defaultLockPath} from '../../../src/reload/lock-path.js'
import {useTempDirs} from '../../helpers/temp.js'

const tempDir = useTempDirs('vtls-lockpath')
const uid = process.getuid!()
const isRoot = uid === 0
const saved = {XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, TMPDIR: process.env.TMPDIR}

/** The error defaultLockPath throws (fails the test when it returns). */
function refusal(): ValkeyTlsError {
  try {
    defaultLockPath()
  } catch (error) {
    expect(error).toBeInstanceOf(ValkeyTlsError)
    expect((error as Error).message).not.toContain('\n')
    return error as ValkeyTlsError
  }
  throw new Error('expected defaultLockPath to refuse')
}

describe.skipIf(process.platform === 'win32')('defaultLockPath', () => {
  let tmp: string
  beforeEach(() => {
    tmp = tempDir() // os.tmpdir(), which defaultLockPath() uses, follows TMPDIR
    process.env.TMPDIR = tmp
    delete process.env.XDG_RUNTIME_DIR
  })
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })

  it('uses $XDG_RUNTIME_DIR/valkey-tls/reload.lock when the runtime folder is ours with mode 0700, and makes the folder 0700', () => {
    const runtime = tempDir()
    chmodSync(runtime, 0o700)
    process.env.XDG_RUNTIME_DIR = runtime
    expect(defaultLockPath()).toBe(join(runtime, 'valkey-tls', 'reload.lock'))
    const folder = lstatSync(join(runtime, 'valkey-tls'))
    expect(folder.isDirectory()).toBe(true)
    expect(folder.mode & 0o777).toBe(0o700)
    expect(existsSync(join(tmp, `valkey-tls-${uid}`))).toBe(false) // the temp folder is not used
  })

  it('without XDG_RUNTIME_DIR, uses <tmpdir>/valkey-tls-<uid>/reload.lock, made with mode 0700, and reuses it', () => {
    expect(defaultLockPath()).toBe(join(tmp, `valkey-tls-${uid}`, 'reload.lock'))
    expect(lstatSync(join(tmp, `valkey-tls-${uid}`)).mode & 0o777).toBe(0o700)
    expect(defaultLockPath()).toBe(join(tmp, `valkey-tls-${uid}`, 'reload.lock'))
  })

  it('falls back to the temp folder when XDG_RUNTIME_DIR is open to others, a symlink, or missing', () => {
    const open = tempDir()
    chmodSync(open, 0o755)
    const link = join(tempDir(), 'runtime-link')
    const real = tempDir()
    chmodSync(real, 0o700)
    symlinkSync(real, link)
    for (const runtime of [open, link, join(tmp, 'missing')]) {
      process.env.XDG_RUNTIME_DIR = runtime
      expect(defaultLockPath()).toBe(join(tmp, `valkey-tls-${uid}`, 'reload.lock'))
    }
    expect(readdirSync(open)).toEqual([])
    expect(readdirSync(real)).toEqual([])
  })

  it.skipIf(!isRoot)('falls back to the temp folder when XDG_RUNTIME_DIR belongs to another user', () => {
    const runtime = tempDir()
    chmodSync(runtime, 0o700)
    chownSync(runtime, 65_534, 65_534)
    process.env.XDG_RUNTIME_DIR = runtime
    expect(defaultLockPath()).toBe(join(tmp, `valkey-tls-${uid}`, 'reload.lock'))
  })

  it('refuses a folder that is a symlink (even to a private folder of ours), and leaves it alone', () => {
    const real = tempDir()
    chmodSync(real, 0o700)
    symlinkSync(real, join(tmp, `valkey-tls-${uid}`))
    const error = refusal()
    expect(error.kind).toBe('input')
    expect(error.message).toBe(`refusing the lock folder ${join(tmp, `valkey-tls-${uid}`)}: it is a symbolic link, which could lead anywhere; remove it, or pass --lock-file`)
    expect(lstatSync(join(tmp, `valkey-tls-${uid}`)).isSymbolicLink()).toBe(true)
    expect(readdirSync(real)).toEqual([])
  })

  it('refuses a folder with mode 0777 (and one only group-readable, 0750)', () => {
    const folder = join(tmp, `valkey-tls-${uid}`)
    mkdirSync(folder)
    chmodSync(folder, 0o777)
    let error = refusal()
    expect(error.kind).toBe('input')
    expect(error.message).toContain(`refusing the lock folder ${folder}: its mode 0777 opens it to other users`)
    chmodSync(folder, 0o750)
    error = refusal()
    expect(error.message).toContain('its mode 0750')
    expect(lstatSync(folder).mode & 0o777).toBe(0o750) // not "fixed" behind the user's back
  })

  it('refuses the folder\'s name taken by a regular file', () => {
    writeFileSync(join(tmp, `valkey-tls-${uid}`), '')
    expect(refusal().message).toContain('it is not a folder')
  })

  it.skipIf(!isRoot)('refuses a folder that belongs to another user, even with mode 0700', () => {
    const folder = join(tmp, `valkey-tls-${uid}`)
    mkdirSync(folder, {mode: 0o700})
    chownSync(folder, 65_534, 65_534)
    const error = refusal()
    expect(error.kind).toBe('input')
    expect(error.message).toContain(`it belongs to uid 65534, not to you (uid ${uid})`)
  })

  it('fails with kind output when the folder cannot be made', () => {
    process.env.TMPDIR = join(tmp, 'missing')
    const error = refusal()
    expect(error.kind).toBe('output')
    expect(error.message).toBe(`cannot create the lock folder ${join(tmp, 'missing', `valkey-tls-${uid}`)}: no such file or directory`)
  })
})
