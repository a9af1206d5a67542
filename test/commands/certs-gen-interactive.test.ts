import {spawn} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {BIN} from '../helpers/cli.js'
import {useTempDirs} from '../helpers/temp.js'

const tempDir = useTempDirs('vtls-tty')

/**
 * Runs `certs gen` with no flags on a real pseudo-terminal (util-linux `script`), answering each
 * prompt once it is on screen, the way a person would.
 */
function interactive(cwd: string, dialogue: [RegExp, string][]): Promise<{code: number | null; screen: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} certs gen`, '/dev/null'], {
      cwd, env: {...process.env, NO_COLOR: '1', TERM: 'xterm'}, stdio: ['pipe', 'pipe', 'pipe'],
    })
    let screen = ''
    let step = 0
    let seen = 0 // how much of the screen earlier answers already consumed
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no prompt matching ${dialogue[step]?.[0]} within 20 s; screen:\n${screen}`))
    }, 20_000)
    child.stdout.on('data', (data) => {
      screen += data
      // eslint-disable-next-line no-control-regex
      const plain = screen.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '')
      if (step < dialogue.length && dialogue[step][0].test(plain.slice(seen))) {
        const answer = dialogue[step][1]
        seen = plain.length
        step++
        setTimeout(() => child.stdin.write(answer), 150) // let the prompt start listening
      }
    })
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, screen})
    })
  })
}

const ENTER = '\r'
const DOWN = '\u001B[B'

describe('valkey-tls certs gen on a terminal, with no flags', () => {
  it('asks for folder, key type, days, SANs and clients, then writes exactly that', async () => {
    const cwd = tempDir()
    const {code, screen} = await interactive(cwd, [
      [/Output folder/, `pki${ENTER}`],
      [/Key type/, `${DOWN}${ENTER}`], // second choice: ec-p384
      [/validity/, `\u007F\u007F\u007F30${ENTER}`],
      [/Extra server names/, `db.example${ENTER}`],
      [/Client certificates/, `alice, bob${ENTER}`],
      [/Write the files to pki\?/, ENTER],
    ])
    expect(code).toBe(0)
    expect(screen).toContain('Wrote 10 files')
    expect(readdirSync(join(cwd, 'pki')).sort()).toEqual(['alice.crt', 'alice.key', 'bob.crt', 'bob.key', 'ca.crt', 'ca.key', 'client.crt', 'client.key', 'server.crt', 'server.key'])
    const {X509Certificate} = await import('node:crypto')
    const server = new X509Certificate(readFileSync(join(cwd, 'pki/server.crt')))
    expect(server.subjectAltName).toContain('DNS:db.example')
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
    const days = (new Date(server.validTo).getTime() - Date.now()) / 86_400_000
    expect(days).toBeGreaterThan(29.9)
    expect(days).toBeLessThan(30.1)
    expect(statSync(join(cwd, 'pki/alice.key')).mode & 0o777).toBe(0o600)
  }, 30_000)

  it('asks before replacing existing files, and answering no keeps them', async () => {
    const cwd = tempDir()
    const {code: first} = await interactive(cwd, [[/Output folder/, ENTER], [/Key type/, ENTER], [/validity/, ENTER], [/Extra server/, ENTER], [/Client cert/, ENTER], [/Write the files/, ENTER]])
    expect(first).toBe(0)
    writeFileSync(join(cwd, 'tls/server.key'), 'precious')
    const {code, screen} = await interactive(cwd, [
      [/Output folder/, ENTER], [/Key type/, ENTER], [/validity/, ENTER], [/Extra server/, ENTER], [/Client cert/, ENTER],
      [/already exist\s+in \.\/tls\.\s+Replace them\?/, ENTER], // default: no
    ])
    expect(code).toBe(2)
    expect(screen).toContain('cancelled; nothing was written')
    expect(readFileSync(join(cwd, 'tls/server.key'), 'utf8')).toBe('precious')
    expect(existsSync(join(cwd, 'tls/ca.key'))).toBe(true)
  }, 30_000)
})
