/**
 * Finding one's way, run as a process: `help` lists the topics and commands (from oclif.manifest.json, with the
 * `explicit` strategy), and a mistyped command is answered with the closest one in one line, exit 2, never a
 * question (the command_not_found hook, src/hooks/command-not-found.ts).
 */
import {describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {onTerminal} from '../helpers/pty.js'

describe('help', () => {
  it('lists the topics (ca, certs) and the top-level commands', async () => {
    const {code, stdout} = await runCli(['help'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^TOPICS\n {2}ca +Change the CA of a running cluster\.\n {2}certs +Generate and check TLS certificates/m)
    for (const command of ['autocomplete', 'check', 'exporter', 'help', 'reload', 'whoami']) expect(stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'))
  })

  it.each([
    [['help', 'certs'], /^ {2}certs gen +Generate a test CA/m],
    [['certs', '--help'], /^ {2}certs verify +Check a certificate/m],
    [['help', 'ca'], /^ {2}ca rotate +Move a running cluster/m],
    [['ca', '--help'], /^ {2}ca rotate +Move a running cluster/m],
    [['help', 'certs', 'gen'], /^USAGE\n {2}\$ valkey-tls certs gen /m],
    [['help', '--nested-commands'], /^ {2}certs gen +Generate a test CA/m],
  ])('%j shows the topic or command', async (args, expected) => {
    const {code, stdout} = await runCli(args)
    expect(code).toBe(0)
    expect(stdout).toMatch(expected)
  })

  it('says in one line that it knows no such command (exit 2)', async () => {
    expectOneLineError(await runCli(['help', 'nosuch']), 2, /^Error: Command nosuch not found\. \(see --help\)$/)
  })
})

describe('a mistyped command', () => {
  it.each([
    [['chek'], 'chek', 'check'],
    [['chek', '--port', '6379'], 'chek', 'check'],
    [['certs', 'gne'], 'certs gne', 'certs gen'],
    [['certs', 'verfy', 'x.crt'], 'certs verfy', 'certs verify'], // oclif makes the id of every word before a flag
    [['whoamii', 'alice.crt'], 'whoamii', 'whoami'],
    [['rotate'], 'rotate', 'ca rotate'],
    [['hlep'], 'hlep', 'help'],
  ])('%j: "%s" is not a command; did you mean "valkey-tls %s"?, exit 2', async (args, typed, suggestion) => {
    const result = await runCli(args)
    expectOneLineError(result, 2, new RegExp(`^Error: "${typed}" is not a valkey-tls command; did you mean "valkey-tls ${suggestion}"\\? \\(see valkey-tls help\\)$`))
    expect(result.stdout).toBe('')
  })

  it('suggests nothing unrelated', async () => {
    expectOneLineError(await runCli(['xyzzy']), 2, /^Error: "xyzzy" is not a valkey-tls command \(see valkey-tls help\)$/)
  })

  it('does not ask to run the suggestion on a terminal either', async () => {
    const {code, screen} = await onTerminal(['chek'], [])
    expect(code).toBe(2)
    expect(screen).toMatch(/did you mean "valkey-tls check"\?/)
    expect(screen).not.toMatch(/\(Y\/n\)|\? Did you mean/)
  })
})
