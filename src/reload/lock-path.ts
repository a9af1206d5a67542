import {lstatSync, mkdirSync, type Stats} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describeSystemError, inputError, ValkeyTlsError} from '../errors.js'

/**
 * Where `reload` locks by default: `reload.lock` in a folder only this user can write, so that no other user
 * can create the lock first (and keep every run busy) or plant a symlink there. That folder is
 * `$XDG_RUNTIME_DIR/valkey-tls` when the runtime folder is a real folder of this user with mode 0700 (systemd
 * makes /run/user/<uid> so), else `<tmpdir>/valkey-tls-<uid>`. Creates the folder (mode 0700); refuses one
 * that is a symlink, not this user's, or open to group or others.
 */
export function defaultLockPath(): string {
  return join(privateFolder(), 'reload.lock')
}

function privateFolder(): string {
  const uid = process.getuid?.()
  // Windows: no uids, and the temp folder is already per user.
  if (uid === undefined) return ensureFolder(join(tmpdir(), 'valkey-tls'))
  const runtime = process.env.XDG_RUNTIME_DIR
  if (runtime && isPrivate(lstatOrUndefined(runtime), uid)) return ensurePrivate(join(runtime, 'valkey-tls'), uid)
  return ensurePrivate(join(tmpdir(), `valkey-tls-${uid}`), uid)
}

function ensurePrivate(dir: string, uid: number): string {
  ensureFolder(dir)
  const unsafe = whyUnsafe(lstatSync(dir), uid)
  if (unsafe) throw inputError(`refusing the lock folder ${dir}: ${unsafe}; remove it, or pass --lock-file`)
  return dir
}

function whyUnsafe(info: Stats, uid: number): string | undefined {
  if (info.isSymbolicLink()) return 'it is a symbolic link, which could lead anywhere'
  if (!info.isDirectory()) return 'it is not a folder'
  if (info.uid !== uid) return `it belongs to uid ${info.uid}, not to you (uid ${uid}), and its owner could hold or fake the lock`
  if ((info.mode & 0o077) !== 0) return `its mode ${(info.mode & 0o777).toString(8).padStart(4, '0')} opens it to other users (it must be 0700)`
  return undefined
}

/** Makes `dir` (mode 0700) unless something is already there, which the caller then looks at. */
function ensureFolder(dir: string): string {
  try {
    mkdirSync(dir, {mode: 0o700})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ValkeyTlsError('output', `cannot create the lock folder ${dir}: ${describeSystemError(error)}`, {cause: error})
    }
  }
  return dir
}

function isPrivate(info: Stats | undefined, uid: number): boolean {
  return info !== undefined && info.isDirectory() && info.uid === uid && (info.mode & 0o777) === 0o700
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch {
    return undefined
  }
}
