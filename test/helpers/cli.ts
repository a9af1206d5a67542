import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {expect} from 'vitest'

/** The package's bin (`valkey-tls` once installed; npm links it, or makes a cmd shim running `node bin/run.js` on Windows). */
export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/** The same file: the package has one entry. Kept so that tests naming the launcher still read the same. */
export const LAUNCHER = BIN

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs the built CLI (`npm test` builds first) as a user would: `node bin/run.js`, a real process, real exit code.
 * Never inherits a terminal, so the command must not prompt.
 */
export function runCli(args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: {...process.env, NO_COLOR: '1', ...options.env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

/** The CLI failed with `code` and exactly one line on stderr, "Error: ...", matching `message`, no stack. */
export function expectOneLineError(result: CliResult, code: number, message: RegExp): void {
  expect(result.code).toBe(code)
  const lines = result.stderr.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^Error: /)
  expect(lines[0]).toMatch(message)
  expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace
}
