import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {onTerminal} from '../helpers/pty.js'
import {useTempDirs} from '../helpers/temp.js'

const tempDir = useTempDirs('vtls-tty')

const ENTER = '\r'
const DOWN = '\u001B[B'
const interactive = (cwd: string, dialogue: [RegExp, string][]) => onTerminal(['certs', 'gen'], dialogue, {cwd})

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
