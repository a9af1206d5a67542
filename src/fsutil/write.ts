import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {link, lstat, mkdir, open, rename, rmdir, stat, unlink} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {describeSystemError, ValkeyTlsError} from '../errors.js'

export interface OutputFile {
  /** File name inside the output folder. */
  name: string
  data: string | Uint8Array
  /** Private keys are 0o600, everything else 0o644: set explicitly, whatever the umask. */
  mode: number
}

export interface WriteOptions {
  /** Replace existing targets (they are kept aside until every new file is in place). */
  overwrite: boolean
  /** Aborting it (SIGINT, SIGTERM) stops the write and puts everything back; its reason names the signal. */
  signal?: AbortSignal
}

export interface WriteOutcome {
  placed: string[]
  /** Previous versions of replaced files that could not be removed after the new set was in place. */
  leftovers: string[]
}

/** The run was stopped by a signal; the message says what was left on disk. */
export class InterruptedError extends Error {
  constructor(readonly signalName: string, outcome: string) {
    super(`interrupted by ${signalName}; ${outcome}`)
    this.name = 'InterruptedError'
  }
}

/** Throws an InterruptedError saying `outcome` if `signal` was aborted. */
export function throwIfInterrupted(signal: AbortSignal | undefined, outcome: string): void {
  if (signal?.aborted) throw new InterruptedError(typeof signal.reason === 'string' ? signal.reason : 'an abort', outcome)
}

const outputError = (message: string, cause?: unknown) => new ValkeyTlsError('output', message, {cause})
const errno = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code

/**
 * Refuses a path that exists and is not a folder, or that cannot become one (a parent is a file).
 * A missing folder is fine: writeFilesAtomically creates it, and removes it again if the write fails.
 */
export async function checkOutputDir(dir: string): Promise<void> {
  let info
  try {
    info = await stat(dir)
  } catch (error) {
    if (errno(error) === 'ENOENT') return
    throw outputError(`cannot use --out ${dir}: ${describeSystemError(error)}`, error)
  }
  if (!info.isDirectory()) throw outputError(`--out ${dir} exists and is not a folder`)
}

/**
 * Creates `dir` and its missing parents one at a time, returning the folders it made (outermost first).
 * Not mkdir({recursive: true}): on Node 20 that loops forever where mkdir(2) says ENOENT for a parent that
 * exists (/proc/foo).
 */
async function createDir(dir: string): Promise<string[]> {
  const missing: string[] = []
  for (let d = dir; ; d = dirname(d)) {
    try {
      if ((await stat(d)).isDirectory()) break
      throw outputError(d === dir ? `--out ${dir} exists and is not a folder` : `cannot create --out ${dir}: ${d} is not a folder`)
    } catch (error) {
      if (error instanceof ValkeyTlsError) throw error
      if (errno(error) !== 'ENOENT' || dirname(d) === d) throw outputError(`cannot create --out ${dir}: ${describeSystemError(error)}`, error)
      missing.unshift(d)
    }
  }
  const created: string[] = []
  for (const d of missing) {
    try {
      await mkdir(d, {mode: 0o755})
      created.push(d)
    } catch (error) {
      if (errno(error) === 'EEXIST' && (await stat(d).catch(() => undefined))?.isDirectory()) continue
      await removeDirs(created)
      throw outputError(`cannot create --out ${dir}: ${describeSystemError(error)}`, error)
    }
  }
  return created
}

/** Removes folders this run made, innermost first; a folder that is not empty stays. */
async function removeDirs(created: string[]): Promise<void> {
  for (const d of [...created].reverse()) await rmdir(d).catch(() => {})
}

/** Targets that already exist (as files, links or anything else). */
export async function existingTargets(dir: string, names: string[]): Promise<string[]> {
  const found: string[] = []
  for (const name of names) {
    try {
      await lstat(join(dir, name))
      found.push(name)
    } catch (error) {
      if (errno(error) !== 'ENOENT') {
        throw outputError(`cannot check ${join(dir, name)}: ${describeSystemError(error)}`, error)
      }
    }
  }
  return found
}

interface Entry {
  file: OutputFile
  target: string
  temp: string
  /** Where the previous version of the target is kept until the whole new set is in place. */
  aside?: string
  /** Whether the target itself was moved aside (no hard links here), so that it is missing until restored. */
  movedAside?: boolean
  placed?: boolean
}

const hiddenName = (dir: string, name: string, suffix: string) => join(dir, `.${basename(name)}.${randomBytes(6).toString('hex')}.${suffix}`)

/**
 * Writes all files or none, creating `dir` if needed.
 *
 * 1. Every file goes to a temp file in the same folder (created with its final mode, synced).
 * 2. Targets are checked: without `overwrite` none may exist; a folder can never be replaced.
 * 3. With `overwrite`, every existing target gets a second name (a hard link, `.NAME.<random>.old`), so the
 *    target never goes missing and the old version survives its replacement.
 * 4. The temp files are renamed over the targets (link(2) without `overwrite`, which refuses a target that
 *    appeared meanwhile), the folder is synced, and only then are the old versions removed.
 *
 * If any step fails, or `signal` is aborted before the last target is in place, everything is put back:
 * each old version is renamed back over its target, new files that had no old version are removed, temp
 * files are removed, and so are the folders this call created. The error says what happened, including
 * anything that could not be put back. Aborts during that clean-up are ignored, so it always completes.
 */
