/**
 * oclif's parse errors, as the built CLI prints them: each kind in one line naming the flag or argument,
 * "(see --help)", exit 2 (src/cli/parse-errors.ts, through BaseCommand).
 */
import {describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'

describe('parse errors', () => {
  it.each([
    ['a missing required flag', ['exporter'], /^Error: missing required flag --listen \(see --help\)$/],
    ['a missing required flag, of a topic command', ['ca', 'rotate'], /^Error: missing required flag --new-ca-cert \(see --help\)$/],
    ['a missing argument', ['whoami'], /^Error: missing argument CERT \(Client certificate file \(PEM or DER\)\) \(see --help\)$/],
    ['a missing argument with options', ['autocomplete'], /^Error: missing argument SHELL \(bash, zsh or fish\) \(see --help\)$/],
    ['an unknown flag', ['certs', 'gen', '--colour'], /^Error: Nonexistent flag: --colour \(see --help\)$/],
    ['an unknown flag close to a known one', ['check', '--cacrt', 'ca.crt'], /^Error: Nonexistent flag: --cacrt; did you mean --cacert\? \(see --help\)$/],
    ['an unknown short flag', ['whoami', '-Z'], /^Error: Nonexistent flag: -Z \(see --help\)$/],
    ['exclusive flags, said once', ['reload', '--cluster', '--nodes', '127.0.0.1:6379'], /^Error: --cluster cannot be used with --nodes \(see --help\)$/],
    ['exclusive flags (a value flag)', ['check', '-u', 'valkeys://127.0.0.1:6379', '--host', 'h'], /^Error: --host cannot be used with --uri \(see --help\)$/],
    ['a flag that depends on another', ['certs', 'gen', '--ca-cert', 'ca.crt'], /^Error: --ca-cert also needs --ca-key \(see --help\)$/],
    ['a flag that depends on another (connection flags)', ['check', '--cert', 'c.crt'], /^Error: --cert also needs --key \(see --help\)$/],
    ['a value not among the options', ['certs', 'gen', '--key-type', 'dsa-1024'], /^Error: Expected --key-type=dsa-1024 to be one of: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519 \(see --help\)$/],
    ['an argument not among the options', ['autocomplete', 'ksh'], /^Error: Expected SHELL=ksh to be one of: bash, zsh, fish \(see --help\)$/],
    ['a flag without its value', ['certs', 'gen', '--out'], /^Error: Flag --out expects a value \(see --help\)$/],
    ['a number that is not one', ['check', '--port', 'abc'], /^Error: --port: Expected an integer but received: abc \(see --help\)$/],
    ['an argument too many', ['whoami', 'a.crt', 'b.crt'], /^Error: Unexpected argument: b\.crt \(see --help\)$/],
    ['a target rule that is none', ['exporter', '--listen', '127.0.0.1:0', '--allow-target', '10.0.0.0/33'], /^Error: --allow-target: target rule "10\.0\.0\.0\/33": \/33 is not a prefix length for IPv4$/],
  ])('%s: %j', async (_kind, args, message) => {
    const result = await runCli(args)
    expectOneLineError(result, 2, message)
    expect(result.stdout).toBe('')
  })

  it('the same line under --json, as the error object', async () => {
    const result = await runCli(['ca', 'rotate', '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout)).toEqual({error: {code: 'usage', message: 'missing required flag --new-ca-cert (see --help)', exitCode: 2}})
  })
})
