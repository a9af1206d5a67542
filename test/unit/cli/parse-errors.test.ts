import {describe, expect, it} from 'vitest'

import {describeParseError} from '../../../src/cli/parse-errors.js'
import {closestName, editDistance, suggestCommand} from '../../../src/cli/suggest.js'

const validation = (...reasons: string[]) => ({message: `The following error${reasons.length > 1 ? 's' : ''} occurred:\n  ${reasons.join('\n  ')}\nSee more help with --help`})

describe('describeParseError', () => {
  it('rewrites each validation reason, and says an exclusion once for both flags', () => {
    expect(describeParseError(validation('Missing required flag listen', 'All of the following must be provided when using --cert: --key'))).toBe('missing required flag --listen; --cert also needs --key')
    expect(describeParseError(validation('--cluster=true cannot also be provided when using --nodes', '--nodes=a:1 cannot also be provided when using --cluster'))).toBe('--cluster cannot be used with --nodes')
    expect(describeParseError(validation('Exactly one of the following must be provided: --a, --b'))).toBe('give exactly one of --a, --b')
    expect(describeParseError(validation('At least one of the following must be provided: --a, --b'))).toBe('give at least one of --a, --b')
    expect(describeParseError(validation('One of the following must be provided when using --a: --b, --c'))).toBe('--a also needs one of --b, --c')
    expect(describeParseError(validation('Only the following can be provided when using --a: --b'))).toBe('--a can only be used with --b')
    expect(describeParseError(validation('something oclif may say one day'))).toBe('something oclif may say one day')
  })

  it('names missing arguments, suggests flags, names an argument whose value is not an option', () => {
    expect(describeParseError({message: 'Missing 2 required args:\na  x\nb  y', args: [{name: 'a', description: 'First.'}, {name: 'b'}]})).toBe('missing argument A (First); missing argument B')
    const command = {flags: ['cacert', 'port'], args: [{name: 'shell', options: ['bash', 'zsh']}]}
    expect(describeParseError({message: 'Nonexistent flags: --cacrt, --xyz', flags: ['--cacrt', '--xyz']}, command)).toBe('Nonexistent flags: --cacrt, --xyz; did you mean --cacert?')
    expect(describeParseError({message: 'Nonexistent flag: --zzzzzz', flags: ['--zzzzzz']}, command)).toBe('Nonexistent flag: --zzzzzz')
    expect(describeParseError({message: 'Expected ksh to be one of: bash, zsh\nSee more help with --help'}, command)).toBe('Expected SHELL=ksh to be one of: bash, zsh')
    expect(describeParseError({message: 'Unexpected argument: b'})).toBeUndefined() // already one line: left to oneLine
  })
})

describe('suggestions', () => {
  it('measures edits, and suggests only what is close', () => {
    expect(editDistance('chek', 'check')).toBe(1)
    expect(editDistance('', 'abc')).toBe(3)
    expect(closestName('chek', ['check', 'reload'])).toBe('check')
    expect(closestName('xyzzy', ['check', 'reload'])).toBeUndefined()
  })

  it('tries the leading words of an id that oclif made of a command and its arguments', () => {
    expect(suggestCommand('whoamii:alice.crt', ['whoami', 'check'])).toEqual({typed: 'whoamii', suggestion: 'whoami'})
    expect(suggestCommand('certs:gne', ['certs:gen', 'check'])).toEqual({typed: 'certs:gne', suggestion: 'certs:gen'})
    expect(suggestCommand('xyzzy', ['certs:gen', 'check'])).toBeUndefined()
  })
})
