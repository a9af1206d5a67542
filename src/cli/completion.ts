/**
 * Shell completion scripts (bash, zsh, fish) for the commands and flags oclif knows from the manifest: oclif's
 * autocomplete plugin's mechanism (scripts generated from `config.commands`), printed rather than kept in a
 * cache folder, with fish, which the plugin does not have. Pure: the command layer gives the list and prints.
 *
 * Command ids use oclif's `:` (`certs:gen`); the shell sees them split on the topic separator (`certs gen`).
 */

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

export interface CompletionFlag {
  name: string
  char?: string
  summary?: string
  /** Whether the flag takes a value (`--out DIR`) or is a switch (`--force`). */
  takesValue: boolean
  /** The values it accepts, when oclif knows them (`--key-type`). */
  options?: string[]
  /** Whether it may be given more than once (`--san`). */
  multiple?: boolean
}

export interface CompletionCommand {
  id: string
  summary?: string
  flags: CompletionFlag[]
  /** Whether it takes positional arguments (files: `whoami cert.pem`). */
  takesArgs: boolean
}

export interface CompletionTopic {
  name: string
  description?: string
}

export interface CompletionInput {
  bin: string
  commands: CompletionCommand[]
  topics: CompletionTopic[]
}

/** The first line, without the characters each shell's quoting below cannot carry. */
const brief = (text: string | undefined): string => (text ?? '').split('\n')[0]!.replaceAll(/[`$"\\']/g, '').trim()
/** A shell function name made of the bin: `valkey-tls` -> `_valkey_tls`. */
const functionName = (bin: string): string => `_${bin.replaceAll(/[^A-Za-z0-9]/g, '_')}`

/** Every word that may follow `prefix` (a command id or '' at the top): topic or command names, with their summary. */
function nextWords(input: CompletionInput, prefix: string): Array<{word: string; summary: string}> {
  const words = new Map<string, string>()
  for (const command of input.commands) {
    if (prefix && !command.id.startsWith(`${prefix}:`)) continue
    const rest = command.id.slice(prefix ? prefix.length + 1 : 0).split(':')
    const word = rest[0]!
    if (!word) continue
    const id = prefix ? `${prefix}:${word}` : word
    const topic = input.topics.find((t) => t.name === id)
    const summary = rest.length === 1 ? command.summary : topic?.description
    if (!words.has(word) || rest.length === 1) words.set(word, brief(summary))
  }
  return [...words].map(([word, summary]) => ({word, summary})).sort((a, b) => a.word.localeCompare(b.word))
}

/** Topic ids ('' for the top, `certs`, ...): the places where a next word is a command or topic name. */
function prefixes(input: CompletionInput): string[] {
  const all = new Set([''])
  for (const command of input.commands) {
    const parts = command.id.split(':')
    for (let i = 1; i < parts.length; i++) all.add(parts.slice(0, i).join(':'))
  }
  return [...all].sort()
}

/** `--out` and `-o`. */
const spellings = (flag: CompletionFlag): string[] => [`--${flag.name}`, ...(flag.char ? [`-${flag.char}`] : [])]

export function completionScript(shell: Shell, input: CompletionInput): string {
  switch (shell) {
    case 'bash': return bashScript(input)
    case 'zsh': return zshScript(input)
    case 'fish': return fishScript(input)
  }
}

/** Where to put the script so that the shell loads it (when it first completes this command, for bash and zsh). */
export function setupLines(shell: Shell, bin: string): string[] {
  switch (shell) {
    case 'bash': return [
      `${bin} autocomplete bash > ~/.local/share/bash-completion/completions/${bin}   (with the bash-completion package)`,
      `or, in ~/.bashrc: source <(${bin} autocomplete bash)`,
    ]
    case 'zsh': return [
      `${bin} autocomplete zsh > "\${fpath[1]}/_${bin}"   (a folder of $fpath; then: rm -f ~/.zcompdump; compinit)`,
      `or, in ~/.zshrc after compinit: source <(${bin} autocomplete zsh)`,
    ]
    case 'fish': return [`${bin} autocomplete fish > ~/.config/fish/completions/${bin}.fish`]
  }
}

const header = (shell: Shell, bin: string): string => [
  `# ${shell} completion for ${bin}, made by \`${bin} autocomplete ${shell}\` (run it again after an upgrade).`,
  '# Set up:',
  ...setupLines(shell, bin).map((line) => `#   ${line}`),
  '',
].join('\n')

/** A bash function that sets `words` from its first argument, through a `case`. */
const caseFunction = (name: string, about: string, cases: string[]): string =>
  `${name}() { # ${about}\n  case $1 in\n${cases.join('\n')}\n    *) words='' ;;\n  esac\n}`

/**
 * bash: the words typed so far that are not flags make the command id; the word under the cursor is then a
 * flag of that command, a value of the previous flag's options, a topic or command name, or a file.
 */
function bashScript(input: CompletionInput): string {
  const fn = functionName(input.bin)
  const cases = prefixes(input).map((p) => `    '${p}') words='${nextWords(input, p).map((w) => w.word).join(' ')}' ;;`)
  const flagCases = input.commands.map((c) => `    '${c.id}') words='${c.flags.flatMap(spellings).join(' ')}' ;;`)
  const optionCases = input.commands.flatMap((c) => c.flags.filter((f) => f.options?.length).flatMap((f) =>
    spellings(f).map((word) => `    '${c.id} ${word}') words='${f.options!.join(' ')}' ;;`)))
  const valueFlags = input.commands.map((c) => `    '${c.id}') words='${c.flags.filter((f) => f.takesValue).flatMap(spellings).join(' ')}' ;;`)
  return `${header('bash', input.bin)}
${fn}_id() { # the command id of words 1..COMP_CWORD-1 (topics joined by ":"), up to the first flag
  local id='' w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -* ]] && break
    ${fn}_next "$id"
    [[ " $words " == *" $w "* ]] || break
    id=\${id:+$id:}$w
  done
  printf '%s' "$id"
}
${caseFunction(`${fn}_next`, 'topic and command names after a topic', cases)}
${caseFunction(`${fn}_flags`, 'the flags of a command', flagCases)}
${caseFunction(`${fn}_value_flags`, 'the flags of a command that take a value', valueFlags)}
${caseFunction(`${fn}_options`, 'the values a flag accepts', optionCases)}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} words id
  id=$(${fn}_id)
  if ((COMP_CWORD > 1)) && [[ $prev == -* ]]; then
    ${fn}_value_flags "$id"
    if [[ " $words " == *" $prev "* ]]; then
      ${fn}_options "$id $prev"
      if [[ -n $words ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
      return
    fi
  fi
  if [[ $cur == -* ]]; then
    ${fn}_flags "$id"
    COMPREPLY=($(compgen -W "$words --help" -- "$cur"))
    return
  fi
  ${fn}_next "$id"
  if [[ -n $words ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o filenames -F ${fn} ${input.bin}
`
}

/** zsh: names with their summaries through _describe; the command's flags, values and files through _arguments. */
function zshScript(input: CompletionInput): string {
  const fn = functionName(input.bin)
  const q = (s: string) => s.replaceAll(':', '\\:').replaceAll('[', '\\[').replaceAll(']', '\\]')
  const topicCases = prefixes(input).map((p) => `    '${p}') names=(${nextWords(input, p).map((w) => `'${w.word}:${q(w.summary)}'`).join(' ')}) ;;`)
  const argumentCases = input.commands.map((c) => {
    const specs = c.flags.map((f) => {
      const value = f.takesValue ? (f.options?.length ? `:${f.name}:(${f.options.join(' ')})` : `:${f.name}:_files`) : ''
      const eq = f.takesValue ? '=' : ''
      const text = `[${q(brief(f.summary))}]${value}`
      // A repeatable flag (`*`) may come again; a flag with a short form excludes the other spelling.
      if (f.multiple) return f.char ? `'*'{-${f.char},--${f.name}${eq}}'${text}'` : `'*--${f.name}${eq}${text}'`
      return f.char ? `'(-${f.char} --${f.name})'{-${f.char},--${f.name}${eq}}'${text}'` : `'--${f.name}${eq}${text}'`
    })
    if (c.takesArgs) specs.push(`'*:file:_files'`)
    return `    '${c.id}') _arguments -s ${['\'--help[Show help]\'', ...specs].join(' ')} ;;`
  })
  return `#compdef ${input.bin}
${header('zsh', input.bin)}
${fn}() {
  local id='' w names
  local -a names
  # the command id: the words after the bin that name topics and commands
  while (( CURRENT > 2 )); do
    w=\${words[2]}
    [[ $w == -* ]] && break
    ${fn}_names "$id"
    (( \${names[(I)$w:*]} )) || break
    id=\${id:+$id:}$w
    shift words
    (( CURRENT-- ))
  done
  ${fn}_names "$id"
  if (( CURRENT == 2 )) && [[ \${words[CURRENT]} != -* ]] && (( \${#names} )); then
    _describe -t commands '${input.bin} command' names
    return
  fi
  case $id in
${argumentCases.join('\n')}
    *) _files ;;
  esac
}
${fn}_names() {
  case $1 in
${topicCases.join('\n')}
    *) names=() ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${input.bin}
fi
`
}

/** fish: one `complete` line per name and per flag, each under the condition that the command line names that command. */
function fishScript(input: CompletionInput): string {
  const fn = functionName(input.bin)
  const bin = input.bin
  const q = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll('\'', '\\\'')}'`
  const lines: string[] = []
  for (const p of prefixes(input)) {
    for (const w of nextWords(input, p)) lines.push(`complete -c ${bin} -n ${q(`test (${fn}_id) = '${p}'`)} -f -a ${q(w.word)} -d ${q(w.summary)}`)
  }
  for (const c of input.commands) {
    const when = `-n ${q(`test (${fn}_id) = '${c.id}'`)}`
    for (const f of c.flags) {
      const value = f.takesValue ? (f.options?.length ? ` -x -a ${q(f.options.join(' '))}` : ' -r -F') : ''
      lines.push(`complete -c ${bin} ${when} -l ${f.name}${f.char ? ` -s ${f.char}` : ''}${value} -d ${q(brief(f.summary))}`)
    }
    if (c.takesArgs) lines.push(`complete -c ${bin} ${when} -F`)
  }
  const names = prefixes(input).map((p) => `    case '${p}'\n      set names ${nextWords(input, p).map((w) => w.word).join(' ')}`)
  return `${header('fish', bin)}
function ${fn}_id --description 'the command id typed so far'
  set -l id ''
  for w in (commandline -opc)[2..-1]
    string match -q -- '-*' $w; and break
    set -l names
    switch $id
${names.join('\n')}
    end
    contains -- $w $names; or break
    test -n "$id"; and set id "$id:$w"; or set id $w
  end
  echo $id
end
complete -c ${bin} -f
complete -c ${bin} -l help -d 'Show help'
${lines.join('\n')}
`
}
