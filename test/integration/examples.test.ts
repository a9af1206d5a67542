import {execFile} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {describe, expect, it} from 'vitest'

import {freePort} from '../helpers/ports.js'
import {valkeyCliPath, valkeyServerPath} from '../helpers/valkey/binaries.js'

const run = promisify(execFile)

describe('examples/ really run', () => {
  it('standalone-mtls.sh: the printed valkey.conf and ACL lines make alice.crt log in as alice', async () => {
    const script = fileURLToPath(new URL('../../examples/standalone-mtls.sh', import.meta.url))
    const port = await freePort()
    const {stdout} = await run(script, [String(port)], {
      env: {...process.env, VALKEY_SERVER: valkeyServerPath(), VALKEY_CLI: valkeyCliPath()},
      timeout: 60_000,
    })
    expect(stdout.trim()).toBe('alice.crt logs in as: alice')
  }, 90_000)

  it('ca-rotation.sh: a primary and its replica moved to a new CA while running; after a restart the replica links with the new CA, an old-CA client is refused', async () => {
    const script = fileURLToPath(new URL('../../examples/ca-rotation.sh', import.meta.url))
    const [port, replicaPort] = [await freePort(), await freePort()]
    const {stdout} = await run(script, [String(port), String(replicaPort)], {
      env: {...process.env, VALKEY_SERVER: valkeyServerPath(), VALKEY_CLI: valkeyCliPath()},
      timeout: 120_000,
    })
    expect(stdout).toMatch(/valkey-tls ca rotate: trust the old CA only/)
    expect(stdout).toMatch(/valkey-tls ca rotate: phase 2 done/)
    expect(stdout).toMatch(/valkey-tls ca rotate: done: every node serves a certificate from the new CA and trusts it alone/)
    expect(stdout.trim().split('\n').slice(-2)).toEqual(['replica linked to its primary after the rotation and a restart', 'an old-CA client is refused'])
  }, 150_000)
})
