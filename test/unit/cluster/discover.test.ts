import {describe, expect, it} from 'vitest'

import {type CommandRunner, discoverNodes, parseClusterNodes, parseClusterShards, parseNodeList} from '../../../src/cluster/discover.js'
import {ValkeyTlsError} from '../../../src/errors.js'

describe('parseNodeList', () => {
  it('parses host:port entries, trimming blanks and empty entries', () => {
    expect(parseNodeList(' 10.0.0.5:6379, db.example:16379 ,,localhost:1')).toEqual([
      {host: '10.0.0.5', port: 6379},
      {host: 'db.example', port: 16_379},
      {host: 'localhost', port: 1},
    ])
  })

  it('takes IPv6 addresses in brackets, without the brackets', () => {
    expect(parseNodeList('[::1]:6379,[fd00::5]:65535')).toEqual([
      {host: '::1', port: 6379},
      {host: 'fd00::5', port: 65_535},
    ])
  })

  it.each([
    ['', 'at least one'],
    [' , ,', 'at least one'],
    ['10.0.0.5', 'is not host:port'],
    ['10.0.0.5:', 'is not host:port'],
    [':6379', 'is not host:port'],
    ['10.0.0.5:0', 'is not host:port'],
    ['10.0.0.5:65536', 'is not host:port'],
    ['10.0.0.5:123456', 'is not host:port'],
    ['10.0.0.5:port', 'is not host:port'],
    ['::1:6379', 'is not host:port'],
    ['[::1]', 'is not host:port'],
    ['a b:6379', 'is not host:port'],
    ['[db.example]:6379', 'is not an IPv6 address'],
    ['[10.0.0.5]:6379', 'is not an IPv6 address'],
    ['good:1,bad', '"bad"'],
  ])('rejects %j with a usage error', (raw, message) => {
    let thrown: unknown
    try {
      parseNodeList(raw)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ValkeyTlsError)
    expect((thrown as ValkeyTlsError).kind).toBe('usage')
    expect((thrown as ValkeyTlsError).exitCode).toBe(2)
    expect((thrown as Error).message).toContain(message)
  })
})

// As Valkey 9.1 prints it for a 3 primaries + 1 replica cluster, with one node failing, one without
// an address yet (handshake), and one known only by id (":0@0").
const CLUSTER_NODES = [
  'd78a7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a001 127.0.0.1:27001@37001,node-a.example myself,master - 0 0 1 connected 0-5460',
  'e1c2a7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a002 127.0.0.1:27002@37002 master - 0 1730000000000 2 connected 5461-10922',
  'f3b4a7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a003 127.0.0.1:27003@37003 master,fail? - 1730000000000 1730000000000 3 disconnected 10923-16383',
  '0a9fa7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a004 ::1:27004@37004 slave d78a7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a001 0 1730000000000 1 connected',
  '1b8ea7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a005 :0@0 master,noaddr - 1730000000000 1730000000000 0 disconnected',
  '2c7da7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a006 :27006@37006 handshake - 0 0 0 disconnected',
  '3d6ca7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a007 127.0.0.1:0@37007 slave,fail - 0 0 0 disconnected',
  '',
].join('\n')

describe('parseClusterNodes', () => {
  const nodes = parseClusterNodes(CLUSTER_NODES)

  it('keeps the nodes with an address, in order, skipping noaddr, empty host and port 0', () => {
    expect(nodes.map((n) => `${n.host}|${n.port}|${n.busPort}`)).toEqual([
      '127.0.0.1|27001|37001',
      '127.0.0.1|27002|37002',
      '127.0.0.1|27003|37003',
      '::1|27004|37004',
    ])
  })

  it('reads ids, roles (myself,master and slave) and the hostname form', () => {
    expect(nodes[0]).toEqual({id: 'd78a7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a001', host: '127.0.0.1', port: 27_001, busPort: 37_001, role: 'primary', health: 'online'})
    expect(nodes[3]).toMatchObject({id: '0a9fa7bdf7b4ef9cbb0e6e7b1c7f2b1d4d2b0a004', role: 'replica'})
  })

  it('puts fail flags in health', () => {
    expect(nodes.map((n) => n.health)).toEqual(['online', 'online', 'fail?', 'online'])
    expect(parseClusterNodes('abc 10.0.0.1:6379@16379 master,fail - 0 0 1 connected')[0]!.health).toBe('fail')
  })

  it('takes bracketed IPv6 hosts, CRLF line ends and a node with no role flag', () => {
    const parsed = parseClusterNodes('abc [fd00::1]:6379@16379 replica - 0 0 1 connected\r\ndef 10.0.0.2:6380@16380 myself - 0 0 1 connected\r\n')
    expect(parsed).toEqual([
      {id: 'abc', host: 'fd00::1', port: 6379, busPort: 16_379, role: 'replica', health: 'online'},
      {id: 'def', host: '10.0.0.2', port: 6380, busPort: 16_380, role: 'unknown', health: 'online'},
    ])
  })

  it('returns nothing for an empty reply or garbage', () => {
    expect(parseClusterNodes('')).toEqual([])
    expect(parseClusterNodes('ERR something\nabc def')).toEqual([])
  })

  // BUG: Valkey prints "nofailover" among the flags of a node with cluster-replica-no-failover yes
  // (checked on 9.1.2: ":0@10000 myself,master,nofailover"); /fail/ matches it, so a healthy node
  // gets health "nofailover" instead of "online". Flip to it() once fixed.
  it('does not take the nofailover flag for a failure (known bug)', () => {
    const [node] = parseClusterNodes('abc 10.0.0.1:6379@16379 slave,nofailover def 0 0 1 connected')
    expect(node!.health).toBe('online')
  })
})

