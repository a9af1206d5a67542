import {EventEmitter} from 'node:events'
import type {TLSSocket} from 'node:tls'

import {describe, expect, it} from 'vitest'

import {socketFailure} from '../../../src/transport/errors.js'
import {type CommandOutcome, encode, isErrorReply, sendCommand, sendCommands} from '../../../src/transport/resp.js'

/** Enough of a TLSSocket for sendCommand: events, and write() recording the bytes. No network. */
class FakeSocket extends EventEmitter {
  written: Buffer[] = []

  write(data: Buffer | string): boolean {
    this.written.push(Buffer.from(data))
    return true
  }

  get bytes(): string {
    return Buffer.concat(this.written).toString('latin1')
  }

  /** Listeners sendCommand left behind (it must remove all three when it finishes). */
  get leftovers(): number {
    return this.listenerCount('data') + this.listenerCount('error') + this.listenerCount('close')
  }
}

/** Sends args, then feeds the reply in the given chunks (each in its own tick). */
async function exchange(chunks: Array<string | Buffer>, args: string[] = ['PING'], timeoutMs = 1000): Promise<{outcome: CommandOutcome; socket: FakeSocket}> {
  const socket = new FakeSocket()
  const pending = sendCommand(socket as unknown as TLSSocket, args, timeoutMs)
  for (const chunk of chunks) {
    await new Promise((resolve) => setImmediate(resolve))
    socket.emit('data', Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  }
  return {outcome: await pending, socket}
}

/** Every way of cutting `text` in two, and in single bytes. */
function splits(text: string): Array<Buffer[]> {
  const bytes = Buffer.from(text)
  const out: Array<Buffer[]> = [[...bytes].map((b) => Buffer.from([b]))]
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)])
  return out
}

describe('sendCommand: the request', () => {
  it('writes the args as a RESP array of bulk strings, lengths in bytes', async () => {
    const {socket} = await exchange(['+OK\r\n'], ['CONFIG', 'GET', 'tls-auth-clients', 'tls-protocols'])
    expect(socket.bytes).toBe('*4\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$16\r\ntls-auth-clients\r\n$13\r\ntls-protocols\r\n')
    expect(socket.written).toHaveLength(1)
  })

  it('counts UTF-8 bytes and keeps empty and CRLF-containing args intact', async () => {
    const {socket} = await exchange(['+OK\r\n'], ['AUTH', 'jürgen', '', 'p\r\nw'])
    expect(Buffer.concat(socket.written)).toEqual(Buffer.from('*4\r\n$4\r\nAUTH\r\n$7\r\njürgen\r\n$0\r\n\r\n$4\r\np\r\nw\r\n'))
  })
})

describe('sendCommand: replies', () => {
  it.each([
    ['+PONG\r\n', 'PONG'],
    [':42\r\n', 42],
    [':-7\r\n', -7],
    ['$5\r\nalice\r\n', 'alice'],
    ['$0\r\n\r\n', ''],
    ['$-1\r\n', null],
    ['*-1\r\n', null],
    ['*0\r\n', []],
    ['$4\r\na\r\nb\r\n', 'a\r\nb'],
    ['$5\r\nj\u00fcrg\r\n', 'jürg'],
  ])('reads %j', async (raw, reply) => {
    expect((await exchange([raw])).outcome).toEqual({ok: true, reply})
  })

  it('reads an error reply as {error}, not as a failure', async () => {
    const {outcome} = await exchange(['-NOAUTH Authentication required.\r\n'], ['ACL', 'WHOAMI'])
    expect(outcome).toEqual({ok: true, reply: {error: 'NOAUTH Authentication required.'}})
    expect(outcome.ok && isErrorReply(outcome.reply)).toBe(true)
    expect(isErrorReply('NOAUTH')).toBe(false)
    expect(isErrorReply(['a'])).toBe(false)
    expect(isErrorReply(null)).toBe(false)
  })

  const config = '*8\r\n$16\r\ntls-auth-clients\r\n$3\r\nyes\r\n$21\r\ntls-auth-clients-user\r\n$3\r\noff\r\n$13\r\ntls-protocols\r\n$15\r\nTLSv1.2 TLSv1.3\r\n$11\r\ntls-cluster\r\n$3\r\nyes\r\n'
  const configReply = ['tls-auth-clients', 'yes', 'tls-auth-clients-user', 'off', 'tls-protocols', 'TLSv1.2 TLSv1.3', 'tls-cluster', 'yes']

  it('reads a CONFIG GET reply however it is cut into chunks', async () => {
    for (const chunks of splits(config)) {
      const {outcome, socket} = await exchange(chunks)
      expect(outcome).toEqual({ok: true, reply: configReply})
      expect(socket.leftovers).toBe(0)
    }
  })

  it('reads nested arrays, a multi-byte character and a null cut across chunks', async () => {
    const nested = '*3\r\n*2\r\n:1\r\n*1\r\n$2\r\n\u00e9\r\n$-1\r\n+done\r\n'
    for (const chunks of splits(nested)) {
      expect((await exchange(chunks)).outcome).toEqual({ok: true, reply: [[1, ['é']], null, 'done']})
    }
  })

  it('waits for the whole bulk string, including its CRLF, and ignores what follows the reply', async () => {
    const {outcome} = await exchange(['$5\r\nhel', 'lo\r', '\n+extra\r\n'])
    expect(outcome).toEqual({ok: true, reply: 'hello'})
  })

  it.each([
    ['%1\r\n+a\r\n+b\r\n', 'not a RESP reply'], // RESP3 map: the probe speaks RESP2
    ['HTTP/1.1 400 Bad Request\r\n', 'not a RESP reply'],
    ['*x\r\n', 'malformed reply'],
    ['*100001\r\n', 'malformed reply'],
  ])('reports %j as a protocol error', async (raw, error) => {
    const {outcome, socket} = await exchange([raw])
    expect(outcome).toMatchObject({ok: false, code: 'PROTOCOL'})
    expect(!outcome.ok && outcome.error.message).toBe(error)
    expect(socket.leftovers).toBe(0)
  })
})

