/**
 * The valkey-server and valkey-cli commands the tests run. Their paths come from the vitest globalSetup
 * (test/helpers/global-setup.ts, which runs scripts/ensure-valkey.sh) via inject(), falling back to the
 * env vars VALKEY_SERVER / VALKEY_CLI when no globalSetup ran.
 */
import {execFile} from 'node:child_process'

import {inject} from 'vitest'

/** Value provided by the globalSetup; undefined outside vitest or when nothing was provided. */
function injected(key: 'valkeyServer' | 'valkeyCli' | 'valkeyError'): string | undefined {
  try {
    return inject(key)
  } catch {
    return undefined // not running inside a vitest worker
  }
}

/**
 * Path of valkey-server: what the globalSetup provided, else $VALKEY_SERVER
 * (only when no globalSetup ran). Throws the globalSetup's reason when it
 * could not provide one.
 */
export function valkeyServerPath(): string {
  return commandPath('valkeyServer', 'VALKEY_SERVER', 'valkey-server')
}

export function valkeyCliPath(): string {
  return commandPath('valkeyCli', 'VALKEY_CLI', 'valkey-cli')
}

function commandPath(key: 'valkeyServer' | 'valkeyCli', envVar: string, name: string): string {
  const p = injected(key)
  if (p) return p
  if (p === '') throw new Error(`${name} is not available: ${injected('valkeyError') || 'unknown reason'}`)
  if (process.env[envVar]) return process.env[envVar]
  throw new Error(`${name} is not available (no globalSetup value and ${envVar} is unset)`)
}

/** Run valkey-cli with the given full argument list; resolves with stdout. */
export function runValkeyCli(args: string[], timeoutMs = 30_000): Promise<string> {
  const cli = valkeyCliPath()
  return new Promise((res, rej) => {
    execFile(cli, args, {timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024}, (err, stdout, stderr) => {
      if (err) {
        rej(new Error(`valkey-cli ${args.join(' ')} failed: ${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`))
      } else {
        res(String(stdout))
      }
    })
  })
}
