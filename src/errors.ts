/**
 * Exit codes are part of the CLI's contract (see README "Exit codes").
 * Domain code throws ValkeyTlsError with one of these; only the command layer exits.
 */
export const ExitCode = {
  ok: 0,
  /** Unexpected internal error: a bug. */
  internal: 1,
  /** Bad flag or argument value (unknown key type, invalid SAN, days <= 0, ...). */
  usage: 2,
  /** An input file is missing, unreadable, malformed or unsuitable (not a CA, key mismatch, ...). */
  input: 3,
  /** Refused to overwrite existing files (pass --force). Nothing was written. */
  exists: 4,
  /** The output location cannot be written (not a folder, permission denied, disk full). */
  output: 5,
  /** A server cannot be reached or does not speak TLS as expected (refused, timed out, handshake failed). */
  server: 6,
  /** The server refused our credentials or the user lacks a permission the command needs. */
  auth: 7,
  /** `whoami --verify-key`: the user the server really chose differs from the prediction. */
  mismatch: 8,
  /** `check`: every node passed, but there are warnings (certificate expiring soon, nodes that differ); `reload`: nothing to load, but a served certificate expires within --min-days. */
  warning: 9,
  /** A certificate failed validation and must not be loaded (`certs verify`, `reload`). */
  refused: 10,
  /** `reload`: another run holds the lock (still after --lock-wait). Nothing was done. */
  busy: 11,
} as const

export type ExitCodeName = keyof typeof ExitCode

export class ValkeyTlsError extends Error {
  readonly kind: ExitCodeName

  constructor(kind: ExitCodeName, message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'ValkeyTlsError'
    this.kind = kind
  }

  get exitCode(): number {
    return ExitCode[this.kind]
  }
}

export const usageError = (message: string) => new ValkeyTlsError('usage', message)
export const inputError = (message: string, cause?: unknown) => new ValkeyTlsError('input', message, {cause})
export const serverError = (message: string, cause?: unknown) => new ValkeyTlsError('server', message, {cause})
export const authError = (message: string, cause?: unknown) => new ValkeyTlsError('auth', message, {cause})

/** Whether a failure is the user's credentials (exit 7) or the server's side (exit 6). */
export const failureKind = (error: unknown): 'auth' | 'server' => (error instanceof ValkeyTlsError && error.kind === 'auth' ? 'auth' : 'server')

/**
 * The exit code of a run where something failed: 7 when every failure was a credential (wrong password,
 * missing or rejected client certificate, missing permission), else 6.
 */
export const failedRunExit = (kinds: Array<'auth' | 'server' | undefined>): number =>
  kinds.length > 0 && kinds.every((k) => k === 'auth') ? ExitCode.auth : ExitCode.server

/** A short reason from a Node system error, without the stack ("permission denied", ...). */
export function describeSystemError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case 'ENOENT': return 'no such file or directory'
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    case 'EISDIR': return 'is a directory'
    case 'ENOTDIR': return 'a parent is not a directory'
    case 'ENOSPC': return 'no space left on device'
    case 'EROFS': return 'read-only file system'
    case 'EEXIST': return 'already exists'
    case 'ELOOP': return 'too many levels of symbolic links'
    case 'ENXIO': return 'no such device'
    case 'EIO': return 'input/output error'
    default: return (error as Error | undefined)?.message ?? String(error)
  }
}
