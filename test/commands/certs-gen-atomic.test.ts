/**
 * `certs gen` writes all or nothing: a target that cannot be replaced, or a SIGINT/SIGTERM at any moment,
 * leaves --out holding the complete previous set or the complete new one, and no temp files.
 * The interrupt tests send real signals to the real CLI, timed from the moment its first temp file
 * appears in the folder (inotify, seen from this process): nothing in the shipped code helps them.
 */
import {execFileSync, spawn} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {BIN, expectOneLineError, runCli} from '../helpers/cli.js'
import {useTempDirs} from '../helpers/temp.js'

const tempDir = useTempDirs('vtls-gen-atomic')

const CLIENTS = ['alice', 'bob', 'carol', 'dave']
const NAMES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', ...['client', ...CLIENTS].flatMap((n) => [`${n}.crt`, `${n}.key`])].sort()
const GEN = ['certs', 'gen', ...CLIENTS.flatMap((c) => ['--client', c])]

/** Every entry of `dir` (hidden ones too), with the bytes of the files. */
function snapshot(dir: string): Map<string, Buffer | 'folder'> {
  return new Map(readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => [e.name, e.isDirectory() ? 'folder' as const : readFileSync(join(dir, e.name))]))
}

async function generate(out: string): Promise<Map<string, Buffer | 'folder'>> {
  const result = await runCli([...GEN, '--out', out])
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  return snapshot(out)
}

/** The folder holds exactly the set `old`, or a complete new set (every file different, the leaves signed by the new CA). */
function oldOrNew(out: string, old: Map<string, Buffer | 'folder'> | undefined): 'old' | 'new' | 'empty' {
  const now = snapshot(out)
  if (now.size === 0 && !old) return 'empty'
  expect([...now.keys()]).toEqual(NAMES) // no temp files, no kept-aside copies, nothing missing
  if (old && [...now].every(([name, data]) => data !== 'folder' && data.equals(old.get(name) as Buffer))) return 'old'
  for (const [name, data] of now) {
    if (old) expect((data as Buffer).equals(old.get(name) as Buffer), `${name} is from the old set`).toBe(false)
  }
  const ca = new X509Certificate(now.get('ca.crt') as Buffer)
  for (const leaf of ['server', 'client', ...CLIENTS]) expect(new X509Certificate(now.get(`${leaf}.crt`) as Buffer).verify(ca.publicKey)).toBe(true)
  return 'new'
}

interface Interrupted {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/**
 * Runs `certs gen` and, `delayMs` after an entry named `trigger` appears in `watchDir` (by default its first
 * temp file), sends `signal` every millisecond or so until it exits (so signals also land while it is
 * putting things back).
 */
function runAndInterrupt(args: string[], watchDir: string, signal: NodeJS.Signals, delayMs: number, trigger = (name: string) => name.endsWith('.tmp')): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    let timer: NodeJS.Timeout | undefined
    let interval: NodeJS.Timeout | undefined
    const watcher = watch(watchDir, {recursive: false}, (_event, name) => {
      if (timer || !name || !trigger(name)) return
      timer = setTimeout(() => {
        const send = () => child.exitCode === null && child.signalCode === null && child.kill(signal)
        send()
        interval = setInterval(send, 1)
      }, delayMs)
    })
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code, sig) => {
      watcher.close()
      clearTimeout(timer)
      clearInterval(interval)
      clearTimeout(guard)
      resolve({code, signal: sig, stderr})
    })
  })
}

