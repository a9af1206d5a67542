import {existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import * as fsp from 'node:fs/promises'
import {join} from 'node:path'

import {afterEach, describe, expect, it, vi} from 'vitest'

import {useTempDirs} from '../../helpers/temp.js'
import {checkOutputDir, existingTargets, InterruptedError, writeFilesAtomically} from '../../../src/fsutil/write.js'

// The steps that change the folder, wrapped so that a test can make the n-th one fail (or abort the run
// just before it): a failure at every possible point, without anything in the shipped code for it.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {...real, link: vi.fn(real.link), rename: vi.fn(real.rename), unlink: vi.fn(real.unlink)}
})

const real = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises')
const tempDir = useTempDirs('vtls-write')

const files = [
  {name: 'a.crt', data: 'cert', mode: 0o644},
  {name: 'a.key', data: 'key', mode: 0o600},
]

const newSet = [
  {name: 'ca.crt', data: 'new ca', mode: 0o644},
  {name: 'ca.key', data: 'new ca key', mode: 0o600},
  {name: 'server.crt', data: 'new server', mode: 0o644},
  {name: 'server.key', data: 'new server key', mode: 0o600},
]

/** Writes `files` into a fresh folder with the process umask set to `mask` meanwhile. */
async function writeUnderUmask(mask: number): Promise<string> {
  const dir = tempDir()
  const previous = process.umask(mask)
  try {
    await writeFilesAtomically(dir, files, {overwrite: false})
  } finally {
    process.umask(previous)
  }
  return dir
}

/** Every file in `dir` (hidden ones too) with its content. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name), 'utf8')]))
}

type Step = 'link' | 'rename' | 'unlink'
const steps: Step[] = ['link', 'rename', 'unlink']

/** Calls `onStep(n)` before the n-th link/rename/unlink (counting from 1); it may throw to make that step fail. */
function interceptSteps(onStep: (n: number, step: Step, args: unknown[]) => void): void {
  let count = 0
  for (const step of steps) {
    vi.mocked(fsp[step]).mockImplementation((async (...args: unknown[]) => {
      count += 1
      onStep(count, step, args)
      return (real[step] as (...a: unknown[]) => Promise<void>)(...args)
    }) as never)
  }
}

afterEach(() => {
  for (const step of steps) vi.mocked(fsp[step]).mockImplementation(real[step] as never)
})

const io = () => Object.assign(new Error('EXTEST: injected failure'), {code: 'EXTEST'})