const shardNode = (fields: Record<string, string | number>): unknown[] => Object.entries(fields).flat()

describe('parseClusterShards', () => {
  it('reads the reply of Valkey 9.1 as ioredis returns it', () => {
    const reply = [
      ['slots', [0, 4095], 'nodes', [['id', 'd78a01', 'tls-port', 27_001, 'ip', '127.0.0.1', 'endpoint', '127.0.0.1', 'role', 'master', 'replication-offset', 0, 'health', 'online']], 'id', 'shard1'],
      ['slots', [4096, 16_383], 'nodes', [
        ['id', 'e1c202', 'port', 6380, 'tls-port', 27_002, 'ip', '10.0.0.2', 'endpoint', 'node-b.example', 'hostname', 'node-b.example', 'role', 'master', 'replication-offset', 1234, 'health', 'online'],
        ['id', 'f3b403', 'port', 27_003, 'ip', '10.0.0.3', 'endpoint', '10.0.0.3', 'role', 'replica', 'replication-offset', 1200, 'health', 'loading'],
      ]],
    ]
    expect(parseClusterShards(reply)).toEqual([
      {id: 'd78a01', host: '127.0.0.1', port: 27_001, role: 'primary', health: 'online'},
      {id: 'e1c202', host: 'node-b.example', port: 27_002, role: 'primary', health: 'online'},
      {id: 'f3b403', host: '10.0.0.3', port: 27_003, role: 'replica', health: 'loading'},
    ])
  })

  it('falls back to ip when the endpoint is "?" or empty or missing', () => {
    const reply = [['slots', [], 'nodes', [
      shardNode({id: 'a', port: 1, ip: '10.0.0.1', endpoint: '?', role: 'master', health: 'online'}),
      shardNode({id: 'b', port: 2, ip: '10.0.0.2', endpoint: '', role: 'replica', health: 'failed'}),
      shardNode({id: 'c', port: 3, ip: '::1', role: 'replica', health: 'online'}),
    ]]]
    expect(parseClusterShards(reply).map((n) => [n.id, n.host, n.port, n.health])).toEqual([
      ['a', '10.0.0.1', 1, 'online'],
      ['b', '10.0.0.2', 2, 'failed'],
      ['c', '::1', 3, 'online'],
    ])
  })

  it('skips nodes without a host or a port, and marks unknown roles and missing health', () => {
    const reply = [['slots', [], 'nodes', [
      shardNode({id: 'noaddr', ip: '', endpoint: '', role: 'master', health: 'online'}), // as 9.1 answers before a node has an address
      shardNode({id: 'noport', ip: '10.0.0.1', endpoint: '10.0.0.1', role: 'master', health: 'online'}),
      shardNode({id: 'odd', port: 7, ip: '10.0.0.7', role: 'arbiter'}),
    ], 'id', 'x']]
    expect(parseClusterShards(reply)).toEqual([{id: 'odd', host: '10.0.0.7', port: 7, role: 'unknown', health: 'unknown'}])
  })

  it('ignores shards that are not lists and rejects a reply that is not an array', () => {
    expect(parseClusterShards([])).toEqual([])
    expect(parseClusterShards(['garbage', ['slots', []], null])).toEqual([])
    expect(() => parseClusterShards('ERR unknown subcommand')).toThrow('CLUSTER SHARDS: unexpected reply')
  })
})

