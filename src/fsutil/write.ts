import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {link, lstat, mkdir, open, rename, stat, unlink} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {describeSystemError, ValkeyTlsError} from '../errors.js'

export interface OutputFile {
  /** File name inside the output folder. */
  name: string
  data: string
  /** Private keys are 0o600, everything else 0o644: set explicitly, whatever the umask. */
  mode: number
}

const outputError = (message: string, cause?: unknown) => new ValkeyTlsError('output', message, {cause})

/** Creates the folder (and parents) if needed; refuses a path that exists and is not a folder. */
export async function prepareOutputDir(dir: string): Promise<void> {
  try {
    const info = await stat(dir)
    if (!info.isDirectory()) throw outputError(`--out ${dir} exists and is not a folder`)
    return
  } catch (error) {
    if (error instanceof ValkeyTlsError) throw error
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw outputError(`cannot use --out ${dir}: ${describeSystemError(error)}`, error)
    }
  }
  try {
    await mkdir(dir, {recursive: true, mode: 0o755})
  } catch (error) {
    throw outputError(`cannot create --out ${dir}: ${describeSystemError(error)}`, error)
  }
}

/** Targets that already exist (as files, links or anything else). */
export async function existingTargets(dir: string, names: string[]): Promise<string[]> {
  const found: string[] = []
  for (const name of names) {
    try {
      await lstat(join(dir, name))
      found.push(name)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw outputError(`cannot check ${join(dir, name)}: ${describeSystemError(error)}`, error)
      }
    }
  }
  return found
}

/**
 * Writes all files or none. Each file goes to a temp file in the same folder (mode set explicitly,
 * synced), then into place. Without `overwrite`, files are put in place with link(2), which fails
 * rather than replace a file that appeared meanwhile; on any failure every file this call created
 * is removed again, so a reader never sees a half-written set.
 */
export async function writeFilesAtomically(dir: string, files: OutputFile[], options: {overwrite: boolean}): Promise<string[]> {
  const temps: {file: OutputFile; temp: string; target: string}[] = []
  const placed: string[] = []
  try {
    for (const file of files) {
      temps.push({file, temp: join(dir, `.${basename(file.name)}.${randomBytes(6).toString('hex')}.tmp`), target: join(dir, file.name)})
    }
    // In parallel: the file system overlaps the fsyncs, which are most of the time taken here.
    const written = await Promise.allSettled(temps.map(({file, temp}) => writeTemp(temp, file)))
    const failed = written.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
    for (const {temp, target} of temps) {
      if (options.overwrite) {
        await rename(temp, target)
      } else {
        await link(temp, target)
        await unlink(temp)
      }
      placed.push(target)
    }
  } catch (error) {
    await Promise.all(temps.map(({temp}) => unlink(temp).catch(() => {})))
    if (!options.overwrite) await Promise.all(placed.map((target) => unlink(target).catch(() => {})))
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ValkeyTlsError('exists', `${(error as {dest?: string}).dest ?? 'a target file'} appeared while writing; nothing was written`, {cause: error})
    }
    throw outputError(`cannot write to ${dir}: ${describeSystemError(error)}${options.overwrite ? '' : '; nothing was written'}`, error)
  }
  await syncDir(dir)
  return placed
}

async function writeTemp(path: string, file: OutputFile): Promise<void> {
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
