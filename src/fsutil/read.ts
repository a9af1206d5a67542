import {readFile, stat} from 'node:fs/promises'

import {describeSystemError, inputError} from '../errors.js'

/** Largest input file we read: certificates and keys are a few KiB; this stops `/dev/zero` and huge files. */
export const MAX_INPUT_BYTES = 1024 * 1024

/** Reads a small input file, turning every failure into one clear line naming the file. */
export async function readInputFile(path: string, what: string): Promise<Buffer> {
  let info
  try {
    info = await stat(path)
  } catch (error) {
    throw inputError(`cannot read ${what} ${path}: ${describeSystemError(error)}`, error)
  }
  if (info.isDirectory()) throw inputError(`cannot read ${what} ${path}: is a directory`)
  if (info.isFile() && info.size > MAX_INPUT_BYTES) throw inputError(`${what} ${path} is too large (${info.size} bytes) to be a certificate or key`)
  try {
    const data = await readFile(path)
    if (data.length === 0) throw inputError(`${what} ${path} is empty`)
    if (data.length > MAX_INPUT_BYTES) throw inputError(`${what} ${path} is too large to be a certificate or key`)
    return data
  } catch (error) {
    if (error instanceof Error && error.name === 'ValkeyTlsError') throw error
    throw inputError(`cannot read ${what} ${path}: ${describeSystemError(error)}`, error)
  }
}
