import {describe, expect, it} from 'vitest'

import type {CommandRunner} from '../../../src/cluster/discover.js'
import {askSentinel, parseSentinelEntries, toTargets} from '../../../src/cluster/sentinel.js'
import {ValkeyTlsError} from '../../../src/errors.js'
import {replyFailure, TransportError} from '../../../src/transport/errors.js'

const SEED = {host: '127.0.0.1', port: 26_379}
const MY_ID = 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0'
const id = (c: string) => c.repeat(40)

/** A flat field/value array, as a Sentinel sends each entry over RESP2 (abridged from Valkey 9.1's replies). */
const entry = (fields: Record<string, string>) => Object.entries(fields).flat()

const MASTERS = [
  entry({name: 'mymaster', ip: '127.0.0.1', port: '27101', runid: id('1'), flags: 'master', 'link-pending-commands': '0', 'num-slaves': '2', 'num-other-sentinels': '2', quorum: '2'}),
  entry({name: 'cache', ip: 'cache-1.example', port: '27201', runid: id('2'), flags: 'master,s_down,o_down,disconnected', quorum: '2'}),
]
const REPLICAS: Record<string, unknown[]> = {
  mymaster: [
    entry({name: '127.0.0.1:27102', ip: '127.0.0.1', port: '27102', runid: id('3'), flags: 'slave', 'master-link-status': 'ok', 'master-host': '127.0.0.1', 'master-port': '27101'}),
    entry({name: '::1:27103', ip: '::1', port: '27103', runid: '', flags: 'slave,s_down,disconnected', 'master-link-status': 'err'}),
  ],
  cache: [],
}
const SENTINELS: Record<string, unknown[]> = {
  mymaster: [
    entry({name: id('b'), ip: '127.0.0.1', port: '26380', runid: id('b'), flags: 'sentinel', 'voted-leader': '?'}),
    entry({name: id('c'), ip: '127.0.0.1', port: '26381', runid: id('c'), flags: 'sentinel,s_down,disconnected'}),
  ],
  // The same sentinels watch the other primary, and one knows the seed by another address (announce-ip).
  cache: [
    entry({name: id('b'), ip: '127.0.0.1', port: '26380', runid: id('b'), flags: 'sentinel'}),
    entry({name: MY_ID, ip: 'sentinel-0.example', port: '26379', runid: MY_ID, flags: 'sentinel'}),
  ],
}

const errorReply = (reply: string, command: string) => new TransportError('127.0.0.1:26379', replyFailure(reply, {command}), {reply})

/** A fake Sentinel; `old`: a server without REPLICAS (Redis before 5) and without MYID (before 6.2). */
function sentinel(opts: {old?: boolean} = {}): {call: CommandRunner; calls: string[][]} {
  const calls: string[][] = []
  const call: CommandRunner = async (...args) => {
    calls.push(args)
    const [command, sub, name] = args
    if (command !== 'SENTINEL') throw errorReply(`ERR unknown command '${command}'`, command!)
    switch (sub) {
      case 'MASTERS': return MASTERS
      case 'MYID':
        if (opts.old) throw errorReply("ERR Unknown sentinel subcommand 'myid'", 'SENTINEL')
        return MY_ID
      case 'REPLICAS':
        if (opts.old) throw errorReply("ERR Unknown sentinel subcommand 'replicas'", 'SENTINEL')
        return REPLICAS[name!]
      case 'SLAVES': return REPLICAS[name!]
      case 'SENTINELS': return SENTINELS[name!]
    }
    throw errorReply(`ERR unknown subcommand '${sub}'. Try SENTINEL HELP.`, 'SENTINEL')
  }
  return {call, calls}
}

