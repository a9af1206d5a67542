/**
 * `valkey-tls autocomplete bash|zsh|fish`, run as a process: the scripts hold every command and flag of the
 * manifest, and each shell that is on this machine really completes with them (bash always; zsh and fish where
 * installed: the scripts are then also checked by the shell's own parser).
 */
import {execFile, spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {beforeAll, describe, expect, it} from 'vitest'

import {expectOneLineError, runCli} from '../helpers/cli.js'
import {makeTempDir, useTempDirs} from '../helpers/temp.js'

const run = promisify(execFile)
const tempDir = useTempDirs('vtls-complete')
const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../oclif.manifest.json', import.meta.url)), 'utf8')) as {
  commands: Record<string, {hidden?: boolean; flags: Record<string, {char?: string; hidden?: boolean; options?: string[]}>}>
}
const visible = Object.entries(manifest.commands).filter(([, c]) => !c.hidden)
const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0']).status === 0

const script = async (shell: string) => {
  const result = await runCli(['autocomplete', shell])
  expect(result).toMatchObject({code: 0, stderr: ''})
  return result.stdout
}

describe('autocomplete', () => {
  let bash: string
  beforeAll(async () => {
    bash = join(makeTempDir('vtls-complete-bash'), 'valkey-tls.bash')
    writeFileSync(bash, await script('bash'))
  })

  /** What bash completes for the words, the last being the one under the cursor (through the script's own function). */
  const complete = async (...words: string[]) => {
    const line = ['valkey-tls', ...words].map((w) => `'${w}'`).join(' ')
    const {stdout} = await run('bash', ['-c', `source '${bash}'
COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=()
fn=$(complete -p valkey-tls | sed -E 's/.* -F ([^ ]+) .*/\\1/'); "$fn" valkey-tls
printf '%s\\n' "\${COMPREPLY[@]}"`])
    return stdout.split('\n').filter(Boolean)
  }

  it('bash: registers a completion for valkey-tls that completes names, flags, flag values and files', async () => {
    expect(await complete('ch')).toEqual(['check'])
    expect(await complete('')).toEqual(expect.arrayContaining(['ca', 'certs', 'check', 'whoami', 'reload', 'exporter', 'help', 'autocomplete']))
    expect(await complete('certs', '')).toEqual(['gen', 'inspect', 'verify'])
    expect(await complete('ca', 'r')).toEqual(['rotate'])
    expect(await complete('certs', 'gen', '--key-t')).toEqual(['--key-type'])
    expect(await complete('certs', 'gen', '--key-type', 'rsa-3')).toEqual(['rsa-3072'])
    expect(await complete('check', '--port', '6379', '--cace')).toEqual(['--cacert', '--cacertdir'])
    expect(await complete('check', '--po')).toEqual(['--port'])
    expect(await complete('whoami', bash.slice(0, -3))).toEqual([bash]) // a file, where the command takes one
    expect(await complete('certs', 'gen', '-o', bash.slice(0, -3))).toEqual([bash]) // a flag's value
  })

  it.each(['bash', 'zsh', 'fish'])('%s: the script names every command and each of its flags', async (shell) => {
    const text = await script(shell)
    for (const [id, command] of visible) {
      for (const word of id.split(':')) expect(text).toContain(word)
      for (const [name, flag] of Object.entries(command.flags)) {
        if (flag.hidden) continue
        expect(text).toMatch(shell === 'fish' ? new RegExp(`-l ${name}\\b`) : new RegExp(`--${name}\\b`))
        if (flag.char) expect(text).toMatch(shell === 'fish' ? new RegExp(`-s ${flag.char}\\b`) : new RegExp(`-${flag.char}\\b`))
      }
    }
    expect(text).toContain(`autocomplete ${shell}`) // the setup, in its header
  })

  it.skipIf(!has('zsh'))('zsh: the script parses, and zsh completes certs g<TAB> and --key-t<TAB> with it', async () => {
    const file = join(tempDir(), '_valkey-tls')
    writeFileSync(file, await script('zsh'))
    expect(spawnSync('zsh', ['-n', file]).status).toBe(0)
    // An interactive zsh on a pseudo-terminal (zsh/zpty): type, press TAB, then print the edited line.
    const typed = async (line: string) => {
      const driver = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PS1="> "; autoload -Uz compinit; compinit -u -D; source ${file}; bindkey -e'
sleep 1; zpty -n -w z ${JSON.stringify(line)}; sleep 0.3; zpty -n -w z $'\\t'; sleep 1.5
zpty -n -w z $'\\C-a print -r -- LINE=\\n'; sleep 1
out=''; while zpty -r -t z chunk; do out+=$chunk; done
print -r -- "$out" | tr '\\r' '\\n' | grep -a '^LINE=' | tail -1`
      const {stdout} = await run('zsh', ['-f', '-c', driver], {timeout: 20_000})
      return stdout.trim()
    }
    expect(await typed('valkey-tls certs g')).toBe('LINE=valkey-tls certs gen')
    expect(await typed('valkey-tls certs gen --key-t')).toMatch(/^LINE=valkey-tls certs gen --key-type=?$/) // zsh drops the = suffix at the next key
  })

  it.skipIf(!has('fish'))('fish: the script parses, and fish completes names, flags and values with it', async () => {
    const file = join(tempDir(), 'valkey-tls.fish')
    writeFileSync(file, await script('fish'))
    expect(spawnSync('fish', ['-n', file]).status).toBe(0)
    const complete = async (line: string) => (await run('fish', ['-c', `source ${file}; complete -C ${JSON.stringify(line)}`])).stdout
      .split('\n').filter(Boolean).map((l) => l.split('\t')[0])
    expect(await complete('valkey-tls ch')).toEqual(['check'])
    expect(await complete('valkey-tls certs ')).toEqual(['gen', 'inspect', 'verify'])
    expect(await complete('valkey-tls check --po')).toEqual(['--port'])
    expect(await complete('valkey-tls certs gen --key-type ')).toContain('ed25519')
  })

  it('refuses a shell it has no script for, in one line (exit 2)', async () => {
    expectOneLineError(await runCli(['autocomplete', 'ksh']), 2, /^Error: Expected SHELL=ksh to be one of: bash, zsh, fish \(see --help\)$/)
  })
})