describe('writeFilesAtomically', () => {
  it('sets the modes it is asked for whatever the umask, and leaves no temp files', async () => {
    const dir = await writeUnderUmask(0o000)
    expect(statSync(join(dir, 'a.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'a.crt')).mode & 0o777).toBe(0o644)
    expect(readFileSync(join(dir, 'a.key'), 'utf8')).toBe('key')
    expect(readdirSync(dir).sort()).toEqual(['a.crt', 'a.key'])
  })

  it('also tightens a restrictive umask only as far as asked (0644 stays readable)', async () => {
    const dir = await writeUnderUmask(0o077)
    expect(statSync(join(dir, 'a.crt')).mode & 0o777).toBe(0o644)
  })

  it('without overwrite, never replaces a file and removes everything it wrote', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.key'), 'precious')
    await expect(writeFilesAtomically(dir, files, {overwrite: false})).rejects.toMatchObject({kind: 'exists'})
    expect(readFileSync(join(dir, 'a.key'), 'utf8')).toBe('precious')
    expect(readdirSync(dir)).toEqual(['a.key'])
  })

  it('with overwrite, replaces files and fixes the mode of a replaced key', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.key'), 'old', {mode: 0o666})
    await writeFilesAtomically(dir, files, {overwrite: true})
    expect(readFileSync(join(dir, 'a.key'), 'utf8')).toBe('key')
    expect(statSync(join(dir, 'a.key')).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir).sort()).toEqual(['a.crt', 'a.key'])
  })

  it('creates missing folders, and removes the ones it created when the write fails', async () => {
    const dir = join(tempDir(), 'x', 'y')
    await writeFilesAtomically(dir, files, {overwrite: false})
    expect(readdirSync(dir).sort()).toEqual(['a.crt', 'a.key'])

    const parent = tempDir()
    interceptSteps((_, step) => {
      if (step === 'link') throw io()
    })
    await expect(writeFilesAtomically(join(parent, 'x', 'y'), files, {overwrite: false})).rejects.toThrow(/cannot write .*a\.crt: EXTEST.*; nothing was written$/)
    expect(readdirSync(parent)).toEqual([])
  })

  it('fails with an output error, creating nothing, when the folder cannot be made', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    await expect(writeFilesAtomically(join(dir, 'file', 'sub'), files, {overwrite: false})).rejects.toMatchObject({kind: 'output', exitCode: 5})
    expect(readdirSync(dir)).toEqual(['file'])
  })

  it('never replaces a folder: refuses before touching anything', async () => {
    const dir = tempDir()
    for (const file of newSet) writeFileSync(join(dir, file.name), `old ${file.name}`)
    const before = snapshot(dir)
    mkdirSync(join(dir, 'extra.key', 'sub'), {recursive: true})
    await expect(writeFilesAtomically(dir, [...newSet, {name: 'extra.key', data: 'k', mode: 0o600}], {overwrite: true}))
      .rejects.toThrow(/^cannot replace .*extra\.key: is a directory; nothing was changed$/)
    expect(readdirSync(dir).sort()).toEqual([...Object.keys(before), 'extra.key'].sort())
    for (const [name, data] of Object.entries(before)) expect(readFileSync(join(dir, name), 'utf8')).toBe(data)
  })

  describe('with overwrite, a failure at any step leaves the previous set exactly as it was', () => {
    it('fails each link, rename and unlink in turn; every time, the old files are back and no temp file is left', async () => {
        let failAt = 1
      for (;; failAt++) {
        const dir = tempDir()
        for (const file of newSet.slice(0, 3)) writeFileSync(join(dir, file.name), `old ${file.name}`) // server.key is new
        const before = snapshot(dir)
        let failed: Step | undefined
        interceptSteps((n, step) => {
          if (n === failAt) {
            failed = step
            throw io()
          }
        })
        const outcome = await writeFilesAtomically(dir, newSet, {overwrite: true}).then(() => 'written', (error: Error) => error)
        if (outcome === 'written') {
          // Past the commit point: only the removal of the old versions can fail, and that is reported.
          expect(Object.keys(snapshot(dir)).filter((n) => !n.startsWith('.'))).toEqual(newSet.map((f) => f.name).sort())
          if (!failed) break
          continue
        }
        expect((outcome as Error).message).toMatch(/^cannot (replace|write) .*: EXTEST: injected failure; nothing was changed/)
        expect(snapshot(dir), `failing step ${failAt} (${failed})`).toEqual(before)
      }
      expect(failAt).toBeGreaterThan(8) // the loop really went through the keep-aside, place and clean-up steps
    })

    it('an abort (SIGINT) before any step puts the old set back and says so; after the commit point the new set stays', async () => {
        const outcomes = new Set<string>()
      for (let abortAt = 1; ; abortAt++) {
        const dir = tempDir()
        for (const file of newSet) writeFileSync(join(dir, file.name), `old ${file.name}`)
        const before = snapshot(dir)
        const controller = new AbortController()
        let reached = false
        interceptSteps((n) => {
          if (n === abortAt) {
            reached = true
            controller.abort('SIGINT')
          }
        })
        const outcome = await writeFilesAtomically(dir, newSet, {overwrite: true, signal: controller.signal}).then(() => undefined, (error: Error) => error)
        if (outcome) {
          expect(outcome).toBeInstanceOf(InterruptedError)
          expect(outcome.message).toMatch(/^interrupted by SIGINT; nothing was changed(: the previous files are back in place)?$/)
          expect(snapshot(dir), `abort before step ${abortAt}`).toEqual(before)
          outcomes.add(outcome.message)
        } else {
          expect(snapshot(dir)).toEqual(Object.fromEntries(newSet.map((f) => [f.name, f.data])))
          if (!reached) break
          outcomes.add('written')
        }
      }
      expect([...outcomes].sort()).toEqual([
        'interrupted by SIGINT; nothing was changed',
        'interrupted by SIGINT; nothing was changed: the previous files are back in place',
        'written',
      ])
    })

    it('when an old version cannot be put back, the message says where it is, and it is not removed', async () => {
        const dir = tempDir()
      for (const file of newSet) writeFileSync(join(dir, file.name), `old ${file.name}`)
      let renames = 0
      interceptSteps((_, step, args) => {
        if (step !== 'rename') return
        renames += 1
        if (renames === 3) throw io() // placing server.crt
        if (String(args[0]).endsWith('.old') && String(args[1]).endsWith('ca.key')) throw io() // putting back ca.key
      })
      const error = await writeFilesAtomically(dir, newSet, {overwrite: true}).then(() => undefined, (e: Error) => e)
      expect(error?.message).toMatch(/^cannot replace .*server\.crt: EXTEST: injected failure; could not put back .*ca\.key \(EXTEST: injected failure; the previous version is .*\.ca\.key\.[0-9a-f]{12}\.old\)$/)
      const aside = readdirSync(dir).find((n) => n.startsWith('.ca.key.'))!
      expect(readFileSync(join(dir, aside), 'utf8')).toBe('old ca.key')
      expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).toBe('old ca.crt')
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([])
    })
  })
})

describe('checkOutputDir and existingTargets', () => {
  it('accepts a missing folder without creating it, refuses a file, and lists existing targets', async () => {
    const dir = tempDir()
    await checkOutputDir(join(dir, 'x', 'y'))
    expect(existsSync(join(dir, 'x'))).toBe(false)
    writeFileSync(join(dir, 'file'), '')
    await expect(checkOutputDir(join(dir, 'file'))).rejects.toThrow(/exists and is not a folder/)
    await expect(checkOutputDir(join(dir, 'file', 'sub'))).rejects.toMatchObject({kind: 'output'})
    writeFileSync(join(dir, 'a.crt'), '')
    expect(await existingTargets(dir, files.map((f) => f.name))).toEqual(['a.crt'])
  })
})
