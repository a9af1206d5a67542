import {constants, type Stats} from 'node:fs'
import {open, stat} from 'node:fs/promises'

import {describeSystemError, inputError, ValkeyTlsError} from '../errors.js'
import {displayText} from '../x509/text.js'

/** Largest input file we read: certificates and keys are a few KiB; this stops huge files. */
export const MAX_INPUT_BYTES = 1024 * 1024

// Opening never waits: O_NONBLOCK returns at once on a FIFO without a writer (then refused as not a
// regular file), O_NOCTTY keeps a terminal device from becoming ours. Neither exists on Windows.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0)

/**
 * Reads a small input file, turning every failure into one line naming the file. The file is opened
 * once, then checked through that descriptor (after links are followed) to be a regular file: a FIFO,
 * a device (/dev/zero, /dev/urandom), a socket or a folder is refused at once, never waited on or read.
 * At most MAX_INPUT_BYTES are read, even from a file that grows meanwhile. Messages show the path with
 * control characters escaped: it may be a server's (reload reads the files a node names).
 */
export function readInputFile(path: string, what: string): Promise<Buffer> {
  // Asked again while a read of the same file (for the same purpose, so the same messages) is under way, as
  // reload does for the files 200 nodes share: the answer of that read, which began no earlier than a moment
  // ago, instead of one more open, stat, read and close through the thread pool each.
  const key = `${what}\0${path}`
  let read = inFlight.get(key)
  if (!read) {
    read = readOnce(path, what).finally(() => inFlight.delete(key))
    inFlight.set(key, read)
  }
  return read.then((data) => Buffer.from(data)) // each caller its own copy
}

const inFlight = new Map<string, Promise<Buffer>>()

async function readOnce(path: string, what: string): Promise<Buffer> {
  const shown = displayText(path)
  let handle
  try {
    handle = await open(path, OPEN_FLAGS)
  } catch (error) {
    // ENXIO: a Unix socket, or a device without a driver (/dev/tty with no terminal): say which kind of file it is.
    const kind = (error as NodeJS.ErrnoException).code === 'ENXIO' ? await stat(path).then(kindOf, () => undefined) : undefined
    throw inputError(`cannot read ${what} ${shown}: ${kind ? `${kind}, not a regular file` : describeSystemError(error)}`, error)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw inputError(`cannot read ${what} ${shown}: ${kindOf(info)}, not a regular file`)
    if (info.size > MAX_INPUT_BYTES) throw inputError(`${what} ${shown} is too large (${info.size} bytes) to be a certificate or key`)
    // Sized to the file (one byte more, to see it grow), grown by doubling up to the bound if it does.
    let buffer = Buffer.allocUnsafe(Math.min(MAX_INPUT_BYTES, info.size) + 1)
    let length = 0
    for (;;) {
      if (length === buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(MAX_INPUT_BYTES + 1, 2 * buffer.length))
        buffer.copy(grown, 0, 0, length)
        buffer = grown
      }
      const {bytesRead} = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > MAX_INPUT_BYTES) throw inputError(`${what} ${shown} is too large to be a certificate or key`)
    }
    if (length === 0) throw inputError(`${what} ${shown} is empty`)
    return Buffer.from(buffer.subarray(0, length))
  } catch (error) {
    if (error instanceof ValkeyTlsError) throw error
    throw inputError(`cannot read ${what} ${shown}: ${describeSystemError(error)}`, error)
  } finally {
    await handle.close()
  }
}

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'is a directory'
  if (info.isFIFO()) return 'is a FIFO'
  if (info.isCharacterDevice()) return 'is a character device'
  if (info.isBlockDevice()) return 'is a block device'
  if (info.isSocket()) return 'is a socket'
  return 'is a special file'
}