describe('certs gen --force is all or nothing', () => {
  it('a target that is a non-empty folder: refused, the old set byte for byte as it was, no temp files', async () => {
    const out = tempDir()
    const before = await generate(out)
    // Last in the write order, so that every other file would already have been replaced.
    execFileSync('rm', [join(out, 'dave.key')])
    mkdirSync(join(out, 'dave.key', 'inside'), {recursive: true})
    writeFileSync(join(out, 'dave.key', 'inside', 'x'), 'x')
    before.set('dave.key', 'folder')
    const result = await runCli([...GEN, '--out', out, '--force'])
    expect(snapshot(out)).toEqual(before)
    expectOneLineError(result, 5, new RegExp(`^Error: cannot replace ${join(out, 'dave.key')}: is a directory; nothing was changed$`))
  })

  // chattr +i stops even root from replacing a file, where the file system supports it (not tmpfs, not every overlay).
  const immutable = (() => {
    const dir = tempDir()
    writeFileSync(join(dir, 'probe'), '')
    try {
      execFileSync('chattr', ['+i', join(dir, 'probe')], {stdio: 'ignore'})
      execFileSync('chattr', ['-i', join(dir, 'probe')], {stdio: 'ignore'})
      return true
    } catch {
      return false
    }
  })()

  it.skipIf(!immutable)('an immutable target (chattr +i): refused, the old set byte for byte as it was, no temp files', async () => {
    const out = tempDir()
    const before = await generate(out)
    const locked = join(out, 'carol.crt')
    execFileSync('chattr', ['+i', locked])
    try {
      const result = await runCli([...GEN, '--out', out, '--force'])
      expect(snapshot(out)).toEqual(before)
      expectOneLineError(result, 5, new RegExp(`^Error: cannot replace ${locked}: permission denied; nothing was changed$`))
    } finally {
      execFileSync('chattr', ['-i', locked])
    }
  })
})

describe('certs gen interrupted by SIGINT or SIGTERM at any moment of writing', () => {
  /**
   * Half the runs from the first temp file on, over the writing of the temp files and past the end; half
   * from the first kept-aside copy (`.NAME.<random>.old`) on, over the few milliseconds of placing.
   */
  const schedule = (runs: number) => Array.from({length: runs}, (_, i) => i % 2 === 0
    ? {delay: Math.random() * 25, trigger: (name: string) => name.endsWith('.tmp')}
    : {delay: Math.random() * 5, trigger: (name: string) => name.endsWith('.old')})

  it('with --force: the complete old set or the complete new one, never a mix, never a temp file', async () => {
    const out = tempDir()
    let current: Map<string, Buffer | 'folder'> = await generate(out)
    const seen = {old: 0, new: 0, restored: 0}
    // 40 runs, then more (160 at most) until one has been rolled back after replacing files: on a loaded
    // machine the few milliseconds of placing can be missed by 40 random delays.
    const runs = schedule(160)
    for (let i = 0; i < runs.length && (i < 40 || seen.restored === 0); i++) {
      const {delay, trigger} = runs[i]!
      const signal = i % 4 === 3 ? 'SIGTERM' : 'SIGINT'
      const result = await runAndInterrupt([...GEN, '--out', out, '--force'], out, signal, delay, trigger)
      const state = oldOrNew(out, current)
      seen[state as 'old' | 'new'] += 1
      if (result.code === 0) {
        expect(state).toBe('new')
      } else {
        // Died of the signal: after saying in one line what it left, or, with no word, before it caught
        // signals or after the new set was in place.
        expect(result.signal, result.stderr).toBe(signal)
        if (result.stderr) {
          expect(result.stderr).toMatch(new RegExp(`^Error: interrupted by ${signal}; nothing was changed(: the previous files are back in place)?\\n$`))
          expect(state).toBe('old')
          if (/back in place/.test(result.stderr)) seen.restored += 1
        }
      }
      if (state === 'new') current = snapshot(out)
    }
    // The timing really reached the placement: some runs were rolled back after replacing files.
    expect(seen.restored, JSON.stringify(seen)).toBeGreaterThan(0)
    // And the folder is still usable: the next run replaces it.
    expect((await runCli([...GEN, '--out', out, '--force'])).code).toBe(0)
  }, 300_000)

  it('into a new folder: the complete set, or no folder at all (so that the next run does not refuse)', async () => {
    const parent = tempDir()
    const out = join(parent, 'tls')
    for (const delay of Array.from({length: 15}, () => Math.random() * 25)) {
      // From the moment the folder is made, which is just before the temp files are written into it.
      const result = await runAndInterrupt([...GEN, '--out', out], parent, 'SIGINT', delay, (name) => name === 'tls')
      if (!existsSync(out)) {
        expect(result.signal).toBe('SIGINT')
        expect(readdirSync(parent)).toEqual([]) // not even a temp file beside it
        continue
      }
      expect(oldOrNew(out, undefined)).toBe('new')
      execFileSync('rm', ['-r', out])
    }
  }, 120_000)
})
