import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
// Already loaded with oclif's execute (it renders --help), so importing it here costs nothing.
import {loadHelpClass} from '@oclif/core/help'

import {BaseCommand} from '../base-command.js'

/**
 * `valkey-tls help [COMMAND]`: @oclif/plugin-help's command, which is only oclif's help class run on the words
 * given. Written here rather than loaded as a plugin: the package is one bundle with nothing in node_modules at
 * run time, and the plugin imports all of @oclif/core's index, which our command classes avoid (BENCHMARKS.md).
 */
export default class Help extends BaseCommand {
  static override summary = 'List the topics and commands, or show the help of one.'

  static override examples = [
    'valkey-tls help',
    'valkey-tls help certs',
    'valkey-tls help certs gen',
  ]

  static override args = {
    command: Args.string({description: 'Topic or command (words as typed: certs gen).', required: false}),
  }

  static override flags = {
    'nested-commands': Flags.boolean({char: 'n', summary: 'Include the commands of every topic in the list.'}),
  }

  static override enableJsonFlag = false

  static override strict = false

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Help)
    const HelpClass = await loadHelpClass(this.config)
    await new HelpClass(this.config, {all: flags['nested-commands']}).showHelp(argv as string[])
  }
}
