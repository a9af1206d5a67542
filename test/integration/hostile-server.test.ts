/**
 * Servers that misbehave on purpose, in-process TLS servers on loopback speaking just enough RESP:
 * - a slow seed (one that trickles a byte every 50 ms after the handshake, one that answers after 4 s):
 *   `--deadline` bounds the whole run, discovery included;
 * - a hostile server, whose error replies, CLUSTER SHARDS names, INFO values, settings and certificate
 *   carry escape sequences (OSC title, SGR colour, BEL): nothing it sends reaches the terminal raw, in
 *   text or in --json, from check, reload or whoami;
 * - a server certificate whose notAfter is no date at all: reported, never a crash.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {createServer as createTcpServer, type Socket} from 'node:net'
import {join} from 'node:path'
import {createServer, type Server, type TLSSocket} from 'node:tls'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type CliResult, runCli} from '../helpers/cli.js'
import {issueCert, type KeyPair, makePki, type Pki, toDer} from '../helpers/pki/openssl.js'
import {cn, EKU, issueRawCert} from '../helpers/pki/raw.js'
import {freePort} from '../helpers/ports.js'
import {parseResp} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'

const root = makeTempDir('vtls-hostile')
const lockFile = join(root, 'reload.lock')

/** What a hostile server puts in everything it sends: set the window title, turn text red, ring the bell. */
const EVIL = '\x1b]0;pwned\x07\x1b[31mred'
const TERMINAL_CONTROL = /[\x1b\x07]/

type Reply = string | number | null | Reply[] | {error: string} | {status: string}

function encode(reply: Reply): string {
  if (reply === null) return '$-1\r\n'
  if (typeof reply === 'number') return `:${reply}\r\n`
  if (typeof reply === 'string') return `$${Buffer.byteLength(reply)}\r\n${reply}\r\n`
  if (Array.isArray(reply)) return `*${reply.length}\r\n${reply.map(encode).join('')}`
  if ('error' in reply) return `-${reply.error}\r\n`
  return `+${reply.status}\r\n`
}

interface FakeNode {
  port: number
  /** Every command received, upper-cased name first. */
  commands: string[][]
  close(): Promise<void>
}

interface FakeBehaviour {
  tls: {cert: string; key: string}
  /** Called once the handshake is done (a trickle starts here). */
  onSecure?: (socket: TLSSocket) => void
  /** The reply to one command; undefined: say nothing at all. */
  reply?: (args: string[], port: number, socket: TLSSocket) => Reply | Promise<Reply> | undefined
}

const fakes: FakeNode[] = []
afterAll(() => Promise.all(fakes.map((f) => f.close())))

/** A TLS server on 127.0.0.1 that reads RESP commands and answers as `behaviour` says. */
async function startFake(behaviour: FakeBehaviour): Promise<FakeNode> {
  const port = await freePort(false)
  const sockets = new Set<TLSSocket>()
  const commands: string[][] = []
  const server: Server = createServer({cert: readFileSync(behaviour.tls.cert), key: readFileSync(behaviour.tls.key)}, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    behaviour.onSecure?.(socket)
    let buffer = Buffer.alloc(0)
    socket.on('data', async (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      for (;;) {
        const parsed = parseResp(buffer)
        if (!parsed) return
        buffer = buffer.subarray(parsed[1])
        const args = (parsed[0] as unknown[]).map(String)
        args[0] = args[0]!.toUpperCase()
        commands.push(args)
        const reply = await behaviour.reply?.(args, port, socket)
        if (reply !== undefined && !socket.destroyed) socket.write(encode(reply))
      }
    })
  })
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const fake: FakeNode = {
    port,
    commands,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
  fakes.push(fake)
  return fake
}

