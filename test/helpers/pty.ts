import {spawn} from 'node:child_process'

import {BIN} from './cli.js'

/**
 * Runs the CLI with `args` on a real pseudo-terminal (util-linux `script`), answering each prompt
 * once it is on screen, the way a person would.
 */
export function onTerminal(args: string[], dialogue: [RegExp, string][], options: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): Promise<{code: number | null; screen: string}> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: options.cwd, env: {...process.env, NO_COLOR: '1', TERM: 'xterm', ...options.env}, stdio: ['pipe', 'pipe', 'pipe'],
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

