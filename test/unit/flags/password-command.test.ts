import {chmodSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {ValkeyTlsError} from '../../../src/errors.js'
import {checkRunnable, commandPassword, MAX_PASSWORD_OUTPUT, PASSWORD_COMMANDS_AT_ONCE, splitCommandLine} from '../../../src/flags/password-command.js'
import {PasswordError} from '../../../src/transport/errors.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('password-command')
const script = (name: string, body: string) => {
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}
const run = (argv: string[], timeoutMs = 5000) => commandPassword(argv, 'the password command', timeoutMs)()
const failure = async (argv: string[], timeoutMs?: number) => {
  const error = await run(argv, timeoutMs).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(PasswordError)
  expect((error as PasswordError).failure).toMatchObject({kind: 'auth', reason: 'password-command'})
  return (error as Error).message
}

describe('splitCommandLine: a documented, shell-free split', () => {
  it('white space separates; quotes keep a word together; nothing else is special', () => {
    expect(splitCommandLine('  aws  elasticache  generate-token ', 'x')).toEqual(['aws', 'elasticache', 'generate-token'])
    expect(splitCommandLine('sh -c \'pass show valkey | head -n 1\'', 'x')).toEqual(['sh', '-c', 'pass show valkey | head -n 1'])
    expect(splitCommandLine('printf "%s" "it\'s" \'say "hi"\' $HOME \\n a*b', 'x')).toEqual(['printf', '%s', 'it\'s', 'say "hi"', '$HOME', '\\n', 'a*b'])
    expect(splitCommandLine('cmd "" x', 'x')).toEqual(['cmd', '', 'x'])
    expect(splitCommandLine('a"b c"d', 'x')).toEqual(['ab cd'])
  })

  it('unclosed quotes and empty commands are usage errors', () => {
    expect(() => splitCommandLine('sh -c \'echo', '--password-command')).toThrow(/^--password-command: a ' quote is not closed$/)
    expect(() => splitCommandLine('   ', '--password-command')).toThrow(/^--password-command is empty/)
    expect(() => splitCommandLine('"" x', '--password-command')).toThrow(/is empty/)
  })
})

describe('checkRunnable', () => {
  it('finds programs on PATH and by path; names a missing one', async () => {
    await checkRunnable('sh', 'x')
    await checkRunnable(script('ok', 'echo x'), 'x')
    await expect(checkRunnable('no-such-program-here', '--password-command')).rejects.toThrow(/^--password-command: no-such-program-here is not found on PATH$/)
    await expect(checkRunnable(join(dir, 'missing'), 'X')).rejects.toThrow(/does not exist or is not executable/)
    writeFileSync(join(dir, 'not-executable'), 'echo x\n')
    await expect(checkRunnable(join(dir, 'not-executable'), 'X')).rejects.toBeInstanceOf(ValkeyTlsError)
  })
})

describe('commandPassword', () => {
  it('stdout less its final newline, run afresh every time', async () => {
    const counter = join(dir, 'counter')
    writeFileSync(counter, '0')
    const next = script('next', `n=$(($(cat '${counter}') + 1)); echo $n > '${counter}'; echo "token-$n"`)
    const supplier = commandPassword([next], 'x', 5000)
    expect([await supplier(), await supplier(), await supplier()]).toEqual(['token-1', 'token-2', 'token-3'])
    expect(readFileSync(counter, 'utf8').trim()).toBe('3')
    expect(await run(['printf', 'a b\\r\\n'])).toBe('a b')
    expect(await run(['printf', '  spaced  '])).toBe('  spaced  ')
  })

  it('runs without a shell: $ and * reach the program as they are', async () => {
    expect(await run(['echo', '$HOME*'])).toBe('$HOME*')
  })

  it('a non-zero exit: its status and the first line of stderr, never stdout', async () => {
    const message = await failure([script('fails', 'echo "not-the-password"; echo >&2; echo "token service unavailable" >&2; echo second >&2; exit 3')])
    expect(message).toBe('the password command exited with status 3: token service unavailable')
  })

  it('killed by a signal, printing nothing, more than one line, too much', async () => {
    expect(await failure([script('killed', 'kill -9 $$')])).toBe('the password command was killed by SIGKILL')
    expect(await failure(['true'])).toBe('the password command printed nothing')
    expect(await failure([script('quiet', 'echo "no token today" >&2')])).toBe('the password command printed nothing: no token today')
    expect(await failure(['printf', 'a\\nb\\n'])).toBe('the password command printed more than one line: it must print the password alone')
    expect(await failure(['head', '-c', String(MAX_PASSWORD_OUTPUT + 1), '/dev/zero'])).toBe('the password command printed more than 64 KiB: not a password')
  })

  it('a command that does not finish is killed at the timeout, a shell\'s child not waited for', async () => {
    const started = Date.now()
    expect(await failure(['sh', '-c', 'sleep 30; echo late'], 300)).toBe('the password command did not finish within 0.3 s (see --timeout)')
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('a program that cannot start', async () => {
    expect(await failure([join(dir, 'missing')])).toBe('the password command could not be started (ENOENT)')
  })

  it(`at most ${PASSWORD_COMMANDS_AT_ONCE} at once`, async () => {
    const log = join(dir, 'concurrent')
    writeFileSync(log, '')
    const slow = script('slow', `echo start >> '${log}'; sleep 0.3; echo end >> '${log}'; echo pw`)
    const supplier = commandPassword([slow], 'x', 5000)
    expect(await Promise.all(Array.from({length: 10}, () => supplier()))).toEqual(Array.from({length: 10}, () => 'pw'))
    let running = 0
    let most = 0
    for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
      running += line === 'start' ? 1 : -1
      most = Math.max(most, running)
    }
    expect(most).toBe(PASSWORD_COMMANDS_AT_ONCE)
  })
})
