import {spawn} from 'node:child_process'
import {constants} from 'node:fs'
import {access} from 'node:fs/promises'
import {delimiter, isAbsolute, join} from 'node:path'

import {usageError} from '../errors.js'
import {type Failure, PasswordError} from '../transport/errors.js'
import type {PasswordSupplier} from '../transport/options.js'
import {displayText} from '../x509/text.js'

/** The most a password command may print: a token is a few KiB (a SigV4-presigned one ~1 KiB, a JWT a few). */
export const MAX_PASSWORD_OUTPUT = 64 * 1024
/** Password commands running at once, however many nodes are connected to at once (a check of 100 nodes). */
export const PASSWORD_COMMANDS_AT_ONCE = 4
const STDERR_KEPT = 4096

/**
 * --password-command's text as the argv it runs, without a shell: words are separated by white space;
 * '...' or "..." keep white space (and the other quote) inside one word, with no escapes; nothing else
 * is special ($, *, ~, |, ; and \ are themselves). A pipeline or a variable needs a shell, asked for
 * explicitly: `sh -c 'pass show valkey | head -n 1'`.
 */
export function splitCommandLine(text: string, what: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote: string | undefined
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = undefined
      else word += c
    } else if (c === '"' || c === '\'') {
      quote = c
      word ??= ''
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else {
      word = (word ?? '') + c
    }
  }
  if (quote) throw usageError(`${what}: a ${quote} quote is not closed`)
  if (word !== undefined) words.push(word)
  if (words.length === 0 || words[0] === '') throw usageError(`${what} is empty: give the command that prints the password`)
  return words
}

/**
 * The program exists and may be run (checked once, at start, so a typo is a usage error before any
 * connection rather than the same failure on every node). On Windows, where PATHEXT decides, the check
 * is left to the first run.
 */
export async function checkRunnable(program: string, what: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (process.platform === 'win32') return
  const runnable = (path: string) => access(path, constants.X_OK).then(() => true, () => false)
  const shown = displayText(program)
  if (program.includes('/')) {
    if (!(await runnable(program))) throw usageError(`${what}: ${shown} does not exist or is not executable`)
    return
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir !== '' && isAbsolute(dir) && (await runnable(join(dir, program)))) return
  throw usageError(`${what}: ${shown} is not found on PATH`)
}

/**
 * A password supplier that runs `argv` (no shell) every time a password is needed, so each connection
 * gets a fresh value: stdin closed, the environment inherited, stdout (one line; its final newline is
 * dropped) is the password, within `timeoutMs` (then it is killed).
 * Failures are one line naming `what`, the exit status and the first line of stderr; the output is
 * never part of any message. At most PASSWORD_COMMANDS_AT_ONCE run at a time.
 */
export function commandPassword(argv: string[], what: string, timeoutMs: number): PasswordSupplier {
  let running = 0
  const waiting: Array<() => void> = []
  return async () => {
    if (running >= PASSWORD_COMMANDS_AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await runOnce(argv, what, timeoutMs)
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

const failure = (what: string, cause: string): PasswordError =>
  new PasswordError({kind: 'auth', reason: 'password-command', cause: `${what} ${cause}`} satisfies Failure)

function runOnce(argv: string[], what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // In our process group, so Ctrl-C on a terminal ends it with us; on a timeout it is killed (what it
    // started itself may outlive it, e.g. the sleep of `sh -c 'sleep 99'`, but is no longer waited for).
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true})
    const out: Buffer[] = []
    let outBytes = 0
    let err = Buffer.alloc(0)
    let settled = false
    const settle = (error: PasswordError | undefined, value?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) kill()
      child.stdout.destroy()
      child.stderr.destroy()
      if (error) reject(error)
      else resolve(value!)
    }
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
    }
    const timer = setTimeout(() => settle(failure(what, `did not finish within ${timeoutMs / 1000} s (see --timeout)`)), timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length
      if (outBytes > MAX_PASSWORD_OUTPUT) settle(failure(what, `printed more than ${MAX_PASSWORD_OUTPUT / 1024} KiB: not a password`))
      else out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < STDERR_KEPT) err = Buffer.concat([err, chunk]).subarray(0, STDERR_KEPT)
    })
    child.once('error', (error: NodeJS.ErrnoException) => settle(failure(what, `could not be started (${error.code ?? error.message})`)))
    child.once('close', (code, signal) => {
      const stderr = firstLine(err)
      if (signal) return settle(failure(what, `was killed by ${signal}${stderr}`))
      if (code !== 0) return settle(failure(what, `exited with status ${code}${stderr}`))
      // One line, as `echo TOKEN` prints it: the final newline is not part of the password.
      const password = Buffer.concat(out).toString('utf8').replace(/\r?\n$/, '')
      if (password === '') return settle(failure(what, `printed nothing${stderr}`))
      if (/[\r\n]/.test(password)) return settle(failure(what, 'printed more than one line: it must print the password alone'))
      settle(undefined, password)
    })
  })
}

/** ": <the first non-empty line of stderr>", escaped and cut short, or nothing. */
function firstLine(stderr: Buffer): string {
  const line = stderr.toString('utf8').split(/\r?\n/).find((l) => l.trim() !== '')
  if (line === undefined) return ''
  const shown = displayText(line.trim())
  return `: ${shown.length > 200 ? `${shown.slice(0, 200)}...` : shown}`
}
