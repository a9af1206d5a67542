import type {Command, Interfaces} from '@oclif/core'
import {CommandHelp, Help} from '@oclif/core/help'

/**
 * oclif's help (package.json `oclif.helpClass`), with one change: a text without `<%` is shown as it is instead
 * of going through EJS, which compiles every description, example and flag summary into a function before
 * printing it (about 15 ms of `check --help`, which may take 2x a bare Node start; issue 11). The command texts
 * spell the bin and command out for that reason; a text with a template is still rendered by EJS.
 */
const literalUnlessTemplate = (render: (input: string) => string) => (input: string) => (input.includes('<%') ? render(input) : input)

class ValkeyTlsCommandHelp extends CommandHelp {
  constructor(command: Command.Loadable, config: Interfaces.Config, opts: Interfaces.HelpOptions) {
    super(command, config, opts)
    this.render = literalUnlessTemplate(this.render)
  }
}

export default class ValkeyTlsHelp extends Help {
  constructor(config: Interfaces.Config, opts?: Partial<Interfaces.HelpOptions>) {
    super(config, opts)
    this.render = literalUnlessTemplate(this.render)
  }

  protected override getCommandHelpClass(command: Command.Loadable): CommandHelp {
    return new ValkeyTlsCommandHelp(command, this.config, this.opts)
  }
}
