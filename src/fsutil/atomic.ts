import {randomBytes} from 'node:crypto'
import {type FileHandle, open, rename, rm} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {describeSystemError, ValkeyTlsError} from '../errors.js'

/**
 * Replaces `path` with `data` so that a reader (node_exporter's textfile collector, say) sees the old
 * file or the new one, never half of one: a temp file in the same folder, synced, then renamed over it.
 * With `owner` (the replaced file's), the new file gets it too: a server that reads its key as its own user
 * must still read it when root replaced it. Where that is not allowed, nothing is replaced.
 * The temp file is removed when anything fails.
 */
export async function replaceFile(path: string, data: string | Buffer, mode = 0o644, owner?: {uid: number; gid: number}): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      if (owner) await handOver(handle, owner)
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

/** Gives the new file the owner and group of the one it replaces, before anything is written to it. */
async function handOver(handle: FileHandle, owner: {uid: number; gid: number}): Promise<void> {
  const own = await handle.stat()
  if (own.uid === owner.uid && own.gid === owner.gid) return
  try {
    await handle.chown(owner.uid, owner.gid)
  } catch (error) {
    throw Object.assign(new Error(`it belongs to uid ${owner.uid} gid ${owner.gid}, and this run cannot give its replacement that owner (${describeSystemError(error)}): run as that user or as root`), {cause: error})
  }
}
