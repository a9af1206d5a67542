import * as Args from '@oclif/core/args'

import {BaseCommand} from '../base-command.js'

export default class Autocomplete extends BaseCommand {
  static override summary = 'Print the completion script of bash, zsh or fish, with how to set it up.'

  static override description = `Completes command names, flags and the values of flags that have a fixed set (--key-type); files elsewhere. The script is made from the commands of this version: make it again after an upgrade.`

  static override examples = [
    {description: 'bash, with the bash-completion package (loaded when valkey-tls is first completed).', command: 'valkey-tls autocomplete bash > ~/.local/share/bash-completion/completions/valkey-tls'},
    {description: 'zsh: a file named _valkey-tls in a folder of $fpath.', command: 'valkey-tls autocomplete zsh > "${fpath[1]}/_valkey-tls"'},
    {description: 'fish.', command: 'valkey-tls autocomplete fish > ~/.config/fish/completions/valkey-tls.fish'},
  ]

  static override enableJsonFlag = false

  static override args = {
    shell: Args.string({description: 'bash, zsh or fish.', options: ['bash', 'zsh', 'fish'], required: true}),
  }

  async run(): Promise<void> {
    const {args} = await this.parse(Autocomplete)
    const {completionScript} = await import('../cli/completion.js')
    const commands = this.config.commands.filter((c) => !c.hidden).map((c) => ({
      id: c.id,
      summary: c.summary ?? c.description,
      takesArgs: Object.keys(c.args ?? {}).length > 0,
      flags: Object.entries(c.flags ?? {}).filter(([, f]) => !f.hidden).map(([name, f]) => ({
        name,
        char: f.char,
        summary: f.summary ?? f.description,
        takesValue: f.type === 'option',
        options: f.type === 'option' && f.options ? [...f.options] : undefined,
        multiple: f.type === 'option' && f.multiple === true,
      })),
    }))
    const topics = this.config.topics.map((t) => ({name: t.name, description: t.description}))
    process.stdout.write(completionScript(args.shell as 'bash' | 'zsh' | 'fish', {bin: this.config.bin, commands, topics}))
  }
}
