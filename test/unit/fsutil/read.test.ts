/**
 * readInputFile, in-process: whatever a path names, the answer comes at once, with a bounded amount
 * read, as one input error naming the file (or the file's bytes when it is a small regular file).
 */
import {execFileSync} from 'node:child_process'
import {constants, appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync, writeSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {MAX_INPUT_BYTES, readInputFile} from '../../../src/fsutil/read.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('vtls-read')
const servers: Server[] = []
afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))))

/** The input error readInputFile throws for `path`, and how long it took. */
async function refusal(path: string): Promise<{message: string; ms: number}> {
  const start = performance.now()
  try {
    await readInputFile(path, '--thing')
  } catch (error) {
    const ms = performance.now() - start
    expect(error).toBeInstanceOf(ValkeyTlsError)
    expect((error as ValkeyTlsError).kind).toBe('input')
    const {message} = error as Error
    expect(message).not.toContain('\n')
    expect(message).toContain(path)
    return {message, ms}
  }
  throw new Error(`${path} was read`)
}

describe('readInputFile', () => {
  it('refuses a FIFO without a writer at once, and one a writer keeps feeding', async () => {
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const idle = await refusal(fifo)
    expect(idle.message).toBe(`cannot read --thing ${fifo}: is a FIFO, not a regular file`)
    expect(idle.ms).toBeLessThan(200)

    // A reader and a writer of our own keep the FIFO open, with data waiting in it.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
    try {
      writeSync(writer, '-----BEGIN CERTIFICATE-----\n')
      const fed = await refusal(join(dir, 'fifo'))
      expect(fed.message).toMatch(/is a FIFO, not a regular file$/)
      expect(fed.ms).toBeLessThan(200)
    } finally {
      closeSync(writer)
      closeSync(reader)
    }
  })

  it('refuses devices, directories and Unix sockets, directly and through symlinks', async () => {
    const sub = join(dir, 'sub')
    mkdirSync(sub)
    const socketPath = join(dir, 'sock')
    const server = createServer()
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
    const cases: Array<[string, RegExp]> = [
      ['/dev/zero', /is a character device, not a regular file$/],
      ['/dev/urandom', /is a character device, not a regular file$/],
      ['/dev/null', /is a character device, not a regular file$/],
      [sub, /is a directory, not a regular file$/],
      [socketPath, /is a socket, not a regular file$/],
    ]
    for (const [target, expected] of cases) {
      const link = join(dir, `link-${cases.findIndex(([t]) => t === target)}`)
      symlinkSync(target, link)
      for (const path of [target, link]) {
        const {message, ms} = await refusal(path)
        expect(message, path).toMatch(expected)
        expect(ms, path).toBeLessThan(200)
      }
    }
  })

  it('says what is wrong with missing files, symlink loops and dangling links, in words', async () => {
    const loopA = join(dir, 'loop-a')
    const loopB = join(dir, 'loop-b')
    symlinkSync(loopB, loopA)
    symlinkSync(loopA, loopB)
    const dangling = join(dir, 'dangling')
    symlinkSync(join(dir, 'nowhere'), dangling)
    expect((await refusal(join(dir, 'missing'))).message).toMatch(/: no such file or directory$/)
    expect((await refusal(dangling)).message).toMatch(/: no such file or directory$/)
    expect((await refusal(loopA)).message).toMatch(/: too many levels of symbolic links$/)
    expect((await refusal(join(dir, 'missing', 'x'))).message).toMatch(/: no such file or directory$/)
    writeFileSync(join(dir, 'plain'), 'x')
    expect((await refusal(join(dir, 'plain', 'x'))).message).toMatch(/: a parent is not a directory$/)
  })

  it('reads a regular file (through a symlink too), refuses empty and oversized ones', async () => {
    const file = join(dir, 'ok.pem')
    writeFileSync(file, 'hello')
    symlinkSync(file, join(dir, 'ok-link'))
    expect((await readInputFile(file, '--thing')).toString()).toBe('hello')
    expect((await readInputFile(join(dir, 'ok-link'), '--thing')).toString()).toBe('hello')

    writeFileSync(join(dir, 'empty'), '')
    expect((await refusal(join(dir, 'empty'))).message).toMatch(/is empty$/)

    const big = join(dir, 'big')
    writeFileSync(big, Buffer.alloc(MAX_INPUT_BYTES + 1, 0x41))
    expect((await refusal(big)).message).toMatch(/is too large \(\d+ bytes\) to be a certificate or key$/)

    const exact = join(dir, 'exact')
    writeFileSync(exact, Buffer.alloc(MAX_INPUT_BYTES, 0x41))
    expect((await readInputFile(exact, '--thing')).length).toBe(MAX_INPUT_BYTES)
  })

  it.skipIf(!existsSync('/proc/self/cmdline'))('reads all of a file that holds more than its size said (a /proc file says 0 bytes)', async () => {
    const proc = '/proc/self/cmdline'
    const expected = readFileSync(proc)
    expect(statSync(proc).size).toBe(0)
    expect(expected.length).toBeGreaterThan(10)
    expect(await readInputFile(proc, '--thing')).toEqual(expected)
  })

  it('callers asking for one file at once share a read, each with its own copy; a later read reads again', async () => {
    const shared = join(dir, 'shared.pem')
    writeFileSync(shared, 'first version')
    const reads = await Promise.all(Array.from({length: 50}, () => readInputFile(shared, '--thing')))
    expect(reads.every((r) => r.toString() === 'first version')).toBe(true)
    expect(new Set(reads).size).toBe(50) // distinct Buffers: one caller changing its copy changes no other
    reads[0]!.fill(0)
    expect(reads[1]!.toString()).toBe('first version')
    writeFileSync(shared, 'second version')
    expect((await readInputFile(shared, '--thing')).toString()).toBe('second version') // nothing kept once a read is done
    // The same file for another purpose is its own read, with its own message.
    const missing = join(dir, 'not-there.pem')
    const [a, b] = await Promise.allSettled([readInputFile(missing, 'tls-cert-file'), readInputFile(missing, 'tls-ca-cert-file')])
    expect([a, b].map((r) => (r as PromiseRejectedResult).reason.message)).toEqual([expect.stringMatching(/^cannot read tls-cert-file /), expect.stringMatching(/^cannot read tls-ca-cert-file /)])
  })

  it('stops at the bound even when the file grows while it is read', async () => {
    const growing = join(dir, 'growing')
    writeFileSync(growing, 'x')
    const stop = Date.now() + 1500
    let grown = 0
    const grow = setInterval(() => {
      if (Date.now() > stop) return
      appendFileSync(growing, Buffer.alloc(256 * 1024, 0x42))
      grown++
    }, 1)
    try {
      // Whatever moment the size is looked at, no more than the bound (+1 to tell) is ever read.
      for (let i = 0; i < 20 && Date.now() < stop; i++) {
        try {
          const data = await readInputFile(growing, '--thing')
          expect(data.length).toBeLessThanOrEqual(MAX_INPUT_BYTES)
        } catch (error) {
          expect((error as Error).message).toMatch(/too large/)
        }
      }
    } finally {
      clearInterval(grow)
    }
    expect(grown).toBeGreaterThan(0)
  })
})
