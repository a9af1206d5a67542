/**
 * A minimal RESP2 client over node:tls, loopback only: what the tests use to talk to the servers they
 * start (Valkey, Redis 7), on purpose independent of the tool's own transport (src/transport/).
 */
import {readFileSync} from 'node:fs'
import {connect as tlsConnect, type TLSSocket} from 'node:tls'

import {assertLoopback, type LoopbackHost} from './ports.js'

export class RespError extends Error {
  override name = 'RespError'
}
export type Resp = string | Buffer | number | null | RespError | Resp[]

export interface TlsClientOptions {
  port: number
  /** Only 127.0.0.1 or ::1 are allowed. Default 127.0.0.1. */
  host?: LoopbackHost
  /** CA certificate file (PEM) used to verify the server. */
  ca: string
  /** Client certificate / key files; omit to connect without a client certificate. */
  cert?: string
  key?: string
  /** SNI / name to verify; default: verify the IP SAN of `host`. */
  servername?: string
  timeoutMs?: number
  /** Return bulk strings as Buffers (for byte-exact names). */
  binary?: boolean
}

/** Incremental RESP2 parser. Returns [value, bytesConsumed] or undefined if incomplete. */
export function parseResp(buf: Buffer, start = 0, binary = false): [Resp, number] | undefined {
  if (start >= buf.length) return undefined
  const nl = buf.indexOf('\r\n', start)
  if (nl < 0) return undefined
  const type = String.fromCharCode(buf[start]!)
  const line = buf.toString('utf8', start + 1, nl)
  const next = nl + 2
  switch (type) {
    case '+':
      return [line, next]
    case '-':
      return [new RespError(line), next]
    case ':':
      return [Number(line), next]
    case '$': {
      const len = Number(line)
      if (len < 0) return [null, next]
      if (buf.length < next + len + 2) return undefined
      return [binary ? Buffer.from(buf.subarray(next, next + len)) : buf.toString('utf8', next, next + len), next + len + 2]
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return [null, next]
      const items: Resp[] = []
      let pos = next
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, pos, binary)
        if (!r) return undefined
        items.push(r[0])
        pos = r[1]
      }
      return [items, pos]
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}

export type RespArg = string | number | Buffer

function encodeCommand(args: RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a))
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/** A single TLS connection speaking RESP2; commands are sent one at a time. */
export class TlsRespClient {
  private buf: Buffer = Buffer.alloc(0)
  private waiters: Array<{res: (v: Resp) => void; rej: (e: Error) => void}> = []
  private closedError: Error | undefined
  private chain: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly socket: TLSSocket,
    private readonly binary = false,
  ) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d
      for (;;) {
        const w = this.waiters[0]
        if (!w) break
        let r: [Resp, number] | undefined
        try {
          r = parseResp(this.buf, 0, this.binary)
        } catch (e) {
          this.fail(e as Error)
          return
        }
        if (!r) break
        this.buf = this.buf.subarray(r[1])
        this.waiters.shift()
        w.res(r[0])
      }
    })
    socket.on('error', (e) => this.fail(e))
    socket.on('close', () => this.fail(new Error('connection closed by server')))
  }

  private fail(e: Error): void {
    this.closedError ??= e
    for (const w of this.waiters.splice(0)) w.rej(this.closedError)
  }

  static connect(opts: TlsClientOptions): Promise<TlsRespClient> {
    const host = opts.host ?? '127.0.0.1'
    assertLoopback(host)
    const timeoutMs = opts.timeoutMs ?? 5000
    return new Promise((res, rej) => {
      const socket = tlsConnect({
        host,
        port: opts.port,
        ca: readFileSync(opts.ca),
        cert: opts.cert ? readFileSync(opts.cert) : undefined,
        key: opts.key ? readFileSync(opts.key) : undefined,
        servername: opts.servername, // undefined: no SNI, identity checked against the IP
        rejectUnauthorized: true,
      })
      const timer = setTimeout(() => {
        socket.destroy()
        rej(new Error(`TLS connect to ${host}:${opts.port} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('secureConnect', () => {
        clearTimeout(timer)
        res(new TlsRespClient(socket, opts.binary))
      })
      socket.once('error', (e) => {
        clearTimeout(timer)
        socket.destroy()
        rej(e)
      })
    })
  }

  /** Send one command; resolves with the reply (RESP errors resolve as RespError instances). */
  send(args: RespArg[], timeoutMs = 10_000): Promise<Resp> {
    const run = (): Promise<Resp> =>
      new Promise<Resp>((res, rej) => {
        if (this.closedError) return rej(this.closedError)
        const timer = setTimeout(() => {
          this.fail(new Error(`timeout after ${timeoutMs} ms waiting for reply to ${String(args[0])}`))
          this.socket.destroy()
        }, timeoutMs)
        this.waiters.push({
          res: (v) => (clearTimeout(timer), res(v)),
          rej: (e) => (clearTimeout(timer), rej(e)),
        })
        this.socket.write(encodeCommand(args))
      })
    const p = this.chain.then(run, run)
    this.chain = p.catch(() => undefined)
    return p
  }

  /** Like send(), but rejects on RESP error replies. */
  async command(...args: RespArg[]): Promise<Resp> {
    const r = await this.send(args)
    if (r instanceof RespError) throw r
    return r
  }

  close(): void {
    this.socket.end()
    this.socket.destroy()
  }
}

/** One-shot: connect, run one command, close. Rejects on RESP error replies. */
export async function tlsCommand(opts: TlsClientOptions, ...args: RespArg[]): Promise<Resp> {
  const c = await TlsRespClient.connect(opts)
  try {
    return await c.command(...args)
  } finally {
    c.close()
  }
}

/** Parse `INFO` output into a flat key → value map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}
