/**
 * A --cacert block that OpenSSL's PEM reader does not take is left out by Node's TLS without a word. The tool's
 * check of the file refuses it, naming it. Node's own TLS is the reference here: a chain that CA signed is
 * "untrusted" with the block written so, and trusted when it is written plainly.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {connect, createServer} from 'node:tls'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {resolveConnection} from '../../../src/flags/resolve.js'
import {type Ca, DEFAULT_SERVER_SANS, issueCert, type KeyPair, makeCa} from '../../helpers/pki/openssl.js'
import {makeTempDir} from '../../helpers/temp.js'

let dir: string
let first: Ca
let second: Ca
let leaf: KeyPair
let server: ReturnType<typeof createServer>
let port: number

beforeAll(async () => {
  dir = makeTempDir('vtls-cacert-form')
  ;[first, second] = await Promise.all([makeCa(dir, {name: 'first'}), makeCa(dir, {name: 'second'})])
  leaf = await issueCert(second, dir, 'leaf', {sans: DEFAULT_SERVER_SANS})
  server = createServer({cert: readFileSync(leaf.cert), key: readFileSync(leaf.key)}, (socket) => socket.end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
}, 60_000)
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** Whether Node's TLS, given `ca`, trusts the chain `second` signed. */
const nodeTrusts = (ca: string) => new Promise<boolean>((resolve, reject) => {
  const socket = connect({host: '127.0.0.1', port, ca, rejectUnauthorized: false}, () => {
    resolve(socket.authorized)
    socket.destroy()
  })
  socket.on('error', reject)
})

describe('--cacert, as Node reads it', () => {
  it('a block OpenSSL does not read as written is refused, naming it; written plainly (LF or CRLF), it is taken', async () => {
    const pem = readFileSync(second.cert, 'latin1')
    const lines = pem.trim().split('\n')
    const forms: Record<string, [string, boolean]> = {
      'plain': [pem, true],
      'CRLF line ends': [pem.replace(/\n/g, '\r\n'), true],
      'text before BEGIN': [`note: ${pem}`, false],
      'a blank line inside': [[...lines.slice(0, 3), '', ...lines.slice(3)].join('\n') + '\n', false],
      'END on the last base64 line': [`${lines.slice(0, -2).join('\n')}\n${lines.at(-2)}${lines.at(-1)}\n`, false],
    }
    for (const [what, [form, readable]] of Object.entries(forms)) {
      const bundle = readFileSync(first.cert, 'latin1') + form
      expect([what, await nodeTrusts(bundle)]).toEqual([what, readable])
      const path = join(dir, `${what.replace(/\W+/g, '-')}.pem`)
      writeFileSync(path, bundle)
      const resolved = resolveConnection({cacert: path, askpass: false, insecure: false, timeout: 1, port: 1})
      if (readable) await expect(resolved).resolves.toMatchObject({tls: {ca: Buffer.from(bundle, 'latin1')}})
      else await expect(resolved).rejects.toThrow(`--cacert ${path} (certificate 2): not written as OpenSSL reads PEM (BEGIN and END lines of their own, no blank line between them), so Node's TLS would leave it out`)
    }
  })
})
