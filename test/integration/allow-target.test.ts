/**
 * `--allow-target` of check and reload, against a real Valkey 9.1 primary and its replica: the seed's answer (INFO
 * replication) names the replica, and with rules that cover the primary only, the replica is reported and never
 * connected to (its own connection counter says so). Servers the operator names outside the rules are usage errors.
 */
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {makePki, type Pki} from '../helpers/pki/openssl.js'
import {onTerminal} from '../helpers/pty.js'
import {makeTempDir} from '../helpers/temp.js'
import {startValkey, type ValkeyHandle} from '../helpers/valkey/server.js'

const root = makeTempDir('vtls-allow-target-it')
let pki: Pki
let primary: ValkeyHandle
let replica: ValkeyHandle

beforeAll(async () => {
  pki = await makePki(root)
  const tls = {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}
  primary = await startValkey({tls, authClients: 'optional', config: {'tls-replication': 'yes'}, name: 'allow-primary'})
  replica = await startValkey({tls, authClients: 'optional', config: {'tls-replication': 'yes', replicaof: `127.0.0.1 ${primary.port}`}, name: 'allow-replica'})
  for (let i = 0; i < 100 && !/^slave0:/m.test(String(await primary.command('INFO', 'replication'))); i++) await new Promise((r) => setTimeout(r, 100))
}, 120_000)
afterAll(async () => {
  await Promise.all([replica?.stop(), primary?.stop()])
})

/** Connections the replica accepted so far (INFO's own connection included). */
const connectionsTo = async (node: ValkeyHandle) => Number(/^total_connections_received:(\d+)/m.exec(String(await node.command('INFO', 'stats')))![1])

const seed = () => ['--host', '127.0.0.1', '--port', String(primary.port), '--cacert', pki.caCert]

describe('--allow-target', () => {
  it('check: a discovered node outside the rules is failed as not-allowed, without a connection (exit 6)', async () => {
    const before = await connectionsTo(replica)
    const result = await runCli(['check', ...seed(), '--allow-target', `127.0.0.1:${primary.port}`, '--json'])
    const after = await connectionsTo(replica)
    expect(result.code).toBe(6)
    const json = JSON.parse(result.stdout) as {nodes: Array<{address: string; status: string; reason: string | null; error: string | null}>}
    expect(json.nodes.map((n) => [n.address, n.status, n.reason])).toEqual([
      [`127.0.0.1:${primary.port}`, 'ok', null],
      [`127.0.0.1:${replica.port}`, 'failed', 'not-allowed'],
    ])
    expect(json.nodes[1]!.error).toMatch(/--allow-target/)
    expect(after - before).toBe(1) // the second INFO stats only

    // A network that holds both: both checked.
    const both = await runCli(['check', ...seed(), '--allow-target', '127.0.0.0/8', '--json'])
    expect(both.code).toBe(0)
    expect(await connectionsTo(replica) - after).toBeGreaterThan(1)
  })

  it('reload --cluster: the same node is failed without a connection, and nothing is loaded anywhere (exit 6)', async () => {
    const before = await connectionsTo(replica)
    const result = await runCli(['reload', '--cluster', ...seed(), '--allow-target', `127.0.0.1:${primary.port}`, '--lock-file', join(root, 'lock'), '--json'])
    const after = await connectionsTo(replica)
    expect(result.code).toBe(6)
    const json = JSON.parse(result.stdout) as {nodes: Array<{address: string; action: string; reason: string}>}
    const byAddress = Object.fromEntries(json.nodes.map((n) => [n.address, n]))
    expect(byAddress[`127.0.0.1:${replica.port}`]).toMatchObject({action: 'failed', reason: expect.stringMatching(/--allow-target/)})
    // Whichever node is outside, nothing is attempted: a run that cannot look at every node changes none.
    expect(byAddress[`127.0.0.1:${primary.port}`]).toMatchObject({action: 'skipped', reason: `not attempted: 127.0.0.1:${replica.port} is outside --allow-target, and a run that cannot look at every node changes none`})
    expect(after - before).toBe(1)
  })

  it('reload of the primary alone: its replica, found for the rehearsal, is not connected to, and a note says what was not rehearsed', async () => {
    const before = await connectionsTo(replica)
    const result = await runCli(['reload', ...seed(), '--dry-run', '--force', '--allow-target', `127.0.0.1:${primary.port}`, '--json'])
    const after = await connectionsTo(replica)
    expect(result.code).toBe(0)
    const [node] = (JSON.parse(result.stdout) as {nodes: Array<{action: string; notes: string[]}>}).nodes
    expect(node!.action).toBe('would-reload')
    expect(node!.notes).toContain(`127.0.0.1:${replica.port} (linked to this node) is outside --allow-target: whether it accepts the new certificate was not rehearsed`)
    expect(after - before).toBe(1)
  })

  it('a seed or --nodes outside the rules, and a rule that is not one, are usage errors (exit 2, one line)', async () => {
    for (const command of ['check', 'reload']) {
      expectOneLineError(await runCli([command, ...seed(), '--allow-target', '10.0.0.0/8']), 2, new RegExp(`127\\.0\\.0\\.1:${primary.port} is not within --allow-target \\(10\\.0\\.0\\.0/8\\)`))
      expectOneLineError(await runCli([command, '--nodes', `127.0.0.1:${primary.port},127.0.0.2:${replica.port}`, '--cacert', pki.caCert, '--allow-target', '127.0.0.1']), 2, new RegExp(`127\\.0\\.0\\.2:${replica.port} is not within --allow-target`))
      expectOneLineError(await runCli([command, ...seed(), '--allow-target', '10.0.0.0/33']), 2, /--allow-target: target rule "10\.0\.0\.0\/33": \/33 is not a prefix length for IPv4/)
    }
  })

  it('--askpass: a seed outside the rules is refused before the password is asked', async () => {
    for (const command of ['check', 'reload']) {
      const {code, screen} = await onTerminal([command, ...seed(), '--user', 'alice', '--askpass', '--allow-target', '10.0.0.0/8'], [])
      expect(code).toBe(2)
      expect(screen).toMatch(new RegExp(`127\\.0\\.0\\.1:${primary.port} is not within --allow-target`))
      expect(screen).not.toMatch(/password/i)
    }
  })
})
