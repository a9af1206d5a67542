import {chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {replaceFile} from '../../../src/fsutil/atomic.js'
import {makeTempDir} from '../../helpers/temp.js'

const root = process.getuid?.() === 0

describe('replaceFile', () => {
  it('replaces the content and sets the mode; no temporary file is left', async () => {
    const dir = makeTempDir('vtls-atomic')
    const path = join(dir, 'server.key')
    writeFileSync(path, 'old', {mode: 0o600})
    await replaceFile(path, 'new', 0o640)
    expect([readFileSync(path, 'utf8'), lstatSync(path).mode & 0o777]).toEqual(['new', 0o640])
    expect(readdirSync(dir)).toEqual(['server.key'])
  })

  // A server reading its key as its own user must still read it when root replaced it (ca rotate).
  it.skipIf(!root)('with the replaced file\'s owner: the new file has that owner and group (as root)', async () => {
    const dir = makeTempDir('vtls-atomic-owner')
    mkdirSync(join(dir, 'tls'))
    const path = join(dir, 'tls', 'server.key')
    writeFileSync(path, 'old', {mode: 0o600})
    chownSync(path, 65_534, 65_533)
    const {uid, gid} = lstatSync(path)
    await replaceFile(path, 'new', 0o600, {uid, gid})
    const after = lstatSync(path)
    expect([readFileSync(path, 'utf8'), after.uid, after.gid, after.mode & 0o777]).toEqual(['new', 65_534, 65_533, 0o600])
    // Without it, the file is the writer's.
    await replaceFile(path, 'newer', 0o600)
    expect(lstatSync(path).uid).toBe(0)
  })

  it.skipIf(root)('an owner this user cannot give: nothing replaced, one line saying so', async () => {
    const dir = makeTempDir('vtls-atomic-owner')
    const path = join(dir, 'server.key')
    writeFileSync(path, 'old', {mode: 0o600})
    await expect(replaceFile(path, 'new', 0o600, {uid: 0, gid: 0})).rejects.toThrow(/^cannot write .*server\.key: it belongs to uid 0 gid 0, and this run cannot give its replacement that owner \(permission denied\): run as that user or as root$/)
    expect(readFileSync(path, 'utf8')).toBe('old')
    expect(readdirSync(dir)).toEqual(['server.key'])
  })
})