/** A command runner answering from a table; no socket anywhere. */
function fakeConnection(answers: Record<string, unknown>): {connection: CommandRunner; asked: string[]} {
  const asked: string[] = []
  const connection: CommandRunner = async (...args) => {
    const key = args.join(' ')
    asked.push(key)
    const answer = answers[key]
    if (answer instanceof Error) throw answer
    if (answer === undefined) throw new Error(`unexpected command ${key}`)
    return answer
  }
  return {connection, asked}
}

describe('discoverNodes (with a fake command runner)', () => {
  const seed = {host: '127.0.0.1', port: 27_001}
  const nodesText = 'aaa 127.0.0.1:27001@37001 myself,master - 0 0 1 connected 0-16383\nbbb 127.0.0.1:27002@37002 slave aaa 0 0 1 connected\n'

  it('uses CLUSTER SHARDS for roles and health and CLUSTER NODES for the bus ports', async () => {
    const {connection} = fakeConnection({
      'INFO cluster': '# Cluster\r\ncluster_enabled:1\r\n',
      'CLUSTER NODES': nodesText,
      'CLUSTER SHARDS': [['slots', [0, 16_383], 'nodes', [
        shardNode({id: 'aaa', 'tls-port': 27_001, ip: '127.0.0.1', endpoint: '127.0.0.1', role: 'master', health: 'online'}),
        shardNode({id: 'bbb', 'tls-port': 27_002, ip: '127.0.0.1', endpoint: '127.0.0.1', role: 'replica', health: 'loading'}),
      ]]],
    })
    const found = await discoverNodes(connection, seed)
    expect(found.mode).toBe('cluster')
    expect(found.method).toBe('CLUSTER SHARDS')
    expect(found.nodes.map((n) => [n.id, n.port, n.busPort, n.role, n.health])).toEqual([
      ['aaa', 27_001, 37_001, 'primary', 'online'],
      ['bbb', 27_002, 37_002, 'replica', 'loading'],
    ])
  })

  it('falls back to CLUSTER NODES when the server does not know CLUSTER SHARDS', async () => {
    const {connection} = fakeConnection({
      'INFO cluster': 'cluster_enabled:1\r\n',
      'CLUSTER NODES': nodesText,
      'CLUSTER SHARDS': new Error("ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP."),
    })
    const found = await discoverNodes(connection, seed)
    expect(found.method).toBe('CLUSTER NODES')
    expect(found.nodes.map((n) => [n.id, n.busPort, n.role])).toEqual([['aaa', 37_001, 'primary'], ['bbb', 37_002, 'replica']])
  })

  it('passes on other CLUSTER SHARDS errors', async () => {
    const {connection} = fakeConnection({
      'INFO cluster': 'cluster_enabled:1\r\n',
      'CLUSTER NODES': nodesText,
      'CLUSTER SHARDS': new Error('NOPERM this user has no permissions to run the cluster|shards command'),
    })
    await expect(discoverNodes(connection, seed)).rejects.toThrow('NOPERM')
  })

  it('finds a standalone primary and its replicas from INFO replication', async () => {
    const {connection, asked} = fakeConnection({
      'INFO cluster': 'cluster_enabled:0\r\n',
      'INFO replication': '# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.2,port=6380,state=online,offset=1,lag=0\r\nslave1:ip=10.0.0.3,port=6381,state=wait_bgsave,offset=0,lag=0\r\n',
    })
    const found = await discoverNodes(connection, seed)
    expect(asked).toEqual(['INFO cluster', 'INFO replication'])
    expect(found).toEqual({mode: 'standalone', method: 'INFO replication', nodes: [
      {host: '127.0.0.1', port: 27_001, role: 'primary'},
      {host: '10.0.0.2', port: 6380, role: 'replica', health: 'online'},
      {host: '10.0.0.3', port: 6381, role: 'replica', health: 'wait_bgsave'},
    ]})
  })

  it('starts from the primary when the seed is a replica, and keeps a lone server standalone', async () => {
    const replica = fakeConnection({'INFO cluster': 'cluster_enabled:0\r\n', 'INFO replication': 'role:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\n'})
    expect((await discoverNodes(replica.connection, seed)).nodes).toEqual([
      {host: '10.0.0.1', port: 6379, role: 'primary'},
      {host: '127.0.0.1', port: 27_001, role: 'replica'},
    ])
    const lone = fakeConnection({'INFO cluster': 'cluster_enabled:0\r\n', 'INFO replication': 'role:master\r\nconnected_slaves:0\r\n'})
    expect((await discoverNodes(lone.connection, seed)).nodes).toEqual([{host: '127.0.0.1', port: 27_001, role: 'standalone'}])
  })
})
