import type {TLSSocket} from 'node:tls'

export type RespValue = string | Buffer | number | null | RespValue[] | {error: string}

export type CommandOutcome =
  | {ok: true; reply: RespValue}
  | {ok: false; code: string; error: Error & {code?: string}}

/**
 * Sends one command on a TLS socket and reads one reply (RESP2), with a deadline. `binary`: bulk strings
 * come back as Buffers (names compared byte for byte). A TLS alert (TLS 1.3 delivers "certificate
 * required" on the first read), a closed connection, a timeout or garbage is an outcome with its code.
 */
export async function sendCommand(socket: TLSSocket, args: ReadonlyArray<string | Buffer>, timeoutMs: number, binary = false): Promise<CommandOutcome> {
  return (await sendCommands(socket, [args], timeoutMs, binary))[0]!
}

/**
 * Sends commands in one write (a pipeline: one round trip) and reads their replies in order, within one
 * deadline for all. A failure (alert, close, timeout, garbage) is the outcome of every reply not read yet.
 */
export function sendCommands(socket: TLSSocket, commands: ReadonlyArray<ReadonlyArray<string | Buffer>>, timeoutMs: number, binary = false): Promise<CommandOutcome[]> {
  return new Promise((resolve) => {
    const outcomes: CommandOutcome[] = []
    // Grown by doubling (a reply in many chunks costs linear time, not quadratic) and never past MAX_REPLY_BYTES.
    let buffer = Buffer.alloc(0)
    let length = 0
    let consumed = 0
    const finish = (failure?: CommandOutcome) => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('error', onError)
      socket.off('close', onClose)
      while (failure && outcomes.length < commands.length) outcomes.push(failure)
      resolve(outcomes)
    }
    const fail = (code: string, message: string) => finish({ok: false, code, error: Object.assign(new Error(message), {code})})
    const onData = (chunk: Buffer) => {
      if (length + chunk.length > MAX_REPLY_BYTES) {
        fail('PROTOCOL', `reply larger than ${MAX_REPLY_BYTES / 1024 / 1024} MiB`)
        return
      }
      if (length + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(MAX_REPLY_BYTES, Math.max(2 * buffer.length, length + chunk.length, 4096)))
        buffer.copy(grown, 0, 0, length)
        buffer = grown
      }
      chunk.copy(buffer, length)
      length += chunk.length
      for (;;) {
        let parsed: [RespValue, number] | undefined
        try {
          parsed = parseReply(buffer.subarray(0, length), consumed, binary)
        } catch (error) {
          fail('PROTOCOL', (error as Error).message)
          return
        }
        if (!parsed) return
        outcomes.push({ok: true, reply: parsed[0]})
        consumed = parsed[1]
        if (outcomes.length === commands.length) {
          finish()
          return
        }
      }
    }
    const onError = (error: Error & {code?: string}) => finish({ok: false, code: error.code ?? 'ERROR', error})
    const onClose = () => fail('CLOSED', 'connection closed by the server')
    const timer = setTimeout(() => fail('TIMEOUT', `no reply within ${timeoutMs / 1000} s`), timeoutMs)
    socket.on('data', onData)
    socket.on('error', onError)
    socket.on('close', onClose)
    socket.write(Buffer.concat(commands.map((args) => encode(args))))
  })
}

/** A command as RESP: an array of bulk strings (strings as UTF-8). Text-only commands, the usual case, as one string. */
export function encode(args: ReadonlyArray<string | Buffer>): Buffer {
  if (args.every((a) => typeof a === 'string')) {
    let text = `*${args.length}\r\n`
    for (const a of args as readonly string[]) text += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
    return Buffer.from(text)
  }
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a)
    return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]
  })])
}

const MAX_ITEMS = 100_000
/** Largest reply read: the replies we ask for are kilobytes (CLUSTER NODES of 1,000 nodes: ~200 KiB); a server streaming more is refused at once. */
export const MAX_REPLY_BYTES = 32 * 1024 * 1024

export function parseReply(buf: Buffer, start: number, binary = false): [RespValue, number] | undefined {
  const nl = buf.indexOf('\r\n', start)
  if (nl < 0) return undefined
  const type = buf[start]
  const line = buf.toString('utf8', start + 1, nl)
  const next = nl + 2
  switch (type) {
    case 0x2b: return [line, next] // +
    case 0x2d: return [{error: line}, next] // -
    case 0x3a: return [integer(line), next] // :
    case 0x24: { // $
      const length = integer(line)
      if (length < 0) return [null, next]
      if (buf.length < next + length + 2) return undefined
      if (buf[next + length] !== 0x0d || buf[next + length + 1] !== 0x0a) throw new Error('malformed bulk string')
      return [binary ? Buffer.from(buf.subarray(next, next + length)) : buf.toString('utf8', next, next + length), next + length + 2]
    }
    case 0x2a: { // *
      const count = integer(line)
      if (count < 0) return [null, next]
      if (!(count <= MAX_ITEMS)) throw new Error('malformed reply')
      const items: RespValue[] = []
      let pos = next
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, pos, binary)
        if (!item) return undefined
        items.push(item[0])
        pos = item[1]
      }
      return [items, pos]
    }
    default:
      throw new Error('not a RESP reply')
  }
}

function integer(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error('malformed reply')
  return Number(text)
}

/**
 * A node that demands a client certificate sends an alert (TLS 1.3: on the first read) and hangs up;
 * which of the two a client without one sees first is a race, so anything but silence or garbage
 * after the handshake means "certificate required".
 */
export const refusedWithoutCertificate = (outcome: CommandOutcome): boolean =>
  !outcome.ok && outcome.code !== 'TIMEOUT' && outcome.code !== 'PROTOCOL'

export const isErrorReply = (value: RespValue): value is {error: string} =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)
