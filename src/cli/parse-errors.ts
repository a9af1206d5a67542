/**
 * oclif's parse errors (missing flag or argument, unknown flag, flags that exclude or need each other, a value
 * not among the options) in one line that names the flag: oclif words them over several lines ("The following
 * error occurred:", an indented list, "See more help with --help"), and says each exclusion twice.
 */
import {closestName} from './suggest.js'

/** What the failing command accepts, to name an argument and to suggest a flag. */
export interface ParsedCommand {
  flags: string[]
  args: Array<{name: string; options?: readonly string[]}>
}

interface ParseErrorShape {
  message: string
  args?: Array<{name?: string; description?: string; options?: readonly string[]}>
  flags?: string[]
}

const rewrites: Array<[RegExp, (...groups: string[]) => string]> = [
  [/^Missing required flag (\S+)$/, (name) => `missing required flag --${name}`],
  [/^(--[^\s=]+)(?:=.*)? cannot also be provided when using (--\S+)$/, (flag, other) => `${flag} cannot be used with ${other}`],
  [/^All of the following must be provided when using (--\S+): (.+)$/, (flag, needed) => `${flag} also needs ${needed}`],
  [/^One of the following must be provided when using (--\S+): (.+)$/, (flag, needed) => `${flag} also needs one of ${needed}`],
  [/^Only the following can be provided when using (--\S+): (.+)$/, (flag, allowed) => `${flag} can only be used with ${allowed}`],
  [/^Exactly one of the following must be provided: (.+)$/, (flags) => `give exactly one of ${flags}`],
  [/^At least one of the following must be provided: (.+)$/, (flags) => `give at least one of ${flags}`],
]

/** The reasons of a flag validation error, each rewritten; an exclusion said once for both of its flags. */
function flagReasons(lines: string[]): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const line of lines) {
    const exclusion = /^(--[^\s=]+)(?:=.*)? cannot also be provided when using (--\S+)$/.exec(line)
    if (exclusion) {
      const pair = [exclusion[1], exclusion[2]].sort().join(' ')
      if (seen.has(pair)) continue
      seen.add(pair)
    }
    out.push(rewrite(line))
  }
  return out
}

function rewrite(line: string): string {
  for (const [pattern, say] of rewrites) {
    const match = pattern.exec(line)
    if (match) return say(...match.slice(1))
  }
  return line
}

/** The one-line message (without "(see --help)") of an oclif parse error, or undefined if `error` is none. */
export function describeParseError(error: ParseErrorShape, command?: ParsedCommand): string | undefined {
  const lines = error.message.split('\n').map((l) => l.trim()).filter((l) => l && !/^See more help/.test(l))
  const first = lines[0] ?? ''
  if (/^The following errors? occurred:$/.test(first)) return flagReasons(lines.slice(1)).join('; ')
  if (/^Missing \d+ required args?/.test(first) && error.args) {
    return error.args.map((arg) => {
      const about = arg.description?.replace(/\.$/, '')
      return `missing argument ${(arg.name ?? '').toUpperCase()}${about ? ` (${about})` : ''}`
    }).join('; ')
  }
  if (/^Nonexistent flags?: /.test(first) && error.flags && command) {
    const hints = error.flags.map((typed) => (typed.startsWith('--') ? closestName(typed.slice(2), command.flags) : undefined))
      .filter((name) => name !== undefined).map((name) => `--${name}`)
    return hints.length > 0 ? `${first}; did you mean ${hints.join(', ')}?` : first
  }
  // An argument's value not among its options: oclif names the value, not the argument.
  const argOption = /^Expected (.*) to be one of: (.+)$/.exec(first)
  if (argOption && !argOption[1]!.startsWith('--') && command) {
    const arg = command.args.find((a) => a.options?.join(', ') === argOption[2])
    if (arg) return `Expected ${arg.name.toUpperCase()}=${argOption[1]} to be one of: ${argOption[2]}`
  }
  return undefined
}
