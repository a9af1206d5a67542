import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {useTempDirs} from '../../helpers/temp.js'
import {existingTargets, prepareOutputDir, writeFilesAtomically} from '../../../src/fsutil/write.js'

const tempDir = useTempDirs('vtls-write')

const files = [
  {name: 'a.crt', data: 'cert', mode: 0o644},
  {name: 'a.key', data: 'key', mode: 0o600},
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
  })

  it('fails with an output error and leaves nothing when the folder cannot be written', async () => {
    const dir = tempDir()
    const missing = join(dir, 'gone')
    await expect(writeFilesAtomically(missing, files, {overwrite: false})).rejects.toMatchObject({kind: 'output', exitCode: 5})
    expect(existsSync(missing)).toBe(false)
  })
})

describe('prepareOutputDir and existingTargets', () => {
  it('creates missing folders, refuses a file, and lists existing targets', async () => {
    const dir = tempDir()
    await prepareOutputDir(join(dir, 'x', 'y'))
    expect(statSync(join(dir, 'x', 'y')).isDirectory()).toBe(true)
    writeFileSync(join(dir, 'file'), '')
    await expect(prepareOutputDir(join(dir, 'file'))).rejects.toThrow(/exists and is not a folder/)
    await expect(prepareOutputDir(join(dir, 'file', 'sub'))).rejects.toMatchObject({kind: 'output'})
    writeFileSync(join(dir, 'a.crt'), '')
    expect(await existingTargets(dir, files.map((f) => f.name))).toEqual(['a.crt'])
  })
})