describe('sendCommand: failures', () => {
  /** The words the transport's one vocabulary gives a failed outcome (a command after the handshake, no client certificate). */
  const words = (outcome: CommandOutcome, withCert = false) => (outcome.ok ? 'ok' : socketFailure(outcome.error, {tcpConnected: true, afterHandshake: true, withCert}))

  it('hands a TLS alert over with its error code; "certificate required" is a missing client certificate (auth)', async () => {
    const socket = new FakeSocket()
    const pending = sendCommand(socket as unknown as TLSSocket, ['PING'], 1000)
    const alert = Object.assign(
      new Error('C0B7F1F7:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 116\n'),
      {code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'},
    )
    socket.emit('error', alert)
    const outcome = await pending
    expect(outcome).toMatchObject({ok: false, code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'})
    expect(words(outcome)).toMatchObject({kind: 'auth', reason: 'cert-required', fix: 'pass --cert and --key'})
    expect(socket.leftovers).toBe(0)
  })

  it('matches an alert at the end of the message, too: with our certificate presented, the server rejected it', async () => {
    const socket = new FakeSocket()
    const pending = sendCommand(socket as unknown as TLSSocket, ['PING'], 1000)
    socket.emit('error', new Error('sslv3 alert bad certificate'))
    const outcome = await pending
    expect(outcome).toMatchObject({ok: false, code: 'ERROR'})
    expect(words(outcome, true)).toMatchObject({kind: 'auth', reason: 'cert-rejected', cause: 'the server rejected our client certificate (TLS alert: bad certificate)'})
    expect(words(outcome, false)).toMatchObject({kind: 'server', reason: 'alert', cause: 'TLS alert: bad certificate'})
  })

  it('reports other errors by their first line and code', async () => {
    const socket = new FakeSocket()
    const pending = sendCommand(socket as unknown as TLSSocket, ['PING'], 1000)
    socket.emit('error', Object.assign(new Error('read EPROTO\nmore detail'), {code: 'EPROTO'}))
    const outcome = await pending
    expect(outcome).toMatchObject({ok: false, code: 'EPROTO'})
    expect(words(outcome)).toMatchObject({kind: 'server', reason: 'error', cause: 'read EPROTO'})
  })

  it('reports a connection closed before a whole reply as CLOSED', async () => {
    const socket = new FakeSocket()
    const pending = sendCommand(socket as unknown as TLSSocket, ['PING'], 1000)
    socket.emit('data', Buffer.from('$10\r\nabc'))
    socket.emit('close', false)
    const outcome = await pending
    expect(outcome).toMatchObject({ok: false, code: 'CLOSED'})
    // Right after the handshake without a certificate, a hang-up is how a node demanding one refuses us.
    expect(words(outcome)).toMatchObject({kind: 'auth', reason: 'cert-required'})
    expect(words(outcome, true)).toMatchObject({kind: 'server', reason: 'closed', cause: 'the server closed the connection'})
    expect(socket.leftovers).toBe(0)
  })

  it('gives up after timeoutMs, naming the command, and stops listening', async () => {
    const socket = new FakeSocket()
    const started = Date.now()
    const pending = sendCommand(socket as unknown as TLSSocket, ['ACL', 'WHOAMI'], 40)
    socket.emit('data', Buffer.from('+PON'))
    const outcome = await pending
    expect(outcome).toMatchObject({ok: false, code: 'TIMEOUT'})
    expect(!outcome.ok && outcome.error.message).toBe('no reply within 0.04 s')
    expect(Date.now() - started).toBeGreaterThanOrEqual(35)
    expect(socket.leftovers).toBe(0)
    socket.emit('data', Buffer.from('G\r\n')) // a late reply changes nothing
  })

  it('resolves once: the first of reply, error and close wins', async () => {
    const socket = new FakeSocket()
    const pending = sendCommand(socket as unknown as TLSSocket, ['PING'], 1000)
    socket.emit('data', Buffer.from('+PONG\r\n'))
    expect(socket.leftovers).toBe(0)
    expect(socket.listenerCount('error')).toBe(0)
    socket.on('error', () => {}) // the caller's own handler; sendCommand must not react any more
    socket.emit('error', new Error('late'))
    socket.emit('close')
    expect(await pending).toEqual({ok: true, reply: 'PONG'})
  })
})

describe('sendCommands: a pipeline', () => {
  async function pipeline(chunks: string[], commands: string[][]): Promise<{outcomes: CommandOutcome[]; socket: FakeSocket}> {
    const socket = new FakeSocket()
    const pending = sendCommands(socket as unknown as TLSSocket, commands, 1000)
    for (const chunk of chunks) {
      await new Promise((resolve) => setImmediate(resolve))
      socket.emit('data', Buffer.from(chunk))
    }
    return {outcomes: await pending, socket}
  }

  it('writes every command in one write and reads the replies in order, however they are cut', async () => {
    const replies = '+OK\r\n$5\r\nalice\r\n*2\r\n$1\r\na\r\n:7\r\n-ERR no\r\n'
    for (const cut of splits(replies)) {
      const {outcomes, socket} = await pipeline(cut.map((b) => b.toString('latin1')), [['AUTH', 'pw'], ['ACL', 'WHOAMI'], ['CONFIG', 'GET', 'a'], ['INFO']])
      expect(socket.written).toHaveLength(1)
      expect(socket.bytes).toBe('*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$3\r\nACL\r\n$6\r\nWHOAMI\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nINFO\r\n')
      expect(outcomes).toEqual([{ok: true, reply: 'OK'}, {ok: true, reply: 'alice'}, {ok: true, reply: ['a', 7]}, {ok: true, reply: {error: 'ERR no'}}])
      expect(socket.leftovers).toBe(0)
    }
  })

  it('a connection closed after the first reply: the first kept, the rest failed with the same cause', async () => {
    const socket = new FakeSocket()
    const pending = sendCommands(socket as unknown as TLSSocket, [['PING'], ['INFO'], ['CONFIG', 'GET', 'x']], 1000)
    socket.emit('data', Buffer.from('+PONG\r\n'))
    socket.emit('close')
    const outcomes = await pending
    expect(outcomes[0]).toEqual({ok: true, reply: 'PONG'})
    expect(outcomes.slice(1).map((o) => !o.ok && o.code)).toEqual(['CLOSED', 'CLOSED'])
    expect(socket.leftovers).toBe(0)
  })
})

describe('encode', () => {
  // The byte-by-byte definition: *N, then $LEN and the bytes of each argument (strings as UTF-8).
  const reference = (args: ReadonlyArray<string | Buffer>) => Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a, 'utf8')
    return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]
  })])
  it('writes what RESP says for text, multi-byte UTF-8, empty arguments and binary ones', () => {
    const cases: Array<Array<string | Buffer>> = [
      ['PING'], ['CONFIG', 'GET', 'tls-*', 'dir'], ['AUTH', 'alice', 'pässwörd 🔑'], ['SET', '', ''], [],
      ['ACL', 'GETUSER', Buffer.from([0, 0xff, 0x0d, 0x0a])], ['ECHO', 'a\r\nb'],
    ]
    for (let i = 0; i < 200; i++) cases.push(Array.from({length: i % 7}, (_, k) => String.fromCodePoint(...Array.from({length: (i * 7 + k) % 13}, (_, j) => [0x41, 0xe9, 0x4e2d, 0x1f600, 0x0d][(i + j + k) % 5]!))))
    for (const args of cases) expect(encode(args).equals(reference(args))).toBe(true)
  })
})
