import {Command} from '@oclif/core/command'
import chalk from 'chalk'

import {describeParseError, type ParsedCommand} from './cli/parse-errors.js'
import {ExitCode, ValkeyTlsError} from './errors.js'

export interface CommandFailure {
  code: string
  message: string
  exitCode: number
}

/**
 * Shared error handling: every expected failure becomes one line on stderr (or a JSON object under
 * --json) and a documented exit code; stack traces only for real bugs, and only with DEBUG set.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  public override async init(): Promise<void> {
    // chalk already turns colour off when stdout is not a terminal; https://no-color.org asks for NO_COLOR too.
    if (process.env.NO_COLOR) chalk.level = 0
    await super.init()
  }

  /**
   * oclif's logJson tokenises the text to colour it, which costs more than the run itself for a report of
   * a thousand nodes; without a colour theme (or not on a terminal) the text is the same JSON.stringify.
   */
  public override logJson(json: unknown): void {
    if (this.config.theme?.json && process.stdout.isTTY) super.logJson(json)
    else process.stdout.write(`${JSON.stringify(json, null, 2)}\n`)
  }

  protected override async catch(error: Error & {oclif?: {exit?: number}; exitCode?: number}): Promise<void> {
    if (error?.constructor?.name === 'ExitError') throw error // this.exit() was called deliberately
    const failure = describeFailure(error, {
      flags: Object.keys(this.ctor.flags ?? {}),
      args: Object.entries(this.ctor.args ?? {}).map(([name, arg]) => ({name, options: arg.options})),
    })
    if (this.jsonEnabled()) {
      this.logJson({error: failure})
    } else {
      this.logToStderr(`Error: ${failure.message}`)
      if (failure.code === 'internal' && process.env.DEBUG) this.logToStderr(error.stack)
    }
    this.exit(failure.exitCode)
  }
}

export function describeFailure(error: Error & {oclif?: {exit?: number}}, command?: ParsedCommand): CommandFailure {
  if (error instanceof ValkeyTlsError) return {code: error.kind, message: oneLine(error.message), exitCode: error.exitCode}
  // oclif's own parse errors (missing or unknown flag, value not among the options, number below min): usage errors.
  if (error?.oclif?.exit !== undefined) {
    const exitCode = error.oclif.exit === 0 ? 0 : ExitCode.usage
    return {code: 'usage', message: `${describeParseError(error, command) ?? oneLine(error.message)} (see --help)`, exitCode}
  }
  const hint = process.env.DEBUG ? '' : ' (run with DEBUG=* for details)'
  return {code: 'internal', message: `unexpected error: ${oneLine(error?.message ?? String(error))}${hint}`, exitCode: ExitCode.internal}
}

function oneLine(message: string): string {
  // oclif appends "See more help with --help" on a second line; keep the first meaningful line.
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l && !/^See more help/.test(l))
  // A flag parser's error comes back as "Parsing --flag \n\t<message>": say "--flag: <message>",
  // or just the message when it already names the flag.
  const flag = /^Parsing (--\S+)$/.exec(lines[0] ?? '')?.[1]
  if (flag && lines.length > 1) return [lines[1]!.startsWith(flag) ? lines[1]! : `${flag}: ${lines[1]}`, ...lines.slice(2)].join('; ')
  return lines.join('; ')
}
