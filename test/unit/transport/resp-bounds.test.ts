/**
 * sendCommand against replies that never end or come in a great many pieces: a reply is read up to a
 * bound and refused past it (a hostile server cannot fill memory), in time linear in its size.
 */
import {EventEmitter} from 'node:events'
import type {TLSSocket} from 'node:tls'

import {describe, expect, it} from 'vitest'

import {MAX_REPLY_BYTES, sendCommand} from '../../../src/transport/resp.js'

class FakeSocket extends EventEmitter {
  write(): boolean {
    return true
  }
}

describe('sendCommand bounds', () => {
  it('refuses a reply past MAX_REPLY_BYTES at once (an endless bulk string), and stops listening', async () => {
    const socket = new FakeSocket()
    const pending = sendCommand(socket as unknown as TLSSocket, ['INFO'], 10_000)
    socket.emit('data', Buffer.from('$2000000000\r\n'))
    const chunk = Buffer.alloc(1024 * 1024, 0x41)
    const start = performance.now()
    for (let sent = 0; sent <= MAX_REPLY_BYTES && socket.listenerCount('data') > 0; sent += chunk.length) socket.emit('data', chunk)
    const outcome = await pending
    expect(performance.now() - start).toBeLessThan(2000)
    expect(outcome).toMatchObject({ok: false, code: 'PROTOCOL', error: {message: `reply larger than ${MAX_REPLY_BYTES / 1024 / 1024} MiB`}})
    expect(socket.listenerCount('data') + socket.listenerCount('error') + socket.listenerCount('close')).toBe(0)
  })

  it('assembles a large reply from many small chunks, byte for byte, in linear time', async () => {
    const socket = new FakeSocket()
    const body = Buffer.alloc(8 * 1024 * 1024)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff
    const reply = Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n')])
    const pending = sendCommand(socket as unknown as TLSSocket, ['GET', 'x'], 10_000, true)
    const start = performance.now()
    for (let at = 0; at < reply.length; at += 4096) socket.emit('data', reply.subarray(at, at + 4096)) // TLS records are at most 16 KiB
    const outcome = await pending
    // Concatenating per chunk (quadratic) takes minutes here; each parse attempt only reads the bulk header.
    expect(performance.now() - start).toBeLessThan(3000)
    expect(outcome.ok).toBe(true)
    expect(Buffer.compare((outcome as {reply: Buffer}).reply, body)).toBe(0)
  })

  it('a reply just under the bound is still read', async () => {
    const socket = new FakeSocket()
    const size = MAX_REPLY_BYTES - 64
    const pending = sendCommand(socket as unknown as TLSSocket, ['GET', 'x'], 10_000, true)
    socket.emit('data', Buffer.from(`$${size}\r\n`))
    socket.emit('data', Buffer.alloc(size, 0x42))
    socket.emit('data', Buffer.from('\r\n'))
    const outcome = await pending
    expect(outcome.ok).toBe(true)
    expect((outcome as {reply: Buffer}).reply.length).toBe(size)
  })
})