describe('askSentinel', () => {
  it('lists each primary and its replicas, then the sentinel asked, then the other sentinels, each once', async () => {
    const {call, calls} = sentinel()
    const found = await askSentinel(call, SEED)
    expect(found.mode).toBe('sentinel')
    expect(found.method).toBe('SENTINEL MASTERS')
    expect(found.nodes).toEqual([
      {host: '127.0.0.1', port: 27_101, role: 'primary', id: id('1'), health: 'online'},
      {host: '127.0.0.1', port: 27_102, role: 'replica', id: id('3'), health: 'online'},
      {host: '::1', port: 27_103, role: 'replica', health: 's_down,disconnected'},
      {host: 'cache-1.example', port: 27_201, role: 'primary', id: id('2'), health: 's_down,o_down,disconnected'},
      {host: '127.0.0.1', port: 26_379, role: 'sentinel', id: MY_ID, health: 'online'},
      {host: '127.0.0.1', port: 26_380, role: 'sentinel', id: id('b'), health: 'online'},
      {host: '127.0.0.1', port: 26_381, role: 'sentinel', id: id('c'), health: 's_down,disconnected'},
    ])
    expect(calls).toEqual([
      ['SENTINEL', 'MASTERS'], ['SENTINEL', 'MYID'],
      ['SENTINEL', 'REPLICAS', 'mymaster'], ['SENTINEL', 'SENTINELS', 'mymaster'],
      ['SENTINEL', 'REPLICAS', 'cache'], ['SENTINEL', 'SENTINELS', 'cache'],
    ])
  })

  it('asks SENTINEL SLAVES where REPLICAS is unknown, and without MYID keeps a sentinel listed under another address', async () => {
    const {call, calls} = sentinel({old: true})
    const found = await askSentinel(call, SEED)
    expect(calls).toContainEqual(['SENTINEL', 'SLAVES', 'mymaster'])
    expect(found.nodes.filter((n) => n.role === 'replica').map((n) => n.port)).toEqual([27_102, 27_103])
    const sentinels = found.nodes.filter((n) => n.role === 'sentinel')
    expect(sentinels.map((n) => `${n.host}:${n.port}`)).toEqual(['127.0.0.1:26379', '127.0.0.1:26380', '127.0.0.1:26381', 'sentinel-0.example:26379'])
    expect(sentinels[0]).not.toHaveProperty('id')
  })

  it('says a data node is not a Sentinel', async () => {
    const call: CommandRunner = async (command) => {
      throw errorReply(`ERR unknown command '${command}', with args beginning with: 'MASTERS'`, command!)
    }
    const error = await askSentinel(call, SEED).catch((error_: unknown) => error_)
    expect(error).toBeInstanceOf(ValkeyTlsError)
    expect((error as ValkeyTlsError).kind).toBe('server')
    expect((error as Error).message).toMatch(/^127\.0\.0\.1:26379: not a Sentinel \(SENTINEL MASTERS: ERR unknown command 'SENTINEL'.*leave out --sentinel/)
  })

  it('passes other failures through (a refused permission stays an auth failure)', async () => {
    const noperm = new TransportError('127.0.0.1:26379', replyFailure("NOPERM User bob has no permissions to run the 'sentinel|masters' command", {command: 'SENTINEL', user: 'bob'}), {reply: 'NOPERM ...'})
    const call: CommandRunner = async () => {
      throw noperm
    }
    await expect(askSentinel(call, SEED)).rejects.toBe(noperm)
    expect(noperm.kind).toBe('auth')
  })

  it('refuses a reported address that is not a host name', async () => {
    const call: CommandRunner = async (_command, sub) => (sub === 'MASTERS' ? [entry({name: 'm', ip: 'evil\u001B[2Jhost', port: '6379', flags: 'master'})] : [])
    await expect(askSentinel(call, SEED)).rejects.toThrow(/reported a primary at "evil\\x1b\[2Jhost", which is not a host name/i)
  })
})

describe('parseSentinelEntries', () => {
  it('turns flat field/value arrays into maps, ignoring a dangling field', () => {
    const [first, second] = parseSentinelEntries([['name', 'm', 'ip', '10.0.0.5', 'port', '6379'], ['name', 'x', 'dangling']], 'SENTINEL MASTERS')
    expect(Object.fromEntries(first!)).toEqual({name: 'm', ip: '10.0.0.5', port: '6379'})
    expect(Object.fromEntries(second!)).toEqual({name: 'x'})
    expect(parseSentinelEntries([], 'SENTINEL SENTINELS')).toEqual([])
  })

  it.each([['OK'], [null], [[['name', 'm'], 'junk']], [42]])('rejects %j as an unexpected reply', (reply) => {
    expect(() => parseSentinelEntries(reply, 'SENTINEL REPLICAS')).toThrow('SENTINEL REPLICAS: unexpected reply')
  })
})

describe('toTargets', () => {
  const parse = (...entries: Array<Record<string, string>>) => parseSentinelEntries(entries.map(entry), 'SENTINEL REPLICAS')

  it('skips entries without a usable address', () => {
    const entries = parse({ip: '', port: '6379'}, {ip: '?', port: '6379'}, {ip: '10.0.0.5', port: '0'}, {ip: '10.0.0.5', port: '65536'}, {ip: '10.0.0.5', port: 'x'}, {port: '6379'}, {ip: '10.0.0.5'})
    expect(toTargets(entries, 'replica')).toEqual([])
  })

  it('takes only s_down, o_down and disconnected as health, and only a 40-hex runid as the id', () => {
    const entries = parse(
      {ip: '10.0.0.5', port: '6379', runid: id('f'), flags: 'slave,promoted,failover_in_progress'},
      {ip: 'db-2.example', port: '6380', runid: '?', flags: 'sentinel,master_down,s_down'},
      {ip: 'fd00::7', port: '6381', flags: 'o_down'},
    )
    expect(toTargets(entries, 'replica')).toEqual([
      {host: '10.0.0.5', port: 6379, role: 'replica', id: id('f'), health: 'online'},
      {host: 'db-2.example', port: 6380, role: 'replica', health: 's_down'},
      {host: 'fd00::7', port: 6381, role: 'replica', health: 'o_down'},
    ])
  })
})