let pki: Pki
let evilCert: KeyPair
let badDateCert: KeyPair

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['alice']})
  // A server certificate whose subject carries the escape sequences (CN bytes are the server's to choose).
  const {ca} = pki
  evilCert = await issueRawCert(ca, root, 'evil-server', {subject: [[cn(`evil${EVIL}`)]], sans: [{type: 'dns', value: 'localhost'}], ekus: [EKU.serverAuth, EKU.clientAuth]})
  // A server certificate whose notAfter day is 41: OpenSSL loads and serves it, no date parser can read it.
  const good = await issueCert(ca, root, 'bad-date', {cn: 'localhost', sans: ['IP:127.0.0.1']})
  const der = readFileSync(await toDer(good.cert, join(root, 'bad-date.der')))
  const notAfter = der.indexOf(Buffer.from([0x17, 0x0d]), der.indexOf(Buffer.from([0x17, 0x0d])) + 2)
  der.write('41', notAfter + 6, 'latin1')
  writeFileSync(good.cert, `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`)
  badDateCert = good
}, 60_000)

/** A TCP server that accepts connections and never says a word (no TLS handshake either). */
async function startSilent(): Promise<FakeNode> {
  const port = await freePort(false)
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const fake: FakeNode = {
    port,
    commands: [],
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
  fakes.push(fake)
  return fake
}

const serverTls = () => ({cert: pki.serverCert, key: pki.serverKey})
const cleanEnv = {VALKEY_TLS_PASSWORD: '', VALKEYCLI_AUTH: '', REDISCLI_AUTH: '', DEBUG: ''}

async function timedCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult & {ms: number}> {
  const start = performance.now()
  const result = await runCli(args, {env: {...cleanEnv, ...env}, timeoutMs: 30_000})
  return {...result, ms: performance.now() - start}
}

describe('a slow seed is bounded by --deadline, discovery included', () => {
  const seeds: Record<string, () => Promise<FakeNode>> = {
    'accepts the connection and never answers the handshake': startSilent,
    'trickles a byte every 50 ms after the handshake': () => startFake({
      tls: serverTls(),
      onSecure: (socket) => {
        socket.write('+') // a simple string that never ends
        const timer = setInterval(() => socket.write('a'), 50)
        socket.on('close', () => clearInterval(timer))
      },
    }),
    'answers each command after 4 s': () => startFake({
      tls: serverTls(),
      reply: async (args) => {
        await new Promise((r) => setTimeout(r, 4000))
        return args[0] === 'INFO' ? 'cluster_enabled:1\r\n' : {status: 'OK'}
      },
    }),
  }
  const timings: string[] = []
  afterAll(() => console.log(`slow seeds (--deadline 3): ${timings.join('; ')}`))

  /**
   * The run's wall time must be the deadline plus what the same command takes to fail at once (a closed
   * port: node's start-up, which a loaded machine stretches), give or take half a second; and about 3.5 s
   * in all when that start-up is normal.
   */
  async function expectBounded(result: {ms: number; stdout: string}, args: string[], what: string): Promise<void> {
    const closed = await timedCli([...args, '--port', String(await freePort(false)), '--cacert', pki.caCert, '--deadline', '3', '--json'])
    expect(closed.code).toBe(6)
    timings.push(`${what}: ${result.ms.toFixed(0)} ms (a closed port: ${closed.ms.toFixed(0)} ms)`)
    expect(JSON.parse(result.stdout).summary.durationMs).toBeLessThan(3400)
    expect(result.ms - closed.ms).toBeLessThan(3500)
    if (closed.ms < 1000) expect(result.ms).toBeLessThan(4500)
  }

  for (const [what, start] of Object.entries(seeds)) {
    it(`check --deadline 3, against a seed that ${what}: ends in about 3.5 s, the seed failed`, async () => {
      const seed = await start()
      const result = await timedCli(['check', '--port', String(seed.port), '--cacert', pki.caCert, '--deadline', '3', '--json'])
      const json = JSON.parse(result.stdout)
      expect(result.code).toBe(6)
      expect(json.discovery.error).toMatch(/no reply to INFO( CLUSTER)? within [\d.]+ s|no TLS handshake within [\d.]+ s/)
      await expectBounded(result, ['check'], `check / ${what}`)
    })

    it(`reload --cluster --deadline 3, against a seed that ${what}: ends in about 3.5 s, nothing done`, async () => {
      const seed = await start()
      const result = await timedCli(['reload', '--cluster', '--port', String(seed.port), '--cacert', pki.caCert, '--deadline', '3', '--lock-file', lockFile, '--json'])
      const json = JSON.parse(result.stdout)
      expect(result.code).toBe(6)
      expect(json.discovery.error).toMatch(/no reply to INFO( CLUSTER)? within [\d.]+ s|no TLS handshake within [\d.]+ s/)
      expect(json.nodes).toEqual([])
      expect(seed.commands.filter((c) => c[0] === 'CONFIG' && c[1]?.toUpperCase() === 'SET')).toEqual([])
      await expectBounded(result, ['reload', '--cluster', '--lock-file', lockFile], `reload --cluster / ${what}`)
    })
  }
})

/**
 * A server whose every word is hostile: a cluster node (INFO, CLUSTER NODES/SHARDS, CONFIG GET, ACL) with
 * escape sequences in its version, ids, host names, health, settings and file paths. `endpoint`: what
 * CLUSTER SHARDS says the node's endpoint is (a hostile one must be refused, not connected to).
 */
function hostileCluster(options: {endpoint?: string; authClients?: string; errorsOnly?: boolean; relativePaths?: boolean} = {}) {
  return (args: string[], port: number): Reply => {
    const [name, sub] = [args[0]!, (args[1] ?? '').toUpperCase()]
    if (options.errorsOnly) return {error: `ERR ${EVIL}`}
    if (name === 'PING') return {status: 'PONG'}
    if (name === 'AUTH') return {error: `WRONGPASS ${EVIL}`}
    if (name === 'INFO') {
      return [
        `# Server\r\nvalkey_version:9.1.2${EVIL}\r\nredis_version:7.2.4${EVIL}\r\nrun_id:run${EVIL}\r\n`,
        `# Cluster\r\ncluster_enabled:1\r\n`,
        `# TLS\r\ntls_server_cert_serial:${EVIL}\r\ntls_ca_cert_serial:${EVIL}\r\n`,
      ].join('')
    }
    if (name === 'CLUSTER' && sub === 'NODES') return `id${EVIL} 127.0.0.1:${port}@${port},host${EVIL} myself,master - 0 0 1 connected 0-16383\n`
    if (name === 'CLUSTER' && sub === 'SHARDS') {
      return [['slots', [0, 16383], 'nodes', [[
        'id', `id${EVIL}`, 'port', port, 'tls-port', port, 'ip', '127.0.0.1', 'endpoint', options.endpoint ?? '127.0.0.1',
        'hostname', `host${EVIL}`, 'role', 'master', 'replication-offset', 0, 'health', `online${EVIL}`,
      ]]]]
    }
    if (name === 'CONFIG' && sub === 'GET') {
      const values: Record<string, string> = {
        'tls-auth-clients': options.authClients ?? `yes${EVIL}`, 'tls-auth-clients-user': `CN${EVIL}`, 'tls-protocols': `TLSv1.3${EVIL}`, 'tls-cluster': `yes${EVIL}`,
        'tls-cert-file': `/nonexistent/${EVIL}/server.crt`, 'tls-key-file': `/nonexistent/${EVIL}/server.key`, 'tls-ca-cert-file': `/nonexistent/${EVIL}/ca.crt`,
        'tls-ca-cert-dir': `/nonexistent/${EVIL}`, 'tls-key-file-pass': 'secret', dir: `/nonexistent/${EVIL}`, 'tls-replication': 'no',
      }
      if (options.relativePaths) {
        for (const k of Object.keys(values)) if (/^tls-.*-(file|dir)$/.test(k)) values[k] = values[k]!.replace('/nonexistent/', '')
        delete values.dir
      }
      const wanted = args.slice(2).flatMap((pattern) => Object.keys(values).filter((k) => (pattern.endsWith('*') ? k.startsWith(pattern.slice(0, -1)) : k === pattern)))
      return wanted.flatMap((k) => [k, values[k]!])
    }
    if (name === 'ACL' && sub === 'WHOAMI') return `alice${EVIL}`
    if (name === 'ACL' && sub === 'GETUSER') return ['flags', ['on', `nopass${EVIL}`], 'passwords', []]
    return {error: `ERR ${EVIL}`}
  }
}

/** Every command run against `port`, as text and as --json, with and without a password. */
function commandLines(port: number, extra: string[] = []): Array<{label: string; args: string[]; env?: NodeJS.ProcessEnv}> {
  const connect = ['--port', String(port), '--cacert', pki.caCert, ...extra]
  const alice = pki.clients.alice!
  const lines = [
    {label: 'check', args: ['check', ...connect, '--deadline', '10']},
    {label: 'check --cert', args: ['check', ...connect, '--cert', alice.cert, '--key', alice.key, '--deadline', '10']},
    {label: 'check (password)', args: ['check', ...connect, '--deadline', '10'], env: {VALKEY_TLS_PASSWORD: 'pw'}},
    {label: 'check --format prometheus', args: ['check', ...connect, '--deadline', '10', '--format', 'prometheus']},
    {label: 'reload', args: ['reload', ...connect, '--lock-file', lockFile, '--deadline', '10']},
    {label: 'reload --cluster', args: ['reload', '--cluster', ...connect, '--lock-file', lockFile, '--deadline', '10']},
    {label: 'reload --read-files never --force', args: ['reload', ...connect, '--lock-file', lockFile, '--deadline', '10', '--read-files', 'never', '--force']},
    {label: 'reload (password)', args: ['reload', ...connect, '--lock-file', lockFile, '--deadline', '10'], env: {VALKEY_TLS_PASSWORD: 'pw'}},
    {label: 'whoami', args: ['whoami', alice.cert, ...connect]},
    {label: 'whoami --verify-key', args: ['whoami', alice.cert, '--verify-key', alice.key, ...connect]},
    {label: 'whoami (password)', args: ['whoami', alice.cert, ...connect], env: {VALKEY_TLS_PASSWORD: 'pw'}},
  ]
  return lines.flatMap((l) => (l.args.includes('--format') ? [l] : [l, {...l, label: `${l.label} --json`, args: [...l.args, '--json']}]))
}

/**
 * One leak outside the transport, in src/reload/material.ts (readCaDir prints the node's tls-ca-cert-dir raw;
 * reported, reproduced by its own test below): left out here, so that these tests still catch any other.
 */
const KNOWN_LEAK = /cannot read tls-ca-cert-dir [^\n]*: no such directory/g

async function expectNoTerminalControl(port: number, extra: string[] = []): Promise<string> {
  const seen: string[] = []
  const problems: string[] = []
  for (const {label, args, env} of commandLines(port, extra)) {
    const result = await timedCli(args, env)
    const output = (result.stdout + result.stderr).replace(KNOWN_LEAK, '(known leak)')
    seen.push(output)
    if (result.code === null) problems.push(`${label}: killed after 30 s`)
    if (TERMINAL_CONTROL.test(output)) {
      const at = output.search(TERMINAL_CONTROL)
      problems.push(`${label} (exit ${result.code}): ${JSON.stringify(output.slice(Math.max(0, at - 120), at + 40))}`)
    }
    if (/\n\s+at .*\(.*:\d+:\d+\)/.test(result.stderr)) problems.push(`${label}: a stack trace: ${result.stderr.slice(0, 300)}`)
    if (result.code === 1) problems.push(`${label}: exit 1 (internal error): ${result.stderr.trim().slice(0, 300)}`)
  }
  expect(problems, problems.join('\n')).toEqual([])
  return seen.join('\n')
}

describe('a server whose reply never ends', () => {
  it('check and reload refuse the reply past a bound, at once, instead of reading until the deadline', async () => {
    const fake = await startFake({
      tls: serverTls(),
      reply: (_args, _port, socket) => {
        socket.write('$2000000000\r\n') // a 2 GB bulk string, sent as fast as the client reads
        const chunk = Buffer.alloc(64 * 1024, 0x41)
        const pump = () => {
          while (!socket.destroyed && socket.write(chunk));
        }
        socket.on('drain', pump)
        pump()
        return undefined
      },
    })
    for (const args of [['check'], ['reload', '--cluster', '--lock-file', lockFile]]) {
      const result = await timedCli([...args, '--port', String(fake.port), '--cacert', pki.caCert, '--deadline', '20', '--json'])
      expect(result.code).toBe(6)
      expect(JSON.parse(result.stdout).discovery.error).toMatch(/INFO( CLUSTER)?: reply larger than \d+ MiB/)
      expect(result.ms).toBeLessThan(5000)
    }
  })
})

describe('a hostile server cannot drive the terminal', () => {
  it('error replies to every command: escaped in every output of check, reload and whoami', async () => {
    const fake = await startFake({tls: serverTls(), reply: hostileCluster({errorsOnly: true})})
    const output = await expectNoTerminalControl(fake.port)
    expect(output).toContain('pwned') // the reply was shown, escaped
  }, 240_000)

  it('hostile ids, host names, health, versions, settings, paths and ACL names in a cluster: escaped everywhere', async () => {
    const fake = await startFake({tls: serverTls(), reply: hostileCluster()})
    const output = await expectNoTerminalControl(fake.port)
    expect(output).toContain('pwned')
  }, 240_000)

  it('the same with valid tls-auth-clients (whoami goes on to the prediction and the trust rehearsal)', async () => {
    const fake = await startFake({tls: serverTls(), reply: hostileCluster({authClients: 'optional'})})
    await expectNoTerminalControl(fake.port)
  }, 240_000)

  it('reload names a tls-ca-cert-dir it cannot read with control characters escaped (src/reload/material.ts readCaDir)', async () => {
    const fake = await startFake({tls: serverTls(), reply: hostileCluster({authClients: 'optional'})})
    const result = await timedCli(['reload', '--port', String(fake.port), '--cacert', pki.caCert, '--lock-file', lockFile])
    expect(result.stdout).toMatch(/cannot read tls-ca-cert-dir \/nonexistent\/\\x1b\]0;pwned/)
    expect(result.stdout + result.stderr).not.toMatch(TERMINAL_CONTROL)
  })

  it('hostile relative file paths and no dir: escaped in every note', async () => {
    const fake = await startFake({tls: serverTls(), reply: hostileCluster({authClients: 'optional', relativePaths: true})})
    await expectNoTerminalControl(fake.port)
  }, 240_000)

  it('a CLUSTER SHARDS endpoint that is no host name is refused, not connected to, and shown escaped', async () => {
    const fake = await startFake({tls: serverTls(), reply: hostileCluster({endpoint: `evil${EVIL}.example`})})
    const result = await timedCli(['check', '--port', String(fake.port), '--cacert', pki.caCert, '--json'])
    const json = JSON.parse(result.stdout)
    expect(json.discovery.error).toMatch(/reported a node at "evil\\x1b\]0;pwned\\x07\\x1b\[31mred\.example", which is not a host name/)
    expect(result.stdout).not.toMatch(TERMINAL_CONTROL)
    await expectNoTerminalControl(fake.port)
  }, 240_000)

  it('a server certificate whose subject carries escape sequences: escaped in check and reload', async () => {
    const fake = await startFake({tls: evilCert, reply: hostileCluster({authClients: 'optional'})})
    const output = await expectNoTerminalControl(fake.port, ['--sni', 'localhost'])
    expect(output).toMatch(/CN=evil\\+1b\]0\\+;pwned\\+07\\+1b\[31mred/) // RFC 4514 escapes (doubled in JSON)
  }, 240_000)
})

describe('a server certificate with an impossible date', () => {
  it('check, reload and whoami report it (no crash, no stack trace, no exit 1)', async () => {
    const fake = await startFake({tls: badDateCert, reply: hostileCluster({authClients: 'optional'})})
    await expectNoTerminalControl(fake.port)
  }, 240_000)
})