export async function writeFilesAtomically(dir: string, files: OutputFile[], options: WriteOptions): Promise<WriteOutcome> {
  throwIfInterrupted(options.signal, 'nothing was written')
  const created = await createDir(dir)
  const entries: Entry[] = files.map((file) => ({file, target: join(dir, file.name), temp: hiddenName(dir, file.name, 'tmp')}))
  const stopIfAsked = () => throwIfInterrupted(options.signal, '')
  try {
    // In parallel: the file system overlaps the fsyncs, which are most of the time taken here.
    const written = await Promise.allSettled(entries.map(({file, temp}) => writeTemp(temp, file)))
    const failed = written.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
    stopIfAsked()
    for (const {target} of entries) {
      const info = await lstat(target).catch((error: unknown) => {
        if (errno(error) === 'ENOENT') return undefined
        throw Object.assign(error as Error, {dest: target})
      })
      if (!info) continue
      if (!options.overwrite) throw Object.assign(new Error('exists'), {code: 'EEXIST', dest: target})
      if (info.isDirectory()) throw Object.assign(new Error('is a folder'), {code: 'EISDIR', dest: target})
    }
    if (options.overwrite) {
      for (const entry of entries) {
        stopIfAsked()
        await keepAside(entry)
      }
    }
    for (const entry of entries) {
      stopIfAsked()
      if (options.overwrite) {
        await onTarget(entry.target, () => rename(entry.temp, entry.target))
        entry.placed = true
      } else {
        await onTarget(entry.target, () => link(entry.temp, entry.target))
        entry.placed = true
        await unlink(entry.temp)
      }
    }
  } catch (error) {
    const problems = await rollBack(entries)
    await removeDirs(created)
    throw failure(error, dir, entries, problems, options.overwrite)
  }
  // Every new file is in place: that is the commit. Sync it before dropping the old versions.
  await syncDir(dir)
  const leftovers: string[] = []
  for (const {aside} of entries) {
    if (aside && (await attempt(() => unlink(aside)))) leftovers.push(aside)
  }
  return {placed: entries.map((e) => e.target), leftovers}
}

/** Runs a step on `target`; its error carries the target's path, for the message. */
async function onTarget(target: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run()
  } catch (error) {
    throw Object.assign(error as Error, {dest: target})
  }
}

/** Runs a clean-up step; returns its error instead of throwing it. */
async function attempt(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
    return undefined
  } catch (error) {
    return error ?? new Error('failed')
  }
}

/** Gives an existing target a second name; where hard links are not supported, moves it there instead. */
async function keepAside(entry: Entry): Promise<void> {
  const aside = hiddenName(dirname(entry.target), entry.file.name, 'old')
  const linkError = await attempt(() => link(entry.target, aside))
  if (!linkError) {
    entry.aside = aside
    return
  }
  if (errno(linkError) === 'ENOENT') return // gone meanwhile: nothing to keep
  if (errno(linkError) === 'EEXIST') throw Object.assign(linkError as Error, {dest: entry.target})
  const moveError = await attempt(() => rename(entry.target, aside))
  if (errno(moveError) === 'ENOENT') return
  if (moveError) throw Object.assign(moveError as Error, {dest: entry.target})
  entry.aside = aside
  entry.movedAside = true
}

/** Puts the folder back as it was; returns what could not be put back, in words. */
async function rollBack(entries: Entry[]): Promise<string[]> {
  const problems: string[] = []
  for (const entry of [...entries].reverse()) {
    const {aside, target, temp} = entry
    if (aside && (entry.placed || entry.movedAside)) {
      // rename(2) puts the old version back over the new one in one step.
      const error = await attempt(() => rename(aside, target))
      if (error) problems.push(`could not put back ${target} (${describeSystemError(error)}; the previous version is ${aside})`)
    } else if (aside) {
      if (await attempt(() => unlink(aside))) problems.push(`could not remove ${aside}`)
    } else if (entry.placed) {
      const error = await attempt(() => unlink(target))
      if (error) problems.push(`could not remove the new ${target} (${describeSystemError(error)})`)
    }
    const error = await attempt(() => unlink(temp))
    if (error && errno(error) !== 'ENOENT') problems.push(`could not remove ${temp}`)
  }
  return problems
}

function failure(error: unknown, dir: string, entries: Entry[], problems: string[], overwrite: boolean): Error {
  const touched = entries.some((e) => e.placed || e.movedAside)
  const outcome = problems.length > 0
    ? problems.join('; ')
    : overwrite && touched ? 'nothing was changed: the previous files are back in place' : overwrite ? 'nothing was changed' : 'nothing was written'
  if (error instanceof InterruptedError) return new InterruptedError(error.signalName, outcome)
  const dest = (error as {dest?: string}).dest
  if (errno(error) === 'EEXIST' && !overwrite) {
    return new ValkeyTlsError('exists', `${dest ?? 'a target file'} appeared while writing; ${outcome}`, {cause: error})
  }
  if (dest) return outputError(`cannot ${overwrite ? 'replace' : 'write'} ${dest}: ${describeSystemError(error)}; ${outcome}`, error)
  return outputError(`cannot write to ${dir}: ${describeSystemError(error)}; ${outcome}`, error)
}

async function writeTemp(path: string, file: OutputFile): Promise<void> {
  // O_EXCL: never write through a link or into a file someone else made; the mode is the final one from the start.
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, file.mode)
  try {
    await handle.chmod(file.mode) // the umask applied to open(); set the mode we mean
    await handle.writeFile(file.data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, constants.O_RDONLY)
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // Not every file system lets a folder be synced; the renames are done either way.
  }
}
