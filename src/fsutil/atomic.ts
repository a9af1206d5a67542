import {randomBytes} from 'node:crypto'
import {open, rename, rm} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {describeSystemError, ValkeyTlsError} from '../errors.js'

/**
 * Replaces `path` with `data` so that a reader (node_exporter's textfile collector, say) sees the old
 * file or the new one, never half of one: a temp file in the same folder, synced, then renamed over it.
 * The temp file is removed when anything fails.
 */
export async function replaceFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      await handle.writeFile(data)
      await handle.chmod(mode)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (error) {
    await rm(temp, {force: true})
    throw new ValkeyTlsError('output', `cannot write ${path}: ${describeSystemError(error)}`, {cause: error})
  }
}
