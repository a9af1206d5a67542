/**
 * oclif's `command_not_found` hook (package.json `oclif.hooks`, bundled to dist/hooks/): a mistyped command is
 * answered with the closest one in one line, exit 2 (usage). Unlike @oclif/plugin-not-found it never asks to run
 * the suggestion, on a terminal or not: commands here change servers (reload, ca rotate), and a mistyped line
 * should not become a different one at a key press.
 */
import type {Hook} from '@oclif/core/hooks'

import {suggestCommand} from '../cli/suggest.js'
import {ExitCode} from '../errors.js'

const hook: Hook.CommandNotFound = async function (options) {
  const {config, id} = options
  const shown = (commandId: string) => commandId.replaceAll(':', config.topicSeparator)
  const visible = config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases])
  const found = suggestCommand(id, visible)
  const help = `${config.bin} help`
  process.stderr.write(found
    ? `Error: "${shown(found.typed)}" is not a ${config.bin} command; did you mean "${config.bin} ${shown(found.suggestion)}"? (see ${help})\n`
    : `Error: "${shown(id)}" is not a ${config.bin} command (see ${help})\n`)
  this.exit(ExitCode.usage)
}

export default hook
