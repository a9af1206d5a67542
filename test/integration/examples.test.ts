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
})
